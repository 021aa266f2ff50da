/**
 * A deploy that pauses past its lock's lease (a laptop put to sleep, a long GC pause) between its
 * last check and a visible write: the check passed, the write is sent only once it wakes, by when the
 * lock may have been taken over and another deploy gone live. The lock is the S3 one (the server
 * honours conditional writes), the pause a clock moved past the lease while the write is held.
 * Before, the deploy that woke found its lock lost, stopped (LOCKED) and left its HTML "for the
 * deploy running now": there was none, so the site served its HTML under the pointer of another
 * release (or of the release it planned from), and nothing put it back. One asleep after its switch
 * and before its release entry, while the next holder finished its change and deployed another, wrote
 * its entries after that one's and called itself succeeded.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3Locker } from '../../src/adapters/lock-s3.ts';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { LOCK_TTL_MS } from '../../src/deploy/deploy-lock.ts';
import { pinRelease, promoteRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { approvalInForce } from '../../src/state/approval-in-force.ts';
import { consumeApproval } from '../../src/state/approvals.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { readPin } from '../../src/state/pin.ts';
import { createStateRecords } from '../../src/state/records.ts';
import {
  APP,
  type AtomicEnv,
  deployedAtomicEnvFor,
  heldAtSwitch,
  request,
  storedAtomicPending,
} from '../support/atomic-env.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import {
  publishFixtureBuilds,
  publishToStack,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { get, releaseOf } from '../support/edge-probe.ts';
import { heldPoint } from '../support/held-point.ts';
import { holdCopies } from '../support/hold-copies.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;

/** Hosting buckets no change has marked yet, for two stacks' first deploys and for one stack's. */
const [UNMARKED, UNMARKED_APART, UNMARKED_FIRST] = [
  'unmarked-hosting',
  'unmarked-hosting-apart',
  'unmarked-hosting-first',
];
/** A state bucket of another stack's own. */
const OTHER_STATE = 'other-state';

let t: TestDeployEnv;
let published: Awaited<ReturnType<typeof publishFixtureBuilds>>;
/** V1 deployed and live: each case starts from it. */
let deployed: BucketSnapshot;
/** How far past real time the lockers' clock is: a pause of that long. */
let slept = 0;
const clock = () => Date.now() + slept;
const opened: Site[] = [];

beforeAll(async () => {
  t = await startDeployEnv(
    { stack: 'lease-paused' },
    { conditionalWrites: true, extraBuckets: [UNMARKED, UNMARKED_APART, UNMARKED_FIRST, OTHER_STATE] },
  );
  published = await publishFixtureBuilds(t, APP, [V1, V2, V3]);
  await deployArtifact(t.site, { app: APP, commit: V1, request: request('deploy v1') });
  deployed = await snapshotStack(t.site);
});
beforeEach(async () => {
  slept = 0;
  await deployed.restore();
});
afterAll(async () => {
  for (const site of opened) site.close();
  await t?.stop();
});

/** An operator's site, its S3 lock on the test's clock. */
async function operator(): Promise<Site> {
  const site = await connectSite(t.target, {
    access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint },
    onNotice: () => undefined,
  });
  opened.push(site);
  return { ...site, locker: createS3Locker(site.state, t.target.statePrefix, clock) };
}

/**
 * Operator A's deploy of v2, its checks before its HTML passed, asleep before the HTML copy is sent
 * until `wake()`; meanwhile its lock's lease runs out (the lockers' clock moved past it).
 */
async function v2AsleepPastLease() {
  const a = holdCopies(await operator(), { key: 'index.html' });
  const deploying = deployArtifact(a.site, { app: APP, commit: V2, request: request('deploy v2') });
  deploying.catch(() => {});
  await a.reached;
  slept = LOCK_TTL_MS + 1_000;
  return { deploying, wake: a.release };
}

const pointerKey = () => `${t.target.statePrefix}live.json`;

/**
 * An operator (or `opened`) whose state writes sleep at the first one `holds` names (asked before
 * each is sent, and told which keys landed before it and what it writes) until `asleep.release()`.
 */
async function asleepAtState(
  holds: (key: string, landed: readonly string[], body: string) => boolean,
  opened?: Site,
) {
  const site = opened ?? (await operator());
  const asleep = heldPoint();
  const landed: string[] = [];
  let held = false;
  const state: ObjectStore = {
    ...site.state,
    async put(key, body, meta, condition) {
      if (!held && holds(key, landed, Buffer.from(body).toString('utf8'))) {
        held = true;
        await asleep.arrive();
      }
      const answer = await site.state.put(key, body, meta, condition);
      landed.push(key);
      return answer;
    },
  };
  return {
    site: { ...site, state, records: createStateRecords(state, site.target.statePrefix) } as Site,
    asleep,
  };
}

/**
 * An operator (or `opened`) whose delete of its stack's pin sleeps before it is sent until
 * `asleep.release()`: its unpin entry written, the pin it read not yet removed.
 */
async function asleepAtPinDelete(opened?: Site) {
  const site = opened ?? (await operator());
  const asleep = heldPoint();
  const pin = `${site.target.statePrefix}pin.json`;
  const state: ObjectStore = {
    ...site.state,
    async delete(keys) {
      if (keys.includes(pin)) await asleep.arrive();
      return site.state.delete(keys);
    },
    async deleteIf(key, etag) {
      if (key === pin) await asleep.arrive();
      return site.state.deleteIf(key, etag);
    },
  };
  return {
    site: { ...site, state, records: createStateRecords(state, site.target.statePrefix) } as Site,
    asleep,
  };
}

/**
 * `change`, run on a site asleep at `asleep` (asleepAtState, asleepAtPinDelete), sleeps past its lease
 * once it gets there; `meanwhile`, another operator's changes, run then. Woken, the change is refused,
 * LOCKED, saying `says`, and appends nothing after what `meanwhile` left; the chain verifies. Returns
 * what `meanwhile` did. `on`: the stack's site (default: the in-place one) and what its chain is
 * verified with (an atomic stack's release store).
 */
