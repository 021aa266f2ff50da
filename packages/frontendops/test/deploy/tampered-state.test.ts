/**
 * Someone who can write the state prefix edits an object every change acts on — the live pointer's
 * release list, the pin, the atomic state — and waits for the next change. Before, the change acted
 * on it (a rollback went to a build never live, a deploy went past the real pin) and bound what it
 * wrote, after which `audit verify`, which had reported the edit, passed: the forgery laundered,
 * recorded as FrontendOps's own doing. Now a change refuses (TAMPERED) before it writes anything,
 * and verify still reports the edit. An interrupted change's leftovers are not refused (the crash
 * tests: rollback-rerun, pin-crash, atomic-switch-crash). An entry whose record of those objects
 * disagrees with the entries before it is itself reported tampered.
 *
 * A crash-recovery record beside the edit (planted, or a real one left by a stopped deploy) made
 * verify call the edit "unfinished", and the change went on: a record excuses only what an
 * interrupted operation writes, never a release list or atomic state naming what the chain never
 * recorded (a build never live, a canary never started).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { promoteCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, readAuditHead, verifyAudit } from '../../src/state/audit.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { APP, type AtomicEnv, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { auditEntryKey, rehash } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import {
  publishAsCi,
  publishFixtureBuilds,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const request: RequestInfo = { text: 'change', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
const [A, B, NEVER] = ['a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3'] as const;

const json = async (site: Site, name: string) =>
  JSON.parse((await site.state.get(`${site.target.statePrefix}${name}`))?.body.toString('utf8') ?? 'null');
const put = (site: Site, name: string, value: unknown) =>
  site.state.put(`${site.target.statePrefix}${name}`, JSON.stringify(value));
const verdict = async (site: Site) =>
  (await verifyAudit(site.state, site.target.statePrefix)).problems.map(
    (p) => `${p.kind}: ${p.object ?? p.seq}`,
  );

/** The change is refused, names the object, and writes nothing: the head stays, the edit stays reported. */
async function refusedUntouched(site: Site, name: string, change: () => Promise<unknown>) {
  const before = await readAuditHead(site.state, site.target.statePrefix);
  const edited = await json(site, name);
  const attempt = change();
  await expect(attempt).rejects.toMatchObject({ code: 'TAMPERED' });
  await expect(attempt).rejects.toThrow(
    new RegExp(`${name.replace('.', '\\.')} of \\S+ changed outside FrontendOps.*Nothing was changed`, 's'),
  );
  expect(await readAuditHead(site.state, site.target.statePrefix)).toEqual(before);
  expect(await json(site, name)).toEqual(edited);
  expect(await verdict(site)).toContain(`tampered: ${name}`);
}

describe('in place', () => {
  let t: TestDeployEnv;
  /**
   * The state prefix and hosting bucket each case starts from, whichever ran before: A then B
   * deployed, B live; and the same rolled back to A (which pins A), for the cases that need it.
   */
  let bLive: BucketSnapshot;
  let rolledBackToA: BucketSnapshot;
  const snapshot = () => snapshotStack(t.site);
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'tampered-state' });
    await publishFixtureBuilds(t, APP, [A, B, NEVER], { from: 0 });
    await deployArtifact(t.site, { app: APP, commit: A, request });
    await deployArtifact(t.site, { app: APP, commit: B, request });
    bLive = await snapshot();
    await rollbackRelease(t.site, { request });
    rolledBackToA = await snapshot();
  }, 180_000);
  afterAll(() => t?.stop());
  beforeEach(() => bLive.restore());

  it('a release list naming a build never live: rollback refuses, verify still reports it', async () => {
    const live = await json(t.site, 'live.json');
    const forged = { ...live.releases[1], deployId: `${NEVER.slice(0, 7)}-0000000000`, commit: NEVER };
    await put(t.site, 'live.json', { ...live, releases: [live.releases[0], forged] });
    expect(await verdict(t.site)).toContain('tampered: live.json');
    await refusedUntouched(t.site, 'live.json', () => rollbackRelease(t.site, { request }));
    // Put back as it was, the same rollback goes to the release the stack had.
    await put(t.site, 'live.json', live);
    expect((await rollbackRelease(t.site, { request })).commit).toBe(A);
    expect(await verdict(t.site)).toEqual([]);
  });

  it('the same, beside a crash-recovery record a stopped deploy left: still refused', async () => {
    await rolledBackToA.restore();
    await expect(
      deployArtifact(
        stoppingSite(t.site, (key) => key.endsWith('/live.json')),
        { app: APP, commit: B, request, pin: 'clear' },
      ),
    ).rejects.toThrow(/stopped/);
    expect(await t.site.records.readPending()).not.toBeNull();
    const live = await json(t.site, 'live.json');
    const forged = { ...live.releases[0], deployId: `${NEVER.slice(0, 7)}-1111111111`, commit: NEVER };
    await put(t.site, 'live.json', { ...live, releases: [live.releases[0], forged] });
    await refusedUntouched(t.site, 'live.json', () => rollbackRelease(t.site, { request, to: NEVER }));
    await put(t.site, 'live.json', live);
  });

  it('a pin edited to allow another build: the deploy past the real pin refuses', async () => {
    await rolledBackToA.restore();
    const pin = await json(t.site, 'pin.json');
    expect(pin.commit).toBe(A); // the rollback to A pinned it
    await put(t.site, 'pin.json', { ...pin, commit: NEVER });
    await refusedUntouched(t.site, 'pin.json', () =>
      deployArtifact(t.site, { app: APP, commit: NEVER, request }),
    );
    await refusedUntouched(t.site, 'pin.json', () => pinRelease(t.site, { request }));
  });
});

