/**
 * A long chain is read with its entries' GETs in flight together, within a bound, and comes back
 * whole and in order: `audit verify`, a promote or preview by deploy id and `rollback --to` read the
 * whole chain, and one GET after another made them wait a round trip per entry (28.6 s for 1,000
 * entries with every request held 20 ms: `npm run bench -- --only chain --latency-ms 20`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../src/ports.ts';
import { appendAudit, readAudit, verifyAudit } from '../../src/state/audit.ts';
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
