/**
 * An audit append whose entry landed but whose answer was lost: the SDK sends the PutObject again,
 * and S3 refuses that retry (412: the entry exists, If-None-Match: *). The appender then finds "its"
 * slot taken. Before, it finished that entry as someone else's and appended its event once more, as
 * the next entry: one deploy, approval or pin recorded twice (and an approval "used twice" is what
 * `audit verify` reports as a replay). Now an entry that is the one this append wrote is its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lostConditionalWrite } from '../../src/adapters/s3.ts';
import type { Locker, ObjectStore } from '../../src/ports.ts';
import { appendAudit, readAudit, verifyAudit } from '../../src/state/audit.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const BUCKET = 'state';
let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3([BUCKET], { conditionalWrites: true });
});
afterAll(async () => {
  await s3?.stop();
});

/** Appends take no lock where the endpoint honours conditional writes. */
const noLocker: Locker = {
  acquire: () => Promise.reject(new Error('no lock is taken where writes are conditional')),
} as unknown as Locker;

/** The store as a process sees it whose next create of an entry lands but comes back refused. */
function answerLost(store: ObjectStore, prefix: string): ObjectStore {
  let lost = false;
  return {
    ...store,
    async put(key, body, meta, condition) {
      const answer = await store.put(key, body, meta, condition);
      if (!lost && key.startsWith(`${prefix}audit/0`)) {
        lost = true;
        throw lostConditionalWrite(key);
      }
      return answer;
    },
  };
}

describe('an audit append whose answer was lost', () => {
  it.each([
    ['with the head known (appended before in this process)', 'known/'],
    ['from a fresh read of the head', 'fresh/'],
  ])('%s: recorded once', async (_, name) => {
    const prefix = `.frontendops/state/${name}`;
    const store = s3.store(BUCKET);
    const first = name === 'known/' ? store : s3.store(BUCKET);
    await appendAudit(first, prefix, noLocker, { type: 'deploy', data: { n: 1 } });
    const lossy = answerLost(name === 'known/' ? first : s3.store(BUCKET), prefix);
    const landed = await appendAudit(lossy, prefix, noLocker, {
      type: 'approval-used',
      // As the gate records a client's answer (verify would call a made-up shape tampered).
      data: { deployId: '1234567-0123456789', action: 'deploy', by: 'ada', via: 'elicitation' },
    });
    const entries = await readAudit(store, prefix);
    expect(entries.map((e) => [e.seq, e.type])).toEqual([
      [1, 'deploy'],
      [2, 'approval-used'],
    ]);
    expect(landed.hash).toBe(entries[1]?.hash);
    expect((await verifyAudit(store, prefix)).problems).toEqual([]);
  });
});