async function refusedPastLease<T>(
  { site, asleep }: { site: Site; asleep: Pick<ReturnType<typeof heldPoint>, 'reached' | 'release'> },
  change: (site: Site) => Promise<unknown>,
  meanwhile: () => Promise<T>,
  says: RegExp | string,
  on: { site: Site; verify?: Parameters<typeof verifyAudit>[2] } = { site: t.site },
): Promise<T> {
  const changing = change(site);
  changing.catch(() => {});
  await asleep.reached;
  slept = LOCK_TTL_MS + 1_000;
  const done = await meanwhile();
  const { state, target } = on.site;
  const chain = await readAudit(state, target.statePrefix);
  asleep.release();
  await expect(changing).rejects.toMatchObject({
    code: 'LOCKED',
    message: typeof says === 'string' ? expect.stringContaining(says) : expect.stringMatching(says),
  });
  expect(await readAudit(state, target.statePrefix)).toEqual(chain);
  expect((await verifyAudit(state, target.statePrefix, on.verify)).problems).toEqual([]);
  return done;
}

const served = async () => (await t.site.hosting.get('index.html'))?.body.toString('utf8') ?? '';
const titleOf = (html: string) => /<title>Sophia (v\d)<\/title>/.exec(html)?.[1];
const live = async () => (await t.site.records.readPointer())?.value.commit;