describe('atomic', () => {
  let t: AtomicEnv;
  /** A deployed and live, nothing edited: each case starts from it, whichever ran before. */
  let aLive: AtomicSnapshot;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'tampered-atomic-state' });
    await t.publish(A, 'v1');
    await t.publish(B, 'v2');
    await deployArtifact(t.site, { app: APP, commit: A, request });
    aLive = await snapshotAtomicEnv(t);
  }, 180_000);
  afterAll(() => t?.stop());
  beforeEach(() => aLive.restore());

  it('a canary never started, beside a planted crash-recovery record: the promote refuses', async () => {
    await deployArtifact(t.site, { app: APP, commit: B, request });
    const state = await json(t.site, 'atomic/state.json');
    const live = await json(t.site, 'live.json');
    const known = (await t.store().read()).value;
    // A's release, live before: an id the chain knows, as the canary, which no entry started.
    const aRelease = (await readAudit(t.site.state, t.target.statePrefix)).find(
      (e) => e.data.commit === A && typeof e.data.releaseId === 'string',
    )?.data.releaseId as string;
    expect(aRelease).toEqual(expect.any(String));
    await put(t.site, 'atomic/state.json', {
      ...state,
      canary: {
        releaseId: aRelease,
        app: APP,
        commit: A,
        artifactDigest: live.artifactDigest,
        deployId: `${A.slice(0, 7)}-2222222222`,
        weight: 50,
        startedAt: new Date().toISOString(),
        request,
      },
    });
    await put(t.site, 'atomic/pending.json', {
      op: 'deploy',
      plan: {
        deployId: `${B.slice(0, 7)}-3333333333`,
        app: APP,
        commit: B,
        pointerBefore: known,
        pointerAfter: known,
      },
      request,
      startedAt: new Date().toISOString(),
      switched: false,
    });
    await refusedUntouched(t.site, 'atomic/state.json', () => promoteCanary(t.site, { request }));
    await t.site.state.delete([`${t.target.statePrefix}atomic/pending.json`]);
    await put(t.site, 'atomic/state.json', state);
  });

  it('an atomic state edited (a retiring release forged): the next deploy refuses', async () => {
    const state = await json(t.site, 'atomic/state.json');
    await put(t.site, 'atomic/state.json', {
      ...state,
      retiring: [...state.retiring, { releaseId: 'forged', until: '2999-01-01T00:00:00.000Z' }],
    });
    await refusedUntouched(t.site, 'atomic/state.json', () =>
      deployArtifact(t.site, { app: APP, commit: B, request }),
    );
  });
});

describe("an entry's record of the state objects", () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'tampered-entry-state' });
    const build = await writeFixtureBuild(join(t.tmp, 'b'), { version: 'v' });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit: A });
    await deployArtifact(t.site, { app: APP, commit: A, request });
  });
  afterAll(() => t?.stop());

  it('is carried by every entry, and one written otherwise is tampered', async () => {
    const prefix = t.target.statePrefix;
    const entries = await readAudit(t.site.state, prefix);
    const newest = entries.at(-1);
    expect(newest?.state).toEqual({ 'live.json': expect.stringMatching(/^sha256:/) });
    // An entry appended by hand that says live.json is what an edit made it.
    const forged = rehash({
      ...(newest as NonNullable<typeof newest>),
      seq: (newest?.seq ?? 0) + 1,
      type: 'agent-request',
      data: {},
      objects: undefined,
      state: { 'live.json': 'sha256:0000' },
      prevHash: newest?.hash ?? '',
    });
    await t.site.state.put(auditEntryKey(prefix, forged.seq), JSON.stringify(forged));
    await t.site.state.put(
      `${prefix}audit/head.json`,
      JSON.stringify({ seq: forged.seq, hash: forged.hash }),
    );
    expect(await verdict(t.site)).toContain(`tampered: ${forged.seq}`);
  });
});
