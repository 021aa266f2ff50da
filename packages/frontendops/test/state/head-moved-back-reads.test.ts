/**
 * What holding the state to the chain costs where its head was moved back k entries (the entries past
 * it stay: they are create-only): each `status`, `history` and lock check walks the entries past the
 * head (bindingsPastHead) until the next change moves the head forward. Before, the walk read one
 * entry after another, a round trip each: k + 1 round trips, one after another. Entries are named by
 * their number, so one listing of the keys past the first says which follow, and those are read
 * together: at most three round trips, with as many requests as before. The walk still ends at the
 * first entry that is not there or does not follow from the one before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../src/ports.ts';
import {
  type AuditEntry,
  appendAudit,
  type RecordedState,
  recordedStateAfterStopped,
  recordedStateRead,
  stateDigest,
} from '../../src/state/audit.ts';
import { auditEntryKey } from '../support/audit-forgery.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

const BUCKET = 'state';
const PREFIX = '.frontendops/state/moved-back/';
const ENTRIES = 11;
const HEAD_KEY = `${PREFIX}audit/head.json`;

let s3: TestS3;
let store: ObjectStore;
/** The head object as stored after each entry (heads[n]: after entry n), and the entries. */
const heads: Buffer[] = [];
const entries: AuditEntry[] = [];

beforeAll(async () => {
  s3 = await startTestS3([BUCKET], { conditionalWrites: true });
  store = s3.store(BUCKET);
  // Appends take no lock where the endpoint honours conditional writes.
  const locker = {} as Parameters<typeof appendAudit>[2];
  for (let n = 1; n <= ENTRIES; n++) {
    // Each entry binds the live pointer anew, so the bindings tell how far a walk went.
    entries.push(
      await appendAudit(store, PREFIX, locker, {
        type: 'deploy',
        data: { n },
        objects: { 'live.json': stateDigest({ n }) },
      }),
    );
    heads[n] = (await store.get(HEAD_KEY))?.body as Buffer;
  }
});
afterAll(async () => {
  await s3?.stop();
});

/**
 * The store, counting the requests sent, the round trips (a round starts when none is in flight) and
 * the listings among the requests.
 */
function counting(inner: ObjectStore) {
  const seen = { requests: 0, rounds: 0, lists: 0 };
  let inFlight = 0;
  const count = async <T>(send: () => Promise<T>): Promise<T> => {
    if (inFlight === 0) seen.rounds += 1;
    inFlight += 1;
    seen.requests += 1;
    try {
      return await send();
    } finally {
      inFlight -= 1;
    }
  };
  const counted: ObjectStore = {
    ...inner,
    get: (...args) => count(() => inner.get(...args)),
    list: (...args) => {
      seen.lists += 1;
      return count(() => inner.list(...args));
    },
  };
  return { counted, seen };
}

/** The head moved back `k` entries, as someone who may write the head does. */
const moveBack = (k: number) =>
  store.put(HEAD_KEY, heads[ENTRIES - k] as Buffer, { contentType: 'application/json' });
const headBack = (k: number) => {
  const entry = entries[ENTRIES - k - 1] as AuditEntry;
  return { seq: entry.seq, hash: entry.hash };
};
/** How far a walk went: the entry it reached, and the live pointer as that entry binds it. */
const reached = (recorded: RecordedState) => ({ seq: recorded.seq, live: recorded.state['live.json'] });
const entry = (n: number) => ({ seq: n, live: stateDigest({ n }) });

describe('a head moved back k entries', () => {
  it.each([
    // Nothing past the head: the entry after it is not there, so nothing is listed.
    [0, { requests: 2, rounds: 1, lists: 0 }],
    [1, { requests: 3, rounds: 2, lists: 1 }],
    [3, { requests: 5, rounds: 3, lists: 1 }],
    [10, { requests: 12, rounds: 3, lists: 1 }],
  ])('k = %i: the lock’s check reads the entries past it in at most three round trips', async (k, cost) => {
    await moveBack(k);
    const { counted, seen } = counting(store);
    const recorded = await recordedStateAfterStopped(counted, PREFIX, headBack(k));
    expect(reached(recorded)).toEqual(entry(ENTRIES));
    // The head's entry and the one after it; a listing of the keys past that one; the rest together.
    expect(seen).toEqual(cost);
  });

  it.each([
    [0, { requests: 3, rounds: 2, lists: 0 }],
    [1, { requests: 4, rounds: 3, lists: 1 }],
    [10, { requests: 13, rounds: 4, lists: 1 }],
  ])('k = %i: status and history read the head first, then the same', async (k, cost) => {
    await moveBack(k);
    const { counted, seen } = counting(store);
    const { recorded } = await recordedStateRead(counted, PREFIX);
    expect(reached(recorded)).toEqual(entry(ENTRIES));
    expect(seen).toEqual(cost);
  });

  it('ends the walk at the first entry missing, though later ones are listed', async () => {
    await moveBack(10);
    const gap = auditEntryKey(PREFIX, 6);
    const kept = (await store.get(gap))?.body as Buffer;
    await store.delete([gap]);
    try {
      const recorded = await recordedStateAfterStopped(store, PREFIX, headBack(10));
      expect(reached(recorded)).toEqual(entry(5));
    } finally {
      await store.put(gap, kept, { contentType: 'application/json' });
    }
  });

  it('ends the walk at the first entry that does not follow from the one before', async () => {
    await moveBack(10);
    const forged = auditEntryKey(PREFIX, 4);
    const kept = (await store.get(forged))?.body as Buffer;
    await store.put(forged, JSON.stringify({ ...entries[3], data: { n: 'changed' } }), {
      contentType: 'application/json',
    });
    try {
      const recorded = await recordedStateAfterStopped(store, PREFIX, headBack(10));
      expect(reached(recorded)).toEqual(entry(3));
    } finally {
      await store.put(forged, kept, { contentType: 'application/json' });
    }
  });
});
