import { formatChange, formatInteger, formatMs } from '../format.ts';
import type { Kpi } from '../kpis.ts';

export function KpiCards(props: { kpis: readonly Kpi[]; windowDays: number }) {
  return (
    <section className="kpis" aria-label="Key figures">
      {props.kpis.map((kpi) => {
        const good = kpi.change === 0 ? 'flat' : kpi.change > 0 === kpi.higherIsBetter ? 'good' : 'bad';
        return (
          <article key={kpi.id} className="kpi card" aria-labelledby={`kpi-${kpi.id}`}>
            <h2 id={`kpi-${kpi.id}`} className="kpi-label">
              {kpi.label}
            </h2>
            <p className="kpi-value" data-testid={`kpi-${kpi.id}`}>
              {formatKpiValue(kpi)}
            </p>
            <p className={`kpi-change ${good}`}>
              {formatChange(kpi.change)} <span className="muted">vs previous {props.windowDays} days</span>
            </p>
          </article>
        );
      })}
    </section>
  );
}

export function formatKpiValue(kpi: Kpi): string {
  switch (kpi.unit) {
    case 'count':
      return formatInteger(kpi.value);
    case 'ms':
      return formatMs(kpi.value);
    case 'percent':
      return `${(kpi.value * 100).toFixed(1)} %`;
    case 'score':
      return `${kpi.value.toFixed(2)} / 5`;
  }
}