it('another operator took the lock over and went live meanwhile: the site ends whole on the live release', async () => {
  const { deploying, wake } = await v2AsleepPastLease();
  // The lock expired by every clock: the other operator takes it and deploys v3 to the end.
  const b = await operator();
  expect((await deployArtifact(b, { app: APP, commit: V3, request: request('deploy v3') })).outcome).toBe(
    'succeeded',
  );
  expect(titleOf(await served())).toBe('v3');
  wake(); // its v2 HTML lands
  await expect(deploying).rejects.toMatchObject({
    code: 'LOCKED',
    message: expect.stringMatching(/lost its lock.*were put back to the live release's \(c3c3c3c-/s),
  });
  expect(await live()).toBe(V3);
  expect(titleOf(await served()), 'the served HTML is the live release’s').toBe('v3');
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('another operator took the lock over and copied its HTML before this one woke: the site ends whole on it', async () => {
  const { deploying, wake } = await v2AsleepPastLease();
  // The other operator takes the lock over and copies its v3 HTML; it goes on once this one has woken.
  const b = holdCopies(await operator(), { key: 'index.html', after: true });
  const other = deployArtifact(b.site, { app: APP, commit: V3, request: request('deploy v3') });
  other.catch(() => {});
  await b.reached;
  wake(); // its v2 HTML lands over v3's
  await expect(deploying).rejects.toMatchObject({
    code: 'LOCKED',
    message: expect.stringContaining('left for the deploy running now'),
  });
  // v3 goes live: it wrote over this deploy's pending record, so it checks its visible files then.
  // Before, it did not: the site served v2's HTML while live.json named v3.
  b.release();
  expect((await other).outcome).toBe('succeeded');
  expect(await live()).toBe(V3);
  expect(titleOf(await served()), 'the served HTML is the live release’s').toBe('v3');
});

it('its lock lapsed and nobody else deployed: the site ends whole on the release it planned from', async () => {
  const { deploying, wake } = await v2AsleepPastLease();
  wake();
  await expect(deploying).rejects.toMatchObject({
    code: 'LOCKED',
    message: expect.stringMatching(/lost its lock.*were put back to the live release's \(a1a1a1a-/s),
  });
  expect(await live()).toBe(V1);
  expect(titleOf(await served()), 'the served HTML is the live release’s').toBe('v1');
});

it('a pin made while a deploy slept before its switch holds: its switch is taken back', async () => {
  const { site: a, asleep } = await asleepAtState((key) => key === pointerKey());
  const deploying = deployArtifact(a, { app: APP, commit: V2, request: request('deploy v2') });
  deploying.catch(() => {});
  await asleep.reached; // its lock asked for the last time before the switch
  slept = LOCK_TTL_MS + 1_000;
  expect((await pinRelease(await operator(), { request: request('freeze v1') })).pin.commit).toBe(V1);
  asleep.release(); // its switch is sent once it wakes, and lands (the pin did not write the pointer)
  // Before, it went on and finished: v2 served and recorded live, the stack pinned to v1.
  await expect(deploying).rejects.toMatchObject({
    code: 'LOCKED',
    message: expect.stringMatching(/lost its lock.*it was taken back \(a1a1a1a-/s),
  });
  expect(await live()).toBe(V1);
  expect(titleOf(await served()), 'the served HTML is the pinned release’s').toBe('v1');
  expect((await readPin(t.site))?.commit).toBe(V1);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('a promote asleep before its unpin entry while another pinned what it made live: the new pin stays', async () => {
  const pinned = await pinRelease(t.site, { request: request('freeze v1') });
  const audit = `${t.target.statePrefix}audit/`;
  // Asleep with v2 live and recorded, the pin of v1 read, its unpin entry not yet sent. Before, it
  // went on and succeeded: its unpin of v1's pin appended after the pin of v2, and pin.json (v2's
  // pin) deleted.
  const frozen = await refusedPastLease(
    await asleepAtState((key, _, body) => key.startsWith(audit) && body.includes('"unpin"')),
    (a) => promoteRelease(a, { app: APP, commit: V2, request: request('promote v2') }),
    async () => pinRelease(await operator(), { request: request('freeze v2') }),
    /lost its lock.*switch had landed.*its deployment, not the pin lifted/s,
  );
  expect(frozen.pin.commit).toBe(V2);
  expect(await readPin(t.site)).toEqual(frozen.pin);
  expect(pinned.pin.commit).toBe(V1);
  expect(await live()).toBe(V2);
});

it('a promote asleep after its unpin entry, before removing the pin, while another pinned: the new pin stays', async () => {
  await pinRelease(t.site, { request: request('freeze v1') });
  // Asleep with v2 live and recorded, its unpin of v1's pin recorded, pin.json not yet removed.
  // Before, it went on and succeeded: it removed pin.json (v2's pin, set after its entry), and
  // `audit verify` said the pin entry of v2 did not land.
  const frozen = await refusedPastLease(
    await asleepAtPinDelete(),
    (a) => promoteRelease(a, { app: APP, commit: V2, request: request('promote v2') }),
    async () => pinRelease(await operator(), { request: request('freeze v2') }),
    /unpin entry is in the audit log.*was kept, not removed.*switch had landed.*and the pin lifted/s,
  );
  expect(frozen.pin.commit).toBe(V2);
  expect(await readPin(t.site)).toEqual(frozen.pin);
  expect(await live()).toBe(V2);
});

it('an unpin asleep after its entry, before removing the pin, while another pinned again: the new pin stays', async () => {
  await pinRelease(t.site, { request: request('freeze v1') });
  // Asleep with its unpin recorded, pin.json not yet removed. The lock expired: another operator
  // finishes that unpin, and pins v1 again.
  const frozen = await refusedPastLease(
    await asleepAtPinDelete(),
    (a) => unpinRelease(a, { request: request('thaw') }),
    async () => pinRelease(await operator(), { request: request('freeze v1 again') }),
    /This unpin recorded lifting.*was kept, not removed/s,
  );
  expect(frozen.created).toBe(true);
  expect(await readPin(t.site)).toEqual(frozen.pin);
});

it('finishing a stopped unpin, asleep before removing the pin while another pinned: the new pin stays', async () => {
  await pinRelease(t.site, { request: request('freeze v1') });
  // An unpin stopped after its entry, before removing pin.json: the next change finishes it first.
  const pin = `${t.target.statePrefix}pin.json`;
  await expect(
    unpinRelease(
      stoppingSite(t.site, (key) => key === pin),
      { request: request('thaw') },
    ),
  ).rejects.toThrow('the process stopped');
  // Asleep finishing that unpin under its lock, pin.json read, not yet removed. The lock expired:
  // another operator finishes the unpin itself, and pins v1 again. Before, it removed pin.json (the
  // new pin of v1): the stack unpinned by nobody's change, and `audit verify` said the pin entry did
  // not land.
  const frozen = await refusedPastLease(
    await asleepAtPinDelete(),
    (a) => deployArtifact(a, { app: APP, commit: V2, request: request('deploy v2') }),
    async () => pinRelease(await operator(), { request: request('freeze v1 again') }),
    'lost its lock',
  );
  expect(frozen.created).toBe(true);
  expect(await readPin(t.site)).toEqual(frozen.pin);
  expect(await live()).toBe(V1);
});

it('finishing a stopped unpin while pin.json is written by hand under its lock: it says so, changing nothing', async () => {
  await pinRelease(t.site, { request: request('freeze v1') });
  const pin = `${t.target.statePrefix}pin.json`;
  await expect(
    unpinRelease(
      stoppingSite(t.site, (key) => key === pin),
      { request: request('thaw') },
    ),
  ).rejects.toThrow('the process stopped');
  const { site: a, asleep } = await asleepAtPinDelete();
  const deploying = deployArtifact(a, { app: APP, commit: V2, request: request('deploy v2') });
  deploying.catch(() => {});
  await asleep.reached; // finishing that unpin under its lock (still held), pin.json read, not yet removed
  const handWritten = JSON.stringify({ note: 'written by hand' });
  await t.site.state.put(pin, handWritten, { contentType: 'application/json' });
  const chain = await readAudit(t.site.state, t.target.statePrefix);
  asleep.release();
  // Before, it rethrew the store's bare "A conditional write lost a race" (PRECONDITION_FAILED).
  const error = await deploying.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({
    code: 'CONFLICT',
    message: expect.stringMatching(
      /pin\.json was changed.*while .*finished.*unpin.*Nothing was changed.*frontendops status.*again/s,
    ),
  });
  expect((error as Error).message).not.toContain('lost a race');
  expect((error as Error).message).not.toContain(t.target.statePrefix);
  expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(chain);
  expect((await t.site.state.get(pin))?.body.toString('utf8')).toBe(handWritten);
  expect(await live()).toBe(V1);
});

it('a pin that created pin.json past its lease, asleep before removing it while another pinned: the new pin stays', async () => {
  const pin = `${t.target.statePrefix}pin.json`;
  // Operator A's pin of v1: asleep before its write of pin.json, then again before removing it.
  const { site: held, asleep: atWrite } = await asleepAtState((key) => key === pin);
  const frozen = await refusedPastLease(
    await asleepAtPinDelete(held),
    async (a) => {
      const pinning = pinRelease(a, { request: request('freeze v1') });
      pinning.catch(() => {});
      await atWrite.reached;
      slept = LOCK_TTL_MS + 1_000;
      // The lock expired: another operator finishes A's pin, then lifts it.
      expect((await unpinRelease(await operator(), { request: request('thaw') })).cleared?.commit).toBe(V1);
      atWrite.release();
      // A creates pin.json (there was none), finds its lock lost and the unpin after its entry.
      return pinning;
    },
    // Meanwhile a third pins v1 again (it finishes the unpin first: the pin A just created goes).
    async () => pinRelease(await operator(), { request: request('freeze v1 again') }),
    // Before, its plain delete removed the new pin: unpinned by nobody's change.
    /lost its lock.*a later change set another since, which was kept/s,
  );
  expect(frozen.created).toBe(true);
  expect(await readPin(t.site)).toEqual(frozen.pin);
});

it('finishing a stopped pin over the pin it replaced, asleep before its write while another unpinned: the unpin stays', async () => {
  await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') });
  await pinRelease(t.site, { request: request('freeze v2') });
  const pin = `${t.target.statePrefix}pin.json`;
  // A rollback stopped after its pin entry (replacing the pin of v2), before its pin.json.
  await expect(
    rollbackRelease(
      stoppingSite(t.site, (key) => key === pin),
      { request: request('roll back') },
    ),
  ).rejects.toThrow('the process stopped');
  // Operator A's pin finishes that pin first: asleep before its write of pin.json. The lock expired:
  // another operator finishes the rollback and its pin, then lifts the pin. Before, A wrote the
  // rollback's pin back over the unpin: pinned by nobody's change in effect.
  const thawed = await refusedPastLease(
    await asleepAtState((key) => key === pin),
    (a) => pinRelease(a, { request: request('freeze v1') }),
    async () => {
      const b = await operator();
      await rollbackRelease(b, { request: request('roll back') }).catch(() => undefined);
      return unpinRelease(b, { request: request('thaw') });
    },
    'lost its lock',
  );
  expect(thawed.cleared?.commit).toBe(V1);
  expect(await readPin(t.site)).toBeNull();
});

/**
 * Operator A's deploy of v2, its pointer written and its lock asked once more (held), asleep before
 * its release entry is sent until `wake()`; meanwhile its lock's lease runs out.
 */
async function v2AsleepBeforeEntry() {
  const audit = `${t.target.statePrefix}audit/`;
  const { site, asleep } = await asleepAtState(
    (key, landed) => key.startsWith(audit) && landed.includes(pointerKey()),
  );
  const deploying = deployArtifact(site, { app: APP, commit: V2, request: request('deploy v2') });
  deploying.catch(() => {});
  await asleep.reached;
  slept = LOCK_TTL_MS + 1_000;
  return { deploying, wake: asleep.release };
}

it('asleep after its switch, before its entry, while another finished it and deployed: it records nothing after', async () => {
  const { deploying, wake } = await v2AsleepBeforeEntry();
  // The lock expired: the other operator finishes v2 (live, not recorded) and deploys v3 to the end.
  const b = await operator();
  expect((await deployArtifact(b, { app: APP, commit: V3, request: request('deploy v3') })).outcome).toBe(
    'succeeded',
  );
  const chain = await readAudit(t.site.state, t.target.statePrefix);
  const invalidations = t.cdn.createRequests().length;
  wake(); // its release entry is sent
  // Before, it went on and "succeeded": its entries for v2 written after v3's, naming v2's pointer
  // while v3 was live (`audit verify`: live.json tampered), and its CDN invalidation sent.
  await expect(deploying).rejects.toMatchObject({
    code: 'LOCKED',
    message: expect.stringMatching(/lost its lock.*switch had landed.*this run recorded nothing/s),
  });
  expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(chain);
  expect(t.cdn.createRequests().length, 'no invalidation once it lost its lock').toBe(invalidations);
  expect(await live()).toBe(V3);
  expect(titleOf(await served())).toBe('v3');
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('asleep after its switch, before its entry, while another asked for a pin: the pin refuses, it finishes', async () => {
  const { deploying, wake } = await v2AsleepBeforeEntry();
  // Its v2 is live and not yet recorded: a pin of what is live would pin what no entry vouches for.
  await expect(pinRelease(await operator(), { request: request('freeze') })).rejects.toMatchObject({
    code: 'CONFLICT',
    message: expect.stringContaining('no audit entry records it going live yet'),
  });
  wake(); // nobody appended meanwhile: its entries land in place
  expect((await deploying).outcome).toBe('succeeded');
  expect(await live()).toBe(V2);
  expect(titleOf(await served())).toBe('v2');
  expect(await readPin(t.site)).toBeNull();
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('asleep before its CDN invalidation while another finished it and deployed: no late entry, no success to tag', async () => {
  const site = await operator();
  const asleep = heldPoint();
  if (!site.cdn) throw new Error('the environment has a CDN');
  const cdn = site.cdn;
  const a: Site = {
    ...site,
    cdn: {
      ...cdn,
      async invalidate(input) {
        await asleep.arrive();
        return cdn.invalidate(input);
      },
    },
  };
  const deploying = deployArtifact(a, { app: APP, commit: V2, request: request('deploy v2') });
  deploying.catch(() => {});
  await asleep.reached; // live and its release entry written; its deployment not yet recorded
  slept = LOCK_TTL_MS + 1_000;
  const b = await operator();
  expect((await deployArtifact(b, { app: APP, commit: V3, request: request('deploy v3') })).outcome).toBe(
    'succeeded',
  );
  const chain = await readAudit(t.site.state, t.target.statePrefix);
  asleep.release();
  // A run that answers with no summary makes no deploy tag (the CLI tags a summary that succeeded).
  // Before, it "succeeded": its deployment entry written after v3's.
  await expect(deploying).rejects.toMatchObject({
    code: 'LOCKED',
    message: expect.stringMatching(/switch had landed.*recorded its release going live, not its deployment/s),
  });
  expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(chain);
  expect(await live()).toBe(V3);
  expect(titleOf(await served())).toBe('v3');
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it.each([
  ['its superseded entry', 'audit/'],
  ["the stopped deploy's record", 'deployments/'],
])(
  'recording a stopped deploy superseded, asleep before %s while another finished it: it records nothing after',
  async (_, at) => {
    // v2's deploy stopped before its switch: its crash-recovery record is left.
    await expect(
      deployArtifact(
        stoppingSite(t.site, (key) => key === pointerKey()),
        { app: APP, commit: V2, request: request('deploy v2') },
      ),
    ).rejects.toThrow('the process stopped');
    // Operator A's deploy of v1 records v2's superseded first: asleep before the write `at` names.
    const { site: a, asleep } = await asleepAtState((key) => key.startsWith(`${t.target.statePrefix}${at}`));
    const deploying = deployArtifact(a, { app: APP, commit: V1, request: request('deploy v1') });
    deploying.catch(() => {});
    await asleep.reached;
    slept = LOCK_TTL_MS + 1_000;
    // The lock expired: the other operator runs v2's deploy again, which finishes it live.
    const b = await operator();
    expect((await deployArtifact(b, { app: APP, commit: V2, request: request('deploy v2') })).outcome).toBe(
      'succeeded',
    );
    const chain = await readAudit(t.site.state, t.target.statePrefix);
    asleep.release();
    // Before, asleep before its record, it called the other's record of v2 not FrontendOps' (TAMPERED),
    // to be deleted. (Its entry already asked its lock.)
    await expect(deploying).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringContaining('lost its lock'),
    });
    expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(chain);
    expect(await live()).toBe(V2);
    expect(titleOf(await served())).toBe('v2');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  },
);

describe('atomic', () => {
  const env = deployedAtomicEnvFor({ stack: 'lease-paused-atomic', conditionalWrites: true }, [V1, V2], 1);

  it('a pin made while a deploy slept before its switch holds: the edge serves the pinned release', async () => {
    const t = env();
    const held = heldAtSwitch(t.store());
    const lockedOnClock = (site: Site): Site => ({
      ...site,
      locker: createS3Locker(site.state, t.target.statePrefix, clock),
    });
    const a = lockedOnClock(await t.open({ releases: held.store }));
    const deploying = deployArtifact(a, { app: APP, commit: V2, request: request('deploy v2') });
    deploying.catch(() => {});
    await held.reached; // its lock asked for the last time before the switch
    slept = LOCK_TTL_MS + 1_000;
    const b = lockedOnClock(await t.open());
    expect((await pinRelease(b, { request: request('freeze v1') })).pin.commit).toBe(V1);
    held.release(); // its switch is sent once it wakes
    // Its switch is refused (the pin wrote the store over the version it had read) and not tried
    // again past its lease. Before, it landed: the edge served v2, pinned to v1, recorded by nothing.
    await expect(deploying).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringContaining('lost its lock'),
    });
    expect((await t.store().read()).value).toMatchObject({ live: expect.stringMatching(/^a1a1a1a-/) });
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v1');
    expect((await readPin(t.site))?.commit).toBe(V1);
  });
});

it.each([
  ['in one state bucket', 'first', UNMARKED, undefined],
  ['in state buckets of their own', 'apart', UNMARKED_APART, OTHER_STATE],
] as const)(
  "two stacks' first deploys to one unmarked hosting bucket, their histories %s: the one marking it second stops before its first copy",
  async (_, name, bucket, otherState) => {
    // Their own state locations, so their locks do not meet; the bucket tells them apart once marked.
    const stack = async (stack: string, stateBucket = t.target.stateBucket) => {
      await publishToStack(t, { stack, hostingBucket: bucket, stateBucket }, published.slice(0, 2));
      const site = await connectSite(
        { ...t.target, stack, hostingBucket: bucket, stateBucket, statePrefix: defaultStatePrefix(stack) },
        { access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint }, onNotice: () => undefined },
      );
      opened.push(site);
      return site;
    };
    const [first, second] = [await stack(`${name}-a`), await stack(`${name}-b`, otherState)];
    // A's lock read the bucket unmarked; its marker is held until B deployed to the end.
    const asleep = heldPoint();
    const hosting: ObjectStore = {
      ...first.hosting,
      async put(key, body, meta, condition) {
        if (key === ENVIRONMENT_MARKER) await asleep.arrive();
        return first.hosting.put(key, body, meta, condition);
      },
    };
    const deploying = deployArtifact(
      { ...first, hosting },
      { app: APP, commit: V1, request: request('deploy v1') },
    );
    deploying.catch(() => {});
    await asleep.reached;
    expect(
      (await deployArtifact(second, { app: APP, commit: V2, request: request('deploy v2') })).outcome,
    ).toBe('succeeded');
    asleep.release();
    // Before, it went on: its marker over B's, its v1 HTML served while B's live.json named v2.
    await expect(deploying).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('another change marked it as its environment meanwhile'),
    });
    expect(
      JSON.parse((await second.hosting.get(ENVIRONMENT_MARKER))?.body.toString('utf8') ?? ''),
    ).toMatchObject({
      stack: `${name}-b`,
    });
    expect(titleOf((await second.hosting.get('index.html'))?.body.toString('utf8') ?? '')).toBe('v2');
    expect(await first.records.readPointer()).toBeNull();
    expect((await verifyAudit(second.state, second.target.statePrefix)).problems).toEqual([]);
    // Its next change is refused while the bucket names the other's history: nothing of it lands.
    const next = await deployArtifact(first, { app: APP, commit: V1, request: request('deploy v1') }).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(next?.code).toBe('TAMPERED');
    // Before, it told A to put its own marker back: over B's, taking the bucket from B. (With B's
    // history in another state bucket, which A's check does not read, it still did.)
    expect(next?.message).toMatch(
      otherState
        ? new RegExp(
            `marked by another stack \\(${name}-b\\), whose history is not in ${name}-a's state bucket`,
          )
        : new RegExp(`marked by another stack's history \\(${name}-b\\)`),
    );
    expect(next?.message).toContain(`Do not put ${name}-a's marker back`);
    expect(next?.message).toContain(`\`frontendops audit verify\` on ${name}-b by its own name`);
    expect(next?.message).not.toMatch(/put back the marker the log records/);
    expect(next?.message, 'it names no bucket').not.toContain(bucket);
    expect(next?.message).not.toContain(t.target.stateBucket);
    expect(next?.message).not.toContain(OTHER_STATE);
    expect(titleOf((await second.hosting.get('index.html'))?.body.toString('utf8') ?? '')).toBe('v2');
  },
);

it("a stack's first deploy asleep before its environment entry while another deployed it: no entry after the other's", async () => {
  const stack = 'lease-paused-first';
  const target = {
    ...t.target,
    stack,
    hostingBucket: UNMARKED_FIRST,
    statePrefix: defaultStatePrefix(stack),
  };
  await publishToStack(t, { stack, hostingBucket: UNMARKED_FIRST }, published.slice(0, 2));
  /** An operator of this stack, its S3 lock on the test's clock. */
  const open = async () => {
    const site = await connectSite(target, {
      access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint },
      onNotice: () => undefined,
    });
    opened.push(site);
    return { ...site, locker: createS3Locker(site.state, target.statePrefix, clock) } as Site;
  };
  const { site: a, asleep } = await asleepAtState(
    (key, _, body) => key.startsWith(`${target.statePrefix}audit/`) && /"type":\s*"environment"/.test(body),
    await open(),
  );
  const deploying = deployArtifact(a, { app: APP, commit: V1, request: request('deploy v1') });
  deploying.catch(() => {});
  await asleep.reached; // its lock found the bucket unmarked; its environment entry not yet sent
  slept = LOCK_TTL_MS + 1_000;
  const b = await open();
  expect((await deployArtifact(b, { app: APP, commit: V2, request: request('deploy v2') })).outcome).toBe(
    'succeeded',
  );
  const chain = await readAudit(b.state, target.statePrefix);
  asleep.release();
  // Before, its environment entry was appended after the other's deployment, and its marker refused
  // as another stack's ("another stack deploys to the same hosting bucket"): the one stack it is.
  await expect(deploying).rejects.toMatchObject({
    code: 'LOCKED',
    message: expect.stringContaining('lost its lock'),
  });
  expect(await readAudit(b.state, target.statePrefix)).toEqual(chain);
  expect((await verifyAudit(b.state, target.statePrefix)).problems).toEqual([]);
  expect(JSON.parse((await b.hosting.get(ENVIRONMENT_MARKER))?.body.toString('utf8') ?? '')).toMatchObject({
    stack,
  });
  expect(titleOf((await b.hosting.get('index.html'))?.body.toString('utf8') ?? '')).toBe('v2');
});

describe('atomic, asleep after its switch', () => {
  const env = deployedAtomicEnvFor(
    { stack: 'lease-paused-atomic-entry', conditionalWrites: true },
    [V1, V2],
    1,
  );

  /**
   * Operator A's deploy of v2 (or `ops.a`) on the atomic stack, asleep at the first state write after
   * its switch landed (after live.json, or `ops.after`) that `holds` names, until `wake()`; meanwhile
   * its lock's lease runs out and operator B deploys v1 (or runs `ops.b`) to the end, finishing A's
   * switch first. What A's run then ends with.
   */
  async function v2AsleepAfterSwitch(
    holds: (key: string) => boolean,
    ops: {
      a?: (site: Site) => Promise<unknown>;
      after?: string;
      b?: (site: Site) => Promise<{ outcome: string }>;
    } = {},
  ) {
    const t = env();
    const opened = await t.open();
    const pointer = `${t.target.statePrefix}${ops.after ?? 'live.json'}`;
    const asleep = heldPoint();
    const landed: string[] = [];
    let held = false;
    const state: ObjectStore = {
      ...opened.state,
      async put(key, body, meta, condition) {
        if (!held && holds(key) && landed.includes(pointer)) {
          held = true;
          await asleep.arrive();
        }
        const answer = await opened.state.put(key, body, meta, condition);
        landed.push(key);
        return answer;
      },
    };
    const a = {
      ...opened,
      state,
      records: createStateRecords(state, t.target.statePrefix),
      locker: createS3Locker(state, t.target.statePrefix, clock),
    } as Site;
    const deploying =
      ops.a?.(a) ?? deployArtifact(a, { app: APP, commit: V2, request: request('deploy v2') });
    deploying.catch(() => {});
    await asleep.reached; // its switch landed (the store serves v2), the write `holds` names not yet sent
    slept = LOCK_TTL_MS + 1_000;
    const b = await t.open();
    const other = { ...b, locker: createS3Locker(b.state, t.target.statePrefix, clock) } as Site;
    expect(
      (
        await (ops.b?.(other) ??
          deployArtifact(other, { app: APP, commit: V1, request: request('back to v1') }))
      ).outcome,
    ).toBe('succeeded');
    const chain = await readAudit(t.site.state, t.target.statePrefix);
    asleep.release();
    const error = await deploying.then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    return { t, chain, error };
  }

  it('before its entry, while another finished it and deployed: it records nothing after, saying its switch landed', async () => {
    const { t, chain, error } = await v2AsleepAfterSwitch((key) =>
      key.startsWith(`${env().target.statePrefix}audit/`),
    );
    // Before, its switch landed and the error said "Nothing more was changed by this run".
    expect(error?.code).toBe('LOCKED');
    expect(error?.message).toMatch(/lost its lock.*switch had landed.*this run recorded nothing/s);
    expect(error?.message).not.toMatch(/Nothing more was changed/);
    expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(chain);
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v1');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('before its deployment entry, while another finished it and deployed: it says its release going live was recorded', async () => {
    const { t, chain, error } = await v2AsleepAfterSwitch((key) =>
      key.startsWith(`${env().target.statePrefix}deployments/`),
    );
    // Before, it said "Nothing more was changed by this run": its switch and release entry had landed.
    expect(error?.code).toBe('LOCKED');
    expect(error?.message).toMatch(/switch had landed.*recorded its release going live, not its deployment/s);
    expect(error?.message).not.toMatch(/Nothing more was changed/);
    expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(chain);
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v1');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
  it('a canary start asleep before its entry, while another finished and aborted it: it says its switch landed', async () => {
    const { t, chain, error } = await v2AsleepAfterSwitch(
      (key) => key.startsWith(`${env().target.statePrefix}audit/`),
      {
        a: (site) =>
          startCanary(site, { app: APP, commit: V2, weightPercent: 20, request: request('try v2') }),
        after: 'atomic/state.json',
        b: (site) => abortCanary(site, { request: request('stop the canary') }),
      },
    );
    // Before, it went on and succeeded: its canary-start entry written after the abort's, naming a
    // canary that no longer ran.
    expect(error?.code).toBe('LOCKED');
    expect(error?.message).toMatch(/lost its lock.*switch had landed.*canary.*this run recorded nothing/s);
    expect(error?.message).not.toMatch(/Nothing more was changed/);
    expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(chain);
    expect((await t.store().read()).value?.canary).toBeUndefined();
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});

describe('atomic, asleep before its own switch', () => {
  const env = deployedAtomicEnvFor(
    { stack: 'lease-paused-atomic-superseded', conditionalWrites: true },
    [V1, V2, V3],
    1,
  );
  /** An operator of the atomic stack, its S3 lock on the test's clock. */
  const atomicOperator = async (extra?: Parameters<AtomicEnv['open']>[0]) => {
    const site = await env().open(extra);
    return { ...site, locker: createS3Locker(site.state, site.target.statePrefix, clock) } as Site;
  };
  /** The atomic stack's chain, as refusedPastLease reads and verifies it (with its release store). */
  const onAtomic = () => ({ site: env().site, verify: { releaseStore: env().store() } });
  // Each case starts from v1 live (a deploy of it again: the cases leave v2 live).
  afterEach(async () => {
    await deployArtifact(env().site, { app: APP, commit: V1, request: request('back to v1') });
  });

  it.each([
    ['its superseded entry', 'audit/'],
    ["the stopped change's row", 'deployments/'],
  ])(
    'recording a stopped change superseded, asleep before %s while another finished it: it records nothing after',
    async (_, at) => {
      const t = env();
      const prefix = t.target.statePrefix;
      // v2's deploy stopped before its switch: its crash-recovery record is left.
      await expect(
        deployArtifact(await t.openKilledBeforeKeyWrite(), {
          app: APP,
          commit: V2,
          request: request('ship v2'),
        }),
      ).rejects.toThrow('killed before the key write');
      // Operator A's deploy of the live v1 records v2's superseded first: asleep before the write `at`
      // names. The lock expired: operator B runs v2's deploy again, which finishes it live.
      // Before, asleep before its entry, it went on and succeeded: a "deploy-superseded" entry for v2
      // after B's recording v2 live, binding a row B had written over (`audit verify`: tampered).
      // Asleep before its row, it called B's record of v2 not FrontendOps' (TAMPERED), to be deleted.
      const shipped = await refusedPastLease(
        await asleepAtState((key) => key.startsWith(`${prefix}${at}`), await atomicOperator()),
        (a) => deployArtifact(a, { app: APP, commit: V1, request: request('keep v1') }),
        async () =>
          deployArtifact(await atomicOperator(), { app: APP, commit: V2, request: request('ship v2') }),
        'lost its lock',
        onAtomic(),
      );
      expect(shipped.outcome).toBe('succeeded');
      const v2 = (await t.site.records.readPointer())?.value.deployId ?? '';
      expect((await t.site.records.readRecord(v2))?.outcome).toBe('succeeded');
      expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v2');
    },
  );

  it("asleep at its switch while another switched and is recording: it leaves the other's crash-recovery record", async () => {
    const t = env();
    const prefix = t.target.statePrefix;
    // Operator A's deploy of v2, asleep as its switch is sent; meanwhile its lock's lease runs out.
    const held = heldAtSwitch(t.store());
    const deploying = deployArtifact(await atomicOperator({ releases: held.store }), {
      app: APP,
      commit: V2,
      request: request('ship v2'),
    });
    deploying.catch(() => {});
    await held.reached;
    slept = LOCK_TTL_MS + 1_000;
    // Operator B deploys v3: switched, asleep before its first entry after it.
    const { site: b, asleep } = await asleepAtState(
      (key, landed) => key.startsWith(`${prefix}audit/`) && landed.includes(`${prefix}live.json`),
      await atomicOperator(),
    );
    const other = deployArtifact(b, { app: APP, commit: V3, request: request('ship v3') });
    other.catch(() => {});
    await asleep.reached;
    const recovery = await storedAtomicPending(t.site);
    expect(recovery.plan.commit).toBe(V3);
    const chain = await readAudit(t.site.state, prefix);
    held.release(); // its switch is refused: the store holds v3's
    // Before, it deleted atomic/pending.json (B's, mid-change) and appended "atomic-switch-lost"
    // amid B's change, then said another switch came first (PRECONDITION_FAILED).
    await expect(deploying).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringContaining('lost its lock'),
    });
    expect(await storedAtomicPending(t.site)).toEqual(recovery);
    expect(await readAudit(t.site.state, prefix)).toEqual(chain);
    asleep.release();
    expect((await other).outcome).toBe('succeeded');
    expect((await verifyAudit(t.site.state, prefix, { releaseStore: t.store() })).problems).toEqual([]);
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v3');
  });

  it('a promote asleep before its unpin entry while another pinned what it made live: the new pin stays', async () => {
    const t = env();
    const prefix = t.target.statePrefix;
    await pinRelease(t.site, { request: request('freeze v1') });
    // Asleep with v2 switched and recorded, the pin of v1 read, its unpin entry not yet sent.
    // Before, it went on and succeeded: its unpin of v1's pin appended after the pin of v2, and
    // pin.json (v2's pin) deleted.
    const frozen = await refusedPastLease(
      await asleepAtState(
        (key, _, body) => key.startsWith(`${prefix}audit/`) && body.includes('"unpin"'),
        await atomicOperator(),
      ),
      (a) => promoteRelease(a, { app: APP, commit: V2, request: request('promote v2') }),
      async () => pinRelease(await atomicOperator(), { request: request('freeze v2') }),
      /lost its lock.*switch had landed.*its deployment, not the pin lifted/s,
      onAtomic(),
    );
    expect(frozen.pin.commit).toBe(V2);
    expect(await readPin(t.site)).toEqual(frozen.pin);
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v2');
    // The next case starts from v1 (afterEach): the pin goes first.
    await unpinRelease(t.site, { request: request('thaw') });
  });

  it('a promote asleep after its unpin entry, before removing the pin, while another pinned: the new pin stays', async () => {
    const t = env();
    await pinRelease(t.site, { request: request('freeze v1') });
    // Asleep with v2 switched and recorded, its unpin of v1's pin recorded, pin.json not yet removed.
    // Before, it went on and succeeded: it removed pin.json (v2's pin, set after its entry).
    const frozen = await refusedPastLease(
      await asleepAtPinDelete(await atomicOperator()),
      (a) => promoteRelease(a, { app: APP, commit: V2, request: request('promote v2') }),
      async () => pinRelease(await atomicOperator(), { request: request('freeze v2') }),
      /unpin entry is in the audit log.*was kept, not removed.*switch had landed.*and the pin lifted/s,
      onAtomic(),
    );
    expect(frozen.pin.commit).toBe(V2);
    expect(await readPin(t.site)).toEqual(frozen.pin);
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v2');
    // The next case starts from v1 (afterEach): the pin goes first.
    await unpinRelease(t.site, { request: request('thaw') });
  });

  it('a preview asleep before its entry while another deployed: no entry binding a state that never landed', async () => {
    const t = env();
    const prefix = t.target.statePrefix;
    // Asleep with its lock asked, its entry (binding the state it will write) not yet sent.
    // Before, its entry landed after the deploy's, binding a state with its preview in it; the state
    // write, made over the version it had read, was then refused: the chain named a state never stored.
    const shipped = await refusedPastLease(
      await asleepAtState((key) => key.startsWith(`${prefix}audit/`), await atomicOperator()),
      (a) => previewLink(a, { app: APP, commit: V2, verify: false, request: request('preview v2') }),
      async () =>
        deployArtifact(await atomicOperator(), { app: APP, commit: V3, request: request('ship v3') }),
      'lost its lock',
      onAtomic(),
    );
    expect(shipped.outcome).toBe('succeeded');
  });
});

describe('a rollback asleep after its pin entry, before its pin.json, past its lease', () => {
  /**
   * V2 deployed over V1 (`pinned`: and pinned on purpose), then operator A's rollback to V1 asleep
   * before its pin.json is sent (v1 live and recorded, its pin entry written) while `meanwhile` runs:
   * refused past its lease, saying `says` (refusedPastLease). Returns what `meanwhile` did.
   */
  async function rollbackAsleepBeforePin<T>(
    meanwhile: (b: Site) => Promise<T>,
    says: RegExp,
    pinned = false,
  ): Promise<T> {
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('deploy v2') });
    if (pinned) await pinRelease(t.site, { request: request('freeze v2') });
    return refusedPastLease(
      await asleepAtState((key) => key === `${t.target.statePrefix}pin.json`),
      (a) => rollbackRelease(a, { request: request('roll back') }),
      async () => meanwhile(await operator()),
      says,
    );
  }

  it('while another unpinned: the unpin stays', async () => {
    // The other operator finishes the stopped pin (pin.json as its entry says), then lifts it.
    // Before, it put its pin back over the unpin and succeeded: pinned to v1, the chain's last word an
    // unpin (`audit verify`: pin.json tampered).
    const thawed = await rollbackAsleepBeforePin(
      (b) => unpinRelease(b, { request: request('thaw') }),
      /lost its lock.*lifted or replaced the pin.*newer pin change was kept/s,
    );
    expect(thawed.cleared?.commit).toBe(V1);
    expect(await readPin(t.site)).toBeNull();
    expect(await live()).toBe(V1);
  });

  it('over a pin set on purpose, while another unpinned: the unpin stays', async () => {
    // The other operator finishes the stopped pin (the rollback's, replacing v2's), then lifts it.
    // Its put over the version it read (v2's pin) finds no object: S3 answers 404 NoSuchKey, not 412.
    // Before, that was an UPSTREAM "S3 could not write" error, as if S3 had failed.
    const thawed = await rollbackAsleepBeforePin(
      (b) => unpinRelease(b, { request: request('thaw') }),
      /lost its lock.*pin.json was changed.*newer pin change was kept/s,
      true,
    );
    expect(thawed.cleared?.commit).toBe(V1);
    expect(await readPin(t.site)).toBeNull();
    expect(await live()).toBe(V1);
  });

  it('while another promoted and pinned another release: that pin stays', async () => {
    // Before, it wrote its pin of v1 over the pin of v3 and succeeded, with v3 live.
    const frozen = await rollbackAsleepBeforePin(async (b) => {
      await promoteRelease(b, { app: APP, commit: V3, request: request('promote v3') });
      return pinRelease(b, { request: request('freeze v3') });
    }, /lost its lock.*pin.json was changed.*newer pin change was kept/s);
    expect(frozen.pin.commit).toBe(V3);
    expect(await readPin(t.site)).toEqual(frozen.pin);
    expect(await live()).toBe(V3);
  });
});

it('a deploy asleep before its approval-used entry while another deployed: no entry after the other’s', async () => {
  const { site: a, asleep } = await asleepAtState(
    (key, _, body) => key.startsWith(`${t.target.statePrefix}audit/`) && body.includes('"approval-used"'),
  );
  // A GitHub job's approval, used under its lock as the CLI uses it (cli/commands/deploy.ts).
  const judged = await approvalInForce(a);
  const approval = { by: 'octo (GitHub environment)', via: 'github-environment' as const };
  const nonce = 'lease-paused-run-1';
  const deploying = deployArtifact(a, {
    app: APP,
    commit: V2,
    request: request('deploy v2'),
    authorize: async (plan) => {
      const use = { action: 'deploy' as const, deployId: plan.deployId, approval, now: Date.now(), judged };
      expect(await consumeApproval(a, nonce, use)).toBe(true);
      return { nonce, ...approval };
    },
  });
  deploying.catch(() => {});
  await asleep.reached; // its approval's marker written, its entry not yet sent
  slept = LOCK_TTL_MS + 1_000;
  const b = await operator();
  expect((await deployArtifact(b, { app: APP, commit: V3, request: request('deploy v3') })).outcome).toBe(
    'succeeded',
  );
  const chain = await readAudit(t.site.state, t.target.statePrefix);
  asleep.release();
  // Before, its approval-used entry was appended after v3's entries (then its next lock ask stopped it).
  await expect(deploying).rejects.toMatchObject({
    code: 'LOCKED',
    message: expect.stringContaining('lost its lock'),
  });
  expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual(chain);
  expect(await live()).toBe(V3);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});
