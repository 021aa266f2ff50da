import { render, screen, within } from '@testing-library/react';
import { userEvent } from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from './App.tsx';
import { buildCommit } from './build-info.ts';

// The dashboard test project compiles with `define: { __SOPHIA_COMMIT__: … }` exactly as the real
// build does (see vitest.config.ts), so this is the injected value, not a literal in the test.
const INJECTED_COMMIT = '0123456789abcdef0123456789abcdef01234567';

describe('App', () => {
  it('shows the commit injected at build time in the footer', () => {
    expect(buildCommit).toBe(INJECTED_COMMIT);
    render(<App commit={buildCommit} />);
    const commit = within(screen.getByRole('contentinfo')).getByTestId('build-commit');
    expect(commit.textContent).toBe('0123456');
    expect(commit.getAttribute('title')).toBe(INJECTED_COMMIT);
  });

  it('shows a build label that is not a commit as it is', () => {
    render(<App commit="local-build" />);
    expect(screen.getByTestId('build-commit').textContent).toBe('local-build');
  });

  it('loads the overview page lazily with KPIs and the chart', async () => {
    render(<App commit="c" />);
    expect(await screen.findByTestId('kpi-conversations')).toBeTruthy();
    expect(screen.getAllByRole('article')).toHaveLength(4);
    expect(screen.getByRole('img', { name: /Conversations per day/ })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Overview' }).getAttribute('aria-current')).toBe('page');
  });

  it('navigates between pages without a full load and follows the back button', async () => {
    const user = userEvent.setup();
    render(<App commit="c" />);
    await user.click(screen.getByRole('link', { name: 'Accounts' }));
    expect(window.location.pathname).toBe('/accounts');
    expect(await screen.findByRole('table')).toBeTruthy();
    expect(screen.getByText(/Showing 30 of 30 accounts/)).toBeTruthy();

    await user.click(screen.getByRole('link', { name: 'Quality' }));
    expect(await screen.findByRole('img', { name: /Average response time/ })).toBeTruthy();

    window.history.back();
    expect(await screen.findByRole('table')).toBeTruthy();
  });

  it('answers an unknown path with a not-found page', () => {
    window.history.replaceState(null, '', '/nope');
    render(<App commit="c" />);
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Page not found');
  });
});
