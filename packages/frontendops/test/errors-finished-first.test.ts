/**
 * A refusal or failure that comes after its run finished a stopped change (refusedAfterFinishing)
 * says that finish, and its words stay true: something was changed. Before, a refusal said
 * "nothing was changed", then the finish; a backend failure's generic words, as a client is told
 * them (describeForClient), said "Nothing more was changed by this call", then the finish, and named
 * the backend's error as "(FrontendOpsError)": the refusal said again is the cause it read.
 */
import { expect, it } from 'vitest';
import { refusedAfterFinishing } from '../src/deploy/atomic-apply.ts';
import { describeFinished } from '../src/engine/describe.ts';
import { describeForClient, FrontendOpsError } from '../src/errors.ts';
import { pinnedRefusal } from '../src/read/pin-words.ts';
import { describePin } from '../src/state/pin.ts';

const finished = describeFinished({ deployId: 'a1a1a1a-0123456789', kind: 'rollback' });
/** Runs `f` with the server's log (stderr, where describeForClient writes backend detail) held back. */
const quietly = <T>(f: () => T): T => {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return f();
  } finally {
    process.stderr.write = write;
  }
};

it('a refusal after the finish says nothing more was changed, then what was', () => {
  const refusal = new FrontendOpsError(
    'TAMPERED',
    'The record was not written by FrontendOps. Nothing was changed.',
  );
  expect((refusedAfterFinishing(refusal, finished) as Error).message).toBe(
    `The record was not written by FrontendOps. Nothing more was changed. (This run ${finished}.)`,
  );
});

it('a backend failure after the finish, as a client is told it: the finish, then that nothing more was changed', () => {
  const failed = new FrontendOpsError('UPSTREAM', 'NoSuchKey at s3://bucket/key', {
    cause: Object.assign(new Error('gone'), { name: 'NoSuchKey' }),
  });
  const told = quietly(() => describeForClient(refusedAfterFinishing(failed, finished), '[test]'));
  expect(told).toEqual({
    code: 'UPSTREAM',
    message: `The storage, CDN or git backend failed (NoSuchKey); the details are in the server's log. This call first ${finished}. Nothing more was changed by it; retrying later may help.`,
  });
  expect(told.message).not.toContain('s3://');
});

it("rewrites only the refusal's own sentence, not the words quoted in it (a pin's reason)", () => {
  const pinnedTo = `This stack is pinned to ${describePin({
    stack: 'dashboard-hosting-prod',
    app: 'sophia-dashboard',
    commit: 'b2b2b2b2b2b2b2b2',
    deployId: 'b2b2b2b-0123456789',
    by: 'ada',
    reason: 'the hotfix broke login, nothing was changed since; nothing was written to the db',
    at: '2026-12-01T10:00:00.000Z',
    cause: 'pin',
  })}`;
  const refusal = new FrontendOpsError('PINNED', pinnedRefusal(pinnedTo));
  const said = (refusedAfterFinishing(refusal, finished) as Error).message;
  // The reason as the person wrote it; the run's own words say something was changed before.
  expect(said).toContain(
    '"the hotfix broke login, nothing was changed since; nothing was written to the db"',
  );
  expect(said).toContain(', so nothing more was changed. ');
  expect(said).toBe(
    `${pinnedRefusal(pinnedTo).replace('so nothing was', 'so nothing more was')} (This run ${finished}.)`,
  );
});
