import { useMemo, useState } from 'react';
import type { Account, Health, Plan } from '../data/types.ts';
import { formatCurrency, formatInteger } from '../format.ts';
import { type AccountFilter, type Sort, type SortKey, selectAccounts } from '../select-accounts.ts';

const COLUMNS: readonly { key: SortKey; label: string; numeric: boolean }[] = [
  { key: 'name', label: 'Account', numeric: false },
  { key: 'plan', label: 'Plan', numeric: false },
  { key: 'region', label: 'Region', numeric: false },
  { key: 'seats', label: 'Seats', numeric: true },
  { key: 'conversations30d', label: 'Conversations (30 d)', numeric: true },
  { key: 'monthlyRevenue', label: 'MRR', numeric: true },
  { key: 'health', label: 'Health', numeric: false },
];

export function AccountsTable(props: { accounts: readonly Account[] }) {
  const [filter, setFilter] = useState<AccountFilter>({ query: '', plan: 'all', health: 'all' });
  const [sort, setSort] = useState<Sort>({ key: 'monthlyRevenue', direction: 'descending' });
  const rows = useMemo(() => selectAccounts(props.accounts, filter, sort), [props.accounts, filter, sort]);

  const toggleSort = (key: SortKey, numeric: boolean) =>
    setSort((current) =>
      current.key === key
        ? { key, direction: current.direction === 'ascending' ? 'descending' : 'ascending' }
        : // Numbers read best largest-first, names A–Z.
          { key, direction: numeric ? 'descending' : 'ascending' },
    );

  return (
    <section className="card table-card" aria-labelledby="accounts-title">
      <header className="table-toolbar">
        <h2 id="accounts-title">Customer accounts</h2>
        <input
          type="search"
          placeholder="Filter by name or region"
          aria-label="Filter accounts"
          value={filter.query}
          onChange={(e) => setFilter({ ...filter, query: e.target.value })}
        />
        <select
          aria-label="Plan"
          value={filter.plan}
          onChange={(e) => setFilter({ ...filter, plan: e.target.value as Plan | 'all' })}
        >
          <option value="all">All plans</option>
          <option value="Free">Free</option>
          <option value="Team">Team</option>
          <option value="Enterprise">Enterprise</option>
        </select>
        <select
          aria-label="Health"
          value={filter.health}
          onChange={(e) => setFilter({ ...filter, health: e.target.value as Health | 'all' })}
        >
          <option value="all">Any health</option>
          <option value="healthy">Healthy</option>
          <option value="at risk">At risk</option>
          <option value="churning">Churning</option>
        </select>
        <output className="muted" aria-live="polite">
          Showing {rows.length} of {props.accounts.length} accounts
        </output>
      </header>
      <div className="table-scroll">
        <table>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th
                  key={c.key}
                  scope="col"
                  className={c.numeric ? 'numeric' : undefined}
                  aria-sort={sort.key === c.key ? sort.direction : 'none'}
                >
                  <button type="button" onClick={() => toggleSort(c.key, c.numeric)}>
                    {c.label}
                    <span aria-hidden="true" className="sort-mark">
                      {sort.key !== c.key ? '↕' : sort.direction === 'ascending' ? '↑' : '↓'}
                    </span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((a) => (
              <tr key={a.id}>
                <th scope="row">{a.name}</th>
                <td>{a.plan}</td>
                <td>{a.region}</td>
                <td className="numeric">{formatInteger(a.seats)}</td>
                <td className="numeric">{formatInteger(a.conversations30d)}</td>
                <td className="numeric">{formatCurrency(a.monthlyRevenue)}</td>
                <td>
                  <span className={`badge ${a.health.replace(' ', '-')}`}>{a.health}</span>
                </td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={COLUMNS.length} className="empty">
                  No account matches these filters.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
