import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { niceMax, TimeSeriesChart } from './TimeSeriesChart.tsx';

type Row = { date: string; a: number; b: number };
const ROWS: Row[] = [
  { date: '2026-07-30', a: 10, b: 4 },
  { date: '2026-07-31', a: 30, b: 8 },
  { date: '2026-08-01', a: 20, b: 16 },
];

const renderChart = () =>
  render(
    <TimeSeriesChart
      title="Test chart"
      rows={ROWS}
      date={(r) => r.date}
      area
      series={[
        { label: 'A', color: '#111111', value: (r) => r.a },
        { label: 'B', color: '#222222', value: (r) => r.b },
      ]}
      formatValue={(v) => `${v}u`}
    />,
  );

describe('TimeSeriesChart', () => {
  it('draws one line per series, scaled to a rounded maximum, with month labels', () => {
    const { container } = renderChart();
    expect(screen.getByRole('img', { name: /Test chart/ })).toBeTruthy();
    const lines = container.querySelectorAll('path.line');
    expect([...lines].map((l) => l.getAttribute('data-series'))).toEqual(['A', 'B']);
    // Axis 0..50 (niceMax of 30) over a 216-unit-high plot starting at y = 16, x from 72 to 744.
    expect(lines[0]?.getAttribute('d')).toBe('M72.0,188.8 L408.0,102.4 L744.0,145.6');
    expect(container.querySelector('path.area')).not.toBeNull();
    expect(screen.getByText('50u')).toBeTruthy(); // top tick = niceMax(30)
    expect(screen.getByText('12.5u')).toBeTruthy();
    expect(screen.getByText('Aug')).toBeTruthy(); // only 08-01 starts a month
    expect(screen.queryByText('Jul')).toBeNull();
  });

  it('reads out the values of the hovered day', () => {
    renderChart();
    const svg = screen.getByRole('img', { name: /Test chart/ });
    svg.getBoundingClientRect = () => ({ left: 0, top: 0, width: 760, height: 260 }) as DOMRect;
    fireEvent.mouseMove(svg, { clientX: 408, clientY: 100 });
    expect(screen.getByText('2026-07-31 · A: 30u · B: 8u')).toBeTruthy();
    fireEvent.mouseLeave(svg);
    expect(screen.getByText(/3 days/)).toBeTruthy();
  });

  it('rounds axis maxima to readable numbers', () => {
    expect(niceMax(0)).toBe(0);
    expect(niceMax(30)).toBe(50);
    expect(niceMax(2361)).toBe(2500);
    expect(niceMax(1000)).toBe(1000);
    expect(niceMax(4.69)).toBe(5);
  });
});
