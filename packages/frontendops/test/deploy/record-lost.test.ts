/**
 * The words of an entry after a switch that landed and could not be appended (recordLost): a lock
 * lost while asleep, the lock's next holder having appended meanwhile (lease-paused.test.ts holds
 * that end to end), or, where appends take a lock of their own (a store without conditional
 * writes), that lock held by another writer past the wait: nobody took the change over then.
 */
import { describe, expect, it } from 'vitest';
import { lockedError, lostLockError } from '../../src/adapters/lock-holder.ts';
import { recordLost } from '../../src/deploy/html-guard.ts';

describe('recordLost', () => {
  it('a lost lock: the next holder wrote meanwhile, and nothing more was changed is not said', () => {
    const error = recordLost('d1 went live', lostLockError('Deploy', 'another holder took it over')) as Error;
    expect(error.message).toMatch(
      /lost its lock.*Its switch had landed \(d1 went live\).*next holder wrote/s,
    );
    expect(error.message).not.toMatch(/Nothing more was changed/);
  });

  it('an append that waited on the audit log’s lock: it says it waited, not that a next holder wrote', () => {
    const busy = lockedError(
      'Writing the audit log',
      { owner: 'audit:42', acquiredAt: '2026-01-01T00:00:00Z' },
      30_000,
    );
    const error = recordLost('d1 went live', busy, 'its release going live, not its deployment') as Error & {
      code?: string;
    };
    // Before, it said "the lock's next holder wrote to the audit log meanwhile, finishing or replacing it".
    expect(error.code).toBe('LOCKED');
    expect(error.message).not.toMatch(/next holder/);
    expect(error.message).not.toMatch(/One deploy per environment runs at a time/);
    expect(error.message).toMatch(
      /Writing the audit log is locked by audit:42.*Its switch had landed \(d1 went live\).*waited.*this run recorded its release going live, not its deployment/s,
    );
  });
});
