import { describe, expect, it } from 'vitest';
import type { DailyMetric } from './data/types.ts';
import { computeKpis } from './kpis.ts';

const day = (conversations: number, resolved: number, avgResponseMs: number, csat: number): DailyMetric => ({
  date: '2026-07-01',
  conversations,
  resolved,
  avgResponseMs,
  csat,
});

describe('computeKpis', () => {
  it('compares the last window with the one before it', () => {
    const metrics = [
      day(100, 50, 1000, 4),
      day(100, 50, 1000, 4),
      day(150, 120, 800, 4.5),
      day(150, 120, 600, 4.5),
    ];
    const kpis = Object.fromEntries(computeKpis(metrics, 2).map((k) => [k.id, k]));
    expect(kpis.conversations).toMatchObject({ value: 300, change: 0.5, higherIsBetter: true });
    expect(kpis.resolution?.value).toBeCloseTo(0.8);
    expect(kpis.resolution?.change).toBeCloseTo(0.6); // 0.8 vs 0.5
    expect(kpis.response).toMatchObject({ value: 700, change: -0.3, higherIsBetter: false });
    expect(kpis.csat?.value).toBeCloseTo(4.5);
    expect(kpis.csat?.change).toBeCloseTo(0.125);
  });

  it('reports no change when there is no earlier window', () => {
    const kpis = computeKpis([day(10, 5, 500, 4)], 30);
    expect(kpis.map((k) => k.change)).toEqual([0, 0, 0, 0]);
    expect(kpis[0]?.value).toBe(10);
  });
});
