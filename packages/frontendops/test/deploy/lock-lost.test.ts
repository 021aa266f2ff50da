/**
 * A deploy whose lock is taken over while it runs (it hung past the lock's ttl, or its renewals
 * failed, and another operator took the lock) stops before its next visible change, LOCKED, and the
 * site serves what it served. Before, nothing told it: it went on and switched the site while the
 * operator that took the lock over was deploying too. The takeover is the one a file lock sees: the
 * holder file names another holder (what the other process writes when it takes the lock). A pin
 * or an unpin, whose one change comes right after its reads, asks too.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { deployLockName } from '../../src/deploy/deploy-lock.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import type { DeployTarget } from '../../src/engine/types.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { readAuditHead, verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import { APP, deployedAtomicEnvFor, heldAtSwitch, request } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { get, releaseOf } from '../support/edge-probe.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;

/** Another process takes the target's deploy lock over: its holder file now names that process. */
function takeOver(lockDir: string, target: DeployTarget): void {
  writeFileSync(
    join(lockDir, `${deployLockName(target)}.json`),
    JSON.stringify({
      owner: 'bob on another machine',
      host: 'elsewhere',
      pid: 1,
      acquiredAt: new Date().toISOString(),
      token: 'bob',
    }),
  );
}

/** Takes the lock over at the deploy's first copy: after its plan, before anything visible. */
const takenOverAtFirstCopy = (lockDir: string, target: DeployTarget) => {
  let done = false;
  return (event: { type: string }) => {
    if (event.type !== 'copy' || done) return;
    done = true;
    takeOver(lockDir, target);
  };
};

describe('atomic', () => {
  const env = deployedAtomicEnvFor({ propagationMs: 25, stack: 'lock-lost-atomic' }, [V1, V2, V3], 1);
  /** V1 deployed and live, nothing stopped: each case starts from it, whichever ran before. */
  let deployed: AtomicSnapshot;
  beforeAll(async () => {
    deployed = await snapshotAtomicEnv(env());
  });
  beforeEach(() => deployed.restore());

  it('a preview stops before its first state write, LOCKED; the state is as it was', async () => {
    const t = env();
    // A lock directory of its own: the takeover below leaves its lock to "bob".
    const lockDir = join(t.tmp, 'preview-locks');
    const site = await t.open({ lockDir });
    const state = async () => (await t.site.state.get(`${t.target.statePrefix}atomic/state.json`))?.etag;
    const before = await state();
    await expect(
      previewLink(site, {
        app: APP,
        commit: V3,
        request: request('preview v3'),
        onEvent: takenOverAtFirstCopy(lockDir, t.target),
      }),
    ).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining('lost its lock') });
    expect(await state()).toBe(before);
    // It stopped before its first state write (the release index): nothing for verify to report.
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });

  it('stops before its switch, LOCKED; the store and the edge still name v1', async () => {
    const t = env();
    const before = await t.store().read();
    await expect(
      deployArtifact(t.site, {
        app: APP,
        commit: V2,
        request: request(),
        onEvent: takenOverAtFirstCopy(join(t.tmp, 'locks'), t.target),
      }),
    ).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringMatching(/lost its lock: it was taken over by another holder\. Nothing more/),
    });
    expect((await t.store().read()).value).toEqual(before.value);
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v1');
    expect((await t.site.records.readPointer())?.value.commit).toBe(V1);
    // What it wrote before it stopped is for the next operation to finish: unfinished, not tampered.
    const { problems } = await verifyAudit(t.site.state, t.target.statePrefix);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.filter((p) => p.kind !== 'unfinished')).toEqual([]);
  });

  it('taken over while its switch was on its way: it writes no state after it, and the next operation finishes the switch', async () => {
    const t = env();
    // The state is read and written whole after a switch: written by a holder that lost its lock,
    // it would put back what it read over what the new holder wrote since (a canary, a preview).
    const lockDir = join(t.tmp, 'switch-locks');
    const held = heldAtSwitch(t.store());
    const site = await t.open({ lockDir, releases: held.store });
    const state = async () => (await t.site.state.get(`${t.target.statePrefix}atomic/state.json`))?.etag;
    const before = await state();
    const deploy = deployArtifact(site, { app: APP, commit: V3, request: request('deploy v3') });
    await held.reached;
    takeOver(lockDir, t.target);
    held.release();
    await expect(deploy).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringMatching(/lost its lock: it was taken over by another holder/),
    });
    // The switch landed; the state is as the lost holder found it.
    expect((await t.store().read()).value).toMatchObject({ live: expect.stringMatching(/^c3c3c3c-/) });
    expect(await state()).toBe(before);
    // The next operation (an operator with a lock of their own) finishes it, and the chain records it.
    const next = await t.open({ lockDir: join(t.tmp, 'next-locks') });
    const again = await deployArtifact(next, { app: APP, commit: V3, request: request('deploy v3 again') });
    expect(again.outcome).toBe('noop');
    expect((await t.site.records.readPointer())?.value.commit).toBe(V3);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});

