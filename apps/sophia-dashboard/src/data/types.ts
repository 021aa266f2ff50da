export type DailyMetric = {
  /** ISO date (UTC), e.g. 2026-07-01. */
  date: string;
  conversations: number;
  resolved: number;
  avgResponseMs: number;
  /** Customer satisfaction, 1–5. */
  csat: number;
};

export type Plan = 'Free' | 'Team' | 'Enterprise';
export type Health = 'healthy' | 'at risk' | 'churning';

export type Account = {
  id: string;
  name: string;
  plan: Plan;
  region: string;
  seats: number;
  monthlyRevenue: number;
  health: Health;
  conversations30d: number;
};
