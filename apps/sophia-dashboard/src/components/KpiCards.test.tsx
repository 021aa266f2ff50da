import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Kpi } from '../kpis.ts';
import { KpiCards } from './KpiCards.tsx';

const KPIS: Kpi[] = [
  {
    id: 'conversations',
    label: 'Conversations',
    unit: 'count',
    higherIsBetter: true,
    value: 61234,
    change: 0.125,
  },
  {
    id: 'response',
    label: 'Avg response time',
    unit: 'ms',
    higherIsBetter: false,
    value: 812.4,
    change: 0.05,
  },
  {
    id: 'resolution',
    label: 'Resolution rate',
    unit: 'percent',
    higherIsBetter: true,
    value: 0.8345,
    change: 0,
  },
  {
    id: 'csat',
    label: 'Satisfaction (CSAT)',
    unit: 'score',
    higherIsBetter: true,
    value: 4.456,
    change: -0.02,
  },
];

describe('KpiCards', () => {
  it('renders each KPI with its formatted value and change', () => {
    render(<KpiCards kpis={KPIS} windowDays={30} />);
    expect(screen.getByRole('heading', { name: 'Conversations' })).toBeTruthy();
    expect(screen.getByTestId('kpi-conversations').textContent).toBe('61,234');
    expect(screen.getByTestId('kpi-response').textContent).toBe('812 ms');
    expect(screen.getByTestId('kpi-resolution').textContent).toBe('83.5 %');
    expect(screen.getByTestId('kpi-csat').textContent).toBe('4.46 / 5');
    expect(screen.getByText('+12.5%').className).toContain('good');
    // A slower response is bad news even though the number rose.
    expect(screen.getByText('+5%').className).toContain('bad');
    expect(screen.getByText('-2%').className).toContain('bad');
    expect(screen.getAllByText('vs previous 30 days')).toHaveLength(4);
  });
});