describe('in place', () => {
  let t: TestDeployEnv;
  /** V1 deployed and live, nothing pinned: the state prefix and hosting bucket each case starts from. */
  let deployed: BucketSnapshot;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'lock-lost-in-place' });
    await publishFixtureBuilds(t, APP, [V1, V2]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    deployed = await snapshotStack(t.site);
  });
  beforeEach(() => deployed.restore());
  afterAll(() => t?.stop());

  it('stops before its first visible write, LOCKED; the live HTML and pointer are v1', async () => {
    const lockDir = join(t.tmp, 'locks');
    const site = await connectSite(t.target, {
      access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint },
      lockDir,
      onNotice: () => undefined,
    });
    try {
      const html = async () => (await t.site.hosting.get('index.html'))?.body.toString();
      const before = await html();
      await expect(
        deployArtifact(site, {
          app: APP,
          commit: V2,
          request: request(),
          onEvent: takenOverAtFirstCopy(lockDir, t.target),
        }),
      ).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining('lost its lock') });
      expect(await html()).toBe(before);
      expect((await t.site.records.readPointer())?.value.commit).toBe(V1);
    } finally {
      site.close();
    }
  });

  /**
   * The site as a pin or unpin sees it whose lock is taken over once it has read the pin (under its
   * lock, before its entry and pin.json): a holder that hung there past its ttl.
   */
  async function takenOverAtPinRead(lockDir: string): Promise<Site> {
    const site = await connectSite(t.target, {
      access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint },
      lockDir,
      onNotice: () => undefined,
    });
    const pinKey = `${t.target.statePrefix}pin.json`;
    const state = site.state;
    return {
      ...site,
      state: {
        ...state,
        get: async (key, ...rest) => {
          if (key === pinKey) takeOver(lockDir, t.target);
          return state.get(key, ...rest);
        },
      } as typeof state,
    };
  }
  const pinState = async () => ({
    pin: await readPin(t.site),
    head: await readAuditHead(t.site.state, t.target.statePrefix),
  });

  it('a pin and an unpin stop before their entry, LOCKED; pin and chain as they were', async () => {
    const lost = { code: 'LOCKED', message: expect.stringContaining('lost its lock') };
    const unpinned = await pinState();
    expect(unpinned.pin).toBeNull();
    const pinning = await takenOverAtPinRead(join(t.tmp, 'pin-locks'));
    try {
      await expect(pinRelease(pinning, { request: request('pin') })).rejects.toMatchObject(lost);
    } finally {
      pinning.close();
    }
    expect(await pinState()).toEqual(unpinned);

    await pinRelease(t.site, { request: request('pin') });
    const pinned = await pinState();
    expect(pinned.pin?.commit).toBe(V1);
    const unpinning = await takenOverAtPinRead(join(t.tmp, 'unpin-locks'));
    try {
      await expect(unpinRelease(unpinning, { request: request('unpin') })).rejects.toMatchObject(lost);
    } finally {
      unpinning.close();
    }
    expect(await pinState()).toEqual(pinned);
  });
});
