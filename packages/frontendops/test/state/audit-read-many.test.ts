/**
 * A long chain is read with its entries' GETs in flight together, within a bound, and comes back
 * whole and in order: `audit verify` reads the whole chain, and one GET after another made it wait a
 * round trip per entry (28.6 s for 1,000 entries with every request held 20 ms: `npm run bench --
 * --only chain --latency-ms 20`). Where a record must be one the chain binds (a promote, redeploy or
 * preview by deploy id, `rollback --to`, the console's page of a deployment), the chain is read from
 * its newest entry back until the record's newest binding is found: the whole chain only for a record
 * bound nowhere. What is bound is what the newest binding says, as when the chain was read whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../src/ports.ts';
import {
  appendAudit,
  boundRecords,
  digestOrNull,
  readAudit,
  recordStanding,
  verifyAudit,
} from '../../src/state/audit.ts';
import { recordName } from '../../src/state/names.ts';
import { startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';

const ENTRIES = 40;

let t: TestDeployEnv;
beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-audit-many' });
  for (let i = 1; i <= ENTRIES; i++) {
    await appendAudit(t.site.state, t.target.statePrefix, t.site.locker, {
      type: 'agent-request',
      data: { request: { text: `request ${i}`, claimedBy: 'ada', planner: 'rules' } },
      at: new Date(),
    });
  }
});
afterAll(async () => {
  await t.stop();
});

/** The state store, counting the entry reads in flight at once; each read yields once before it is sent. */
function countingEntryReads(store: ObjectStore) {
  const seen = { inFlight: 0, most: 0, reads: 0 };
  const counted: ObjectStore = {
    ...store,
    async get(key, ...rest) {
      if (!/audit\/\d{10}\.json$/.test(key)) return store.get(key, ...rest);
      seen.reads += 1;
      seen.inFlight += 1;
      seen.most = Math.max(seen.most, seen.inFlight);
      try {
        await new Promise((resolve) => setImmediate(resolve));
        return await store.get(key, ...rest);
      } finally {
        seen.inFlight -= 1;
      }
    },
  };
  return { counted, seen };
}

describe('reading a long audit chain', () => {
  it('sends its entries’ reads together, at most 32 at once, and returns every entry in order', async () => {
    const { counted, seen } = countingEntryReads(t.site.state);
    const entries = await readAudit(counted, t.target.statePrefix);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: ENTRIES }, (_, i) => i + 1));
    expect(entries.map((e) => (e.data.request as { text: string }).text).at(-1)).toBe(`request ${ENTRIES}`);
    expect(seen.reads).toBe(ENTRIES);
    expect(seen.most).toBe(32);
  });

  it('verifies the same chain read that way, and still names an entry cut short among them', async () => {
    const { counted } = countingEntryReads(t.site.state);
    expect((await verifyAudit(counted, t.target.statePrefix)).ok).toBe(true);
    const key = `${t.target.statePrefix}audit/0000000031.json`;
    const whole = await t.site.state.get(key);
    if (!whole) throw new Error('entry 31 is missing');
    await t.site.state.put(key, whole.body.subarray(0, 40), { contentType: 'application/json' });
    try {
      const result = await verifyAudit(counted, t.target.statePrefix);
      expect(result.ok).toBe(false);
      expect(result.problems[0]).toMatchObject({ kind: 'damaged', seq: 31 });
      await expect(readAudit(counted, t.target.statePrefix)).rejects.toMatchObject({
        code: 'TAMPERED',
        message: expect.stringContaining('audit/0000000031.json'),
      });
    } finally {
      await t.site.state.put(key, whole.body, { contentType: 'application/json' });
    }
  });
});

describe('a record held to the chain, read from the newest entry back', () => {
  // Another chain in the same bucket: entry 1 binds record a as first written, entry 2 record b,
  // entries 3–40 bind nothing, entry 41 binds a as written again, entries 42–45 nothing.
  const prefix = () => `${t.target.statePrefix}newest/`;
  const record = (deployId: string, outcome: string) => ({
    deployId,
    app: 'shop',
    commit: 'c'.repeat(40),
    outcome,
  });
  const aBefore = record('aaaaaaa-0000000001', 'superseded');
  const aNow = record('aaaaaaa-0000000001', 'succeeded');
  const b = record('bbbbbbb-0000000002', 'succeeded');
  const binding = (r: { deployId: string }) => ({ [recordName(r.deployId)]: digestOrNull(r) as string });

  beforeAll(async () => {
    const append = (objects?: Record<string, string>) =>
      appendAudit(t.site.state, prefix(), t.site.locker, {
        type: objects ? 'deploy' : 'agent-request',
        data: {},
        ...(objects ? { objects } : {}),
      });
    await append(binding(aBefore));
    await append(binding(b));
    for (let i = 3; i <= 40; i++) await append();
    await append(binding(aNow));
    for (let i = 42; i <= 45; i++) await append();
  });

  it('finds a record bound near the newest entry in one round of reads, as its newest binding says', async () => {
    const { counted, seen } = countingEntryReads(t.site.state);
    expect(await boundRecords(counted, prefix(), [aBefore, aNow])).toEqual([aNow]);
    expect(seen.reads).toBe(32);
  });

  it('reads back to the chain’s start for a record bound there, and for one bound nowhere', async () => {
    const early = countingEntryReads(t.site.state);
    expect(await recordStanding(early.counted, prefix(), b.deployId, b)).toBe('bound');
    expect(early.seen.reads).toBe(45);
    const planted = countingEntryReads(t.site.state);
    expect(
      await recordStanding(
        planted.counted,
        prefix(),
        'ccccccc-0000000003',
        record('ccccccc-0000000003', 'succeeded'),
      ),
    ).toBe('unbound');
    expect(planted.seen.reads).toBe(45);
    expect(await recordStanding(t.site.state, prefix(), aBefore.deployId, aBefore)).toBe('unbound');
  });

  it('refuses an entry it reads that is not one, TAMPERED, naming it', async () => {
    const key = `${prefix()}audit/0000000044.json`;
    const whole = await t.site.state.get(key);
    if (!whole) throw new Error('entry 44 is missing');
    await t.site.state.put(key, whole.body.subarray(0, 30), { contentType: 'application/json' });
    try {
      await expect(boundRecords(t.site.state, prefix(), [aNow])).rejects.toMatchObject({
        code: 'TAMPERED',
        message: expect.stringContaining('audit/0000000044.json'),
      });
    } finally {
      await t.site.state.put(key, whole.body, { contentType: 'application/json' });
    }
  });
});
