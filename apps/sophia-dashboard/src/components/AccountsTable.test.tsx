import { render, screen, within } from '@testing-library/react';
import { userEvent } from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { Account } from '../data/types.ts';
import { AccountsTable } from './AccountsTable.tsx';

const account = (name: string, over: Partial<Account>): Account => ({
  id: name.toLowerCase(),
  name,
  plan: 'Team',
  region: 'eu-west-1',
  seats: 10,
  monthlyRevenue: 290,
  health: 'healthy',
  conversations30d: 1000,
  ...over,
});

const ACCOUNTS: Account[] = [
  account('Aurora', { plan: 'Enterprise', seats: 400, monthlyRevenue: 19600, region: 'us-east-1' }),
  account('Beacon', { plan: 'Free', seats: 3, monthlyRevenue: 0, health: 'churning' }),
  account('Cobalt', { plan: 'Team', seats: 25, monthlyRevenue: 725, health: 'at risk' }),
  account('Delta', { plan: 'Enterprise', seats: 90, monthlyRevenue: 4410, region: 'ap-southeast-1' }),
];

const rowNames = () =>
  screen
    .getAllByRole('row')
    .slice(1) // the header row
    .map((row) => within(row).queryByRole('rowheader')?.textContent ?? row.textContent);

describe('AccountsTable', () => {
  it('lists every account, largest revenue first by default', () => {
    render(<AccountsTable accounts={ACCOUNTS} />);
    expect(rowNames()).toEqual(['Aurora', 'Delta', 'Cobalt', 'Beacon']);
    expect(screen.getByRole('columnheader', { name: /MRR/ }).getAttribute('aria-sort')).toBe('descending');
    expect(screen.getByText('Showing 4 of 4 accounts')).toBeTruthy();
  });

  it('sorts by a clicked column and flips the direction on a second click', async () => {
    const user = userEvent.setup();
    render(<AccountsTable accounts={ACCOUNTS} />);
    await user.click(screen.getByRole('button', { name: /Account/ }));
    expect(rowNames()).toEqual(['Aurora', 'Beacon', 'Cobalt', 'Delta']);
    expect(screen.getByRole('columnheader', { name: /Account/ }).getAttribute('aria-sort')).toBe('ascending');
    expect(screen.getByRole('columnheader', { name: /MRR/ }).getAttribute('aria-sort')).toBe('none');

    await user.click(screen.getByRole('button', { name: /Account/ }));
    expect(rowNames()).toEqual(['Delta', 'Cobalt', 'Beacon', 'Aurora']);

    await user.click(screen.getByRole('button', { name: /Seats/ }));
    expect(rowNames()).toEqual(['Aurora', 'Delta', 'Cobalt', 'Beacon']);
  });

  it('sorts plan and health by meaning, not alphabetically', async () => {
    const user = userEvent.setup();
    render(<AccountsTable accounts={ACCOUNTS} />);
    await user.click(screen.getByRole('button', { name: /Health/ }));
    // healthy < at risk < churning; ties fall back to the name
    expect(rowNames()).toEqual(['Aurora', 'Delta', 'Cobalt', 'Beacon']);
    await user.click(screen.getByRole('button', { name: /Plan/ }));
    expect(rowNames()).toEqual(['Beacon', 'Cobalt', 'Aurora', 'Delta']);
  });

  it('filters by name or region text, plan and health together', async () => {
    const user = userEvent.setup();
    render(<AccountsTable accounts={ACCOUNTS} />);
    await user.type(screen.getByRole('searchbox', { name: 'Filter accounts' }), 'COB');
    expect(rowNames()).toEqual(['Cobalt']);

    await user.clear(screen.getByRole('searchbox', { name: 'Filter accounts' }));
    await user.type(screen.getByRole('searchbox', { name: 'Filter accounts' }), 'us-east');
    expect(rowNames()).toEqual(['Aurora']);

    await user.clear(screen.getByRole('searchbox', { name: 'Filter accounts' }));
    await user.selectOptions(screen.getByRole('combobox', { name: 'Plan' }), 'Enterprise');
    expect(rowNames()).toEqual(['Aurora', 'Delta']);
    expect(screen.getByText('Showing 2 of 4 accounts')).toBeTruthy();

    await user.selectOptions(screen.getByRole('combobox', { name: 'Health' }), 'churning');
    expect(screen.getByText('No account matches these filters.')).toBeTruthy();
    expect(screen.getByText('Showing 0 of 4 accounts')).toBeTruthy();
  });
});
