/**
 * get_status's contract (read/views.ts statusView) as a client parses an answer: the agent's gate
 * fills what a server left out with the schema's defaults. `recorded` is a claim about the audit
 * log: an answer without it (a server from before status held the pointer to the log) checked
 * nothing, and must not read as "as-recorded".
 */
import { describe, expect, it } from 'vitest';
import { statusView } from '../../src/read/views.ts';

describe('statusView', () => {
  it('an answer that does not say how the pointer stands against the log is not as-recorded', () => {
    const older = {
      stack: 'production',
      protected: false,
      siteUrl: null,
      live: null,
      releases: [],
      pending: null,
    };
    const parsed = statusView.parse(older);
    expect(parsed.recorded.state).not.toBe('as-recorded');
  });
});
