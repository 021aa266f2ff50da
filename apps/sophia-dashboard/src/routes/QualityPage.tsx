import { TimeSeriesChart } from '../components/TimeSeriesChart.tsx';
import { dailyMetrics } from '../data/daily-metrics.ts';
import { formatMs } from '../format.ts';

export default function QualityPage() {
  return (
    <>
      <TimeSeriesChart
        title="Average response time"
        rows={dailyMetrics}
        date={(d) => d.date}
        series={[{ label: 'Avg response time', color: '#f59e0b', value: (d) => d.avgResponseMs }]}
        formatValue={formatMs}
      />
      <TimeSeriesChart
        title="Customer satisfaction (1–5)"
        rows={dailyMetrics}
        date={(d) => d.date}
        series={[{ label: 'CSAT', color: '#ec4899', value: (d) => d.csat }]}
        formatValue={(v) => v.toFixed(2)}
      />
    </>
  );
}
