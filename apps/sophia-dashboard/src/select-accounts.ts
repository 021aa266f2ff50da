import type { Account, Health, Plan } from './data/types.ts';

export type SortKey = 'name' | 'plan' | 'region' | 'seats' | 'monthlyRevenue' | 'conversations30d' | 'health';
export type Sort = { key: SortKey; direction: 'ascending' | 'descending' };
export type AccountFilter = { query: string; plan: Plan | 'all'; health: Health | 'all' };

// Ordinal ranks, so sorting by plan or health follows meaning rather than the alphabet.
const PLAN_RANK: Record<Plan, number> = { Free: 0, Team: 1, Enterprise: 2 };
const HEALTH_RANK: Record<Health, number> = { healthy: 0, 'at risk': 1, churning: 2 };

/** The rows the table shows: filtered (name or region contains the query), then sorted stably. */
export function selectAccounts(accounts: readonly Account[], filter: AccountFilter, sort: Sort): Account[] {
  const query = filter.query.trim().toLowerCase();
  const rows = accounts.filter(
    (a) =>
      (filter.plan === 'all' || a.plan === filter.plan) &&
      (filter.health === 'all' || a.health === filter.health) &&
      (query === '' || a.name.toLowerCase().includes(query) || a.region.toLowerCase().includes(query)),
  );
  const sign = sort.direction === 'ascending' ? 1 : -1;
  return rows.sort((a, b) => sign * compareBy(sort.key, a, b) || a.name.localeCompare(b.name));
}

function compareBy(key: SortKey, a: Account, b: Account): number {
  switch (key) {
    case 'name':
    case 'region':
      return a[key].localeCompare(b[key]);
    case 'plan':
      return PLAN_RANK[a.plan] - PLAN_RANK[b.plan];
    case 'health':
      return HEALTH_RANK[a.health] - HEALTH_RANK[b.health];
    default:
      return a[key] - b[key];
  }
}
