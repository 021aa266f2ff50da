import type { DailyMetric } from './data/types.ts';

export type Kpi = {
  id: string;
  label: string;
  value: number;
  /** Relative change against the previous window of the same length (0.1 = +10 %). */
  change: number;
  /** Whether a rising value is good news (response time is not). */
  higherIsBetter: boolean;
  unit: 'count' | 'ms' | 'percent' | 'score';
};

/** KPIs over the last `days` days, each compared with the `days` days before them. */
export function computeKpis(metrics: readonly DailyMetric[], days = 30): Kpi[] {
  const current = metrics.slice(-days);
  const previous = metrics.slice(-2 * days, -days);
  const make = (
    id: string,
    label: string,
    unit: Kpi['unit'],
    higherIsBetter: boolean,
    measure: (window: readonly DailyMetric[]) => number,
  ): Kpi => {
    const value = measure(current);
    const before = measure(previous);
    return { id, label, unit, higherIsBetter, value, change: before === 0 ? 0 : (value - before) / before };
  };
  return [
    make('conversations', 'Conversations', 'count', true, (w) => sum(w, (d) => d.conversations)),
    make('resolution', 'Resolution rate', 'percent', true, (w) =>
      ratio(
        sum(w, (d) => d.resolved),
        sum(w, (d) => d.conversations),
      ),
    ),
    make('response', 'Avg response time', 'ms', false, (w) => mean(w, (d) => d.avgResponseMs)),
    make('csat', 'Satisfaction (CSAT)', 'score', true, (w) => mean(w, (d) => d.csat)),
  ];
}

const sum = (window: readonly DailyMetric[], pick: (d: DailyMetric) => number) =>
  window.reduce((total, d) => total + pick(d), 0);
const mean = (window: readonly DailyMetric[], pick: (d: DailyMetric) => number) =>
  window.length === 0 ? 0 : sum(window, pick) / window.length;
const ratio = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);
