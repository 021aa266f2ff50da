import { useState } from 'react';
import { KpiCards } from '../components/KpiCards.tsx';
import { TimeSeriesChart } from '../components/TimeSeriesChart.tsx';
import { dailyMetrics } from '../data/daily-metrics.ts';
import { formatInteger } from '../format.ts';
import { computeKpis } from '../kpis.ts';

const RANGES = [30, 60, 90] as const;

export default function OverviewPage() {
  const [range, setRange] = useState<(typeof RANGES)[number]>(90);
  return (
    <>
      <KpiCards kpis={computeKpis(dailyMetrics, 30)} windowDays={30} />
      <fieldset className="range">
        <legend className="visually-hidden">Chart range</legend>
        {RANGES.map((days) => (
          <button key={days} type="button" aria-pressed={range === days} onClick={() => setRange(days)}>
            {days} days
          </button>
        ))}
      </fieldset>
      <TimeSeriesChart
        title="Conversations per day"
        rows={dailyMetrics.slice(-range)}
        date={(d) => d.date}
        area
        series={[
          { label: 'Conversations', color: '#6366f1', value: (d) => d.conversations },
          { label: 'Resolved by Sophia', color: '#10b981', value: (d) => d.resolved },
        ]}
        formatValue={formatInteger}
      />
    </>
  );
}
