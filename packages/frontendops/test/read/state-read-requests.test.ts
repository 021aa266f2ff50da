/**
 * What `status` and `history` send to the state bucket. Each holds what it read to the audit chain's
 * newest entry (the live pointer's binding) and looks for the records' bindings from that entry back:
 * before, each read that entry twice, and status on an atomic stack whose release store names a
 * release only its index tells read the head and that entry a third time. Now one reading of the
 * chain answers the whole command. The totals are bounds: a reader that reads more fails here.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { anchorAuditHead } from '../../src/atomic/anchored-head.ts';
import type { AuditHead } from '../../src/contract/audit-head.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { ReleaseStore } from '../../src/ports.ts';
import { readHistory } from '../../src/read/history.ts';
import { readStatus } from '../../src/read/status.ts';
import { adoptApprovalPolicy } from '../../src/state/approval-in-force.ts';
import { readAuditHead } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { auditEntryKey } from '../support/audit-forgery.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { heldPoint } from '../support/held-point.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;
let inPlace: TestDeployEnv;
let atomic: AtomicEnv;
/** The atomic stack with V1 then V2 deployed: each case starts from it (one deploys V3). */
let atomicDeployed: AtomicSnapshot;

beforeAll(async () => {
  [inPlace, atomic] = await Promise.all([
    startDeployEnv({ stack: 'state-read-requests' }),
    startDeployedAtomicEnv({ stack: 'state-read-requests-atomic' }, [V1, V2, V3], 2),
  ]);
  await publishFixtureBuilds(inPlace, APP, [V1, V2]);
  for (const commit of [V1, V2]) await deployArtifact(inPlace.site, { app: APP, commit, request: request() });
  atomicDeployed = await snapshotAtomicEnv(atomic);
}, 180_000);
afterAll(async () => {
  await Promise.all([inPlace?.stop(), atomic?.stop()]);
});
beforeEach(() => atomicDeployed.restore());

/** What `read` sends: in all, and how many GETs of the audit head and of the chain's newest entry. */
async function requestsOf(
  env: Pick<TestDeployEnv, 's3' | 'site'>,
  read: () => Promise<unknown>,
): Promise<{ total: number; head: number; newest: number }> {
  const { state, target } = env.site;
  const head = await readAuditHead(state, target.statePrefix);
  const newestKey = auditEntryKey(target.statePrefix, head?.seq ?? 0);
  await env.s3.settle();
  const from = env.s3.requests.length;
  await read();
  await env.s3.settle();
  const sent = env.s3.requests.slice(from);
  const gets = (key: string) => sent.filter((r) => r.method === 'GET' && r.key === key).length;
  return { total: sent.length, head: gets(`${target.statePrefix}audit/head.json`), newest: gets(newestKey) };
}

describe('status and history read the audit chain once', () => {
  it('status, in place: the state objects, the head and newest entry, the record, one LIST, the entries before', async () => {
    // live, pending, pin; the environment marker (held to entry 5's `markers`); head, entry 5 and
    // entry 6 (none: a head moved back onto an older entry would leave it); the live record; LIST;
    // entries 2-4.
    expect(await requestsOf(inPlace, () => readStatus(inPlace.site))).toEqual({
      total: 12,
      head: 1,
      newest: 1,
    });
  });

  it('status, atomic: the atomic state and its pending record as well', async () => {
    // 14: each switch anchors the head its run read under its lock, so the store anchors entry 3,
    // which status reads to hold the chain to it, once: the walk for the live release's record takes
    // it as read (before, it read it again: 15).
    expect(await requestsOf(atomic, () => readStatus(atomic.site))).toEqual({
      total: 14,
      head: 1,
      newest: 1,
    });
  });

  it("status, atomic, the chain's head anchored in the release store (an approval's use): the head read once", async () => {
    // The store's anchor is held to the chain by the head read for the bindings: before, that check
    // read the head again (head: 2, total: 15).
    const store = atomic.store();
    const head = await readAuditHead(atomic.site.state, atomic.target.statePrefix);
    await anchorAuditHead(store, head as AuditHead, await store.read());
    expect(await requestsOf(atomic, () => readStatus(atomic.site))).toEqual({
      total: 14,
      head: 1,
      newest: 1,
    });
  });

  it('status, atomic, an adoption anchored between its read of the head and of the store: not called a cut chain', async () => {
    // Status reads the chain's head and the release store at once: an adoption (or an approval's
    // use) that lands between the two leaves the store anchoring an entry past the head it read.
    const { state, target } = atomic.site;
    const headKey = `${target.statePrefix}audit/head.json`;
    // Held till the head is read and the adoption has landed after that read.
    const landed = heldPoint();
    let adopting: Promise<unknown> | undefined;
    const real = atomic.site.releases as ReleaseStore;
    const site = {
      ...atomic.site,
      state: {
        ...state,
        async get(key: string) {
          const read = await state.get(key);
          if (key === headKey && !adopting) {
            adopting = adoptApprovalPolicy(atomic.site, 'Ops', Date.now());
            await adopting;
            landed.release();
          }
          return read;
        },
      },
      releases: {
        ...real,
        async read() {
          await landed.arrive();
          return real.read();
        },
      },
    };
    const status = await readStatus(site);
    const adopted = (await adopting) as { seq: number } | undefined;
    expect((await real.read()).auditHead).toMatch(new RegExp(`^${adopted?.seq}:`));
    expect(status.recorded).toEqual({ state: 'as-recorded', note: null });
  });

  it('history: a page of two rows reads the chain from its newest entry back, each entry once', async () => {
    // live; head, entry 5, entry 6 (none); the history LIST and both records; LIST of the chain;
    // entries 1-4.
    expect(await requestsOf(inPlace, () => readHistory(inPlace.site, { limit: 20 }))).toEqual({
      total: 12,
      head: 1,
      newest: 1,
    });
  });

  it('status, atomic, the store naming a release only its index tells: held to the same reading', async () => {
    const liveKey = `${atomic.target.statePrefix}live.json`;
    const before = (await atomic.site.state.get(liveKey))?.body.toString('utf8') ?? '';
    await deployArtifact(atomic.site, { app: APP, commit: V3, request: request() });
    // The live pointer put back as it was before V3's deploy: the store names a release it does not.
    await atomic.site.state.put(liveKey, before, { contentType: 'application/json' });
    let status: Awaited<ReturnType<typeof readStatus>> | undefined;
    const sent = await requestsOf(atomic, async () => {
      status = await readStatus(atomic.site);
    });
    // The index was read, and believed: the chain binds it as it is.
    expect(status?.served?.live).toMatchObject({ app: APP, commit: V3 });
    // live.json is read twice: one the chain does not bind may be older than its newest entry.
    // One more: the entry V3's switch anchored, read once (as in the case above; before, 17).
    expect(sent).toEqual({ total: 16, head: 1, newest: 1 });
  });
});
