/**
 * Genuine operations stopped at one write, as a process killed there, then the operations people run
 * next: none may leave a stack that every change refuses as TAMPERED (until someone edits the bucket
 * by hand), and `audit verify` says at most "unfinished". Each sequence is one a fuzz of genuine
 * operations found, shrunk to what it takes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePublicKey } from '../../src/approval/keys.ts';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { migrateToAtomic } from '../../src/deploy/migrate.ts';
import { pinRelease, promoteRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import type { Site } from '../../src/site.ts';
import { changeDigest, openApprovalRequest } from '../../src/state/approvals.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { snapshotStack } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** What `audit verify` says, as "<kind>: <object or entry>". */
async function verdict(site: Site): Promise<string[]> {
  const { problems } = await verifyAudit(site.state, site.target.statePrefix, {
    ...(site.releases ? { releaseStore: site.releases } : {}),
  });
  return problems.map((p) => `${p.kind}: ${p.object ?? p.seq}`);
}

/** Each change run in turn, as "ok" or its refusal's code and words. */
async function outcomes(changes: Array<() => Promise<unknown>>): Promise<string[]> {
  const said: string[] = [];
  for (const change of changes) {
    said.push(
      await change().then(
        () => 'ok',
        (e: { code?: string; message: string }) => `${e.code ?? 'INTERNAL'}: ${e.message}`,
      ),
    );
  }
  return said;
}
const tampered = (said: string[]) => said.filter((s) => s.startsWith('TAMPERED'));

/** After a genuine stop: the next changes run, none is refused as TAMPERED, and the chain verifies. */
async function goesOn(site: Site, changes: Array<() => Promise<unknown>>): Promise<string[]> {
  const said = await outcomes(changes);
  expect(tampered(said)).toEqual([]);
  expect(await verdict(site)).toEqual([]);
  return said;
}

/**
 * Stops at the first audit entry of `type` whose text also has `alsoHas` (landing it when `landed`:
 * the head does not move), and at the writes after it that `after` names (default: every one).
 */
function stoppedAtEntry(
  site: Site,
  type: string,
  {
    landed = false,
    alsoHas = '',
    after = () => true,
  }: { landed?: boolean; alsoHas?: string; after?: (key: string) => boolean } = {},
): Site {
  let written = false;
  return stoppingSite(site, (key, body) => {
    const entry =
      /\/audit\/\d{10}\.json$/.test(key) &&
      String(body).includes(`"type":"${type}"`) &&
      String(body).includes(alsoHas);
    if (entry && !written) {
      written = true;
      return !landed;
    }
    return written && after(key);
  });
}

/**
 * The stacks the cases start from, each made once for the file and put back (its snapshot restored)
 * before each case that asks for it: an atomic environment's stack with V1, V2 and V3 published and
 * nothing deployed (atomicEnv), or with V1 then V2 deployed in place, before its outputs named a
 * release store (deployedInPlace); an in-place environment's stack, protected or not, with the three
 * published (inPlaceEnv).
 */
const made = new Map<string, Promise<{ env: unknown; start: { restore(): Promise<void> } }>>();
async function startingFrom<T>(
  name: string,
  make: () => Promise<T>,
  snapshot: (env: T) => Promise<{ restore(): Promise<void> }>,
): Promise<T> {
  let once = made.get(name);
  if (!once) {
    once = make().then(async (env) => ({ env, start: await snapshot(env) }));
    made.set(name, once);
  }
  const { env, start } = await once;
  await start.restore();
  return env as T;
}

/** The file's one atomic environment: both its starting stacks are of it. */
let theAtomicEnv: Promise<AtomicEnv> | undefined;
const atomicEnv = () =>
  startingFrom(
    'nothing deployed',
    () =>
      (theAtomicEnv ??= (async () => {
        const t = await startAtomicEnv({ stack: 'stopped-genuine-atomic' });
        stops.push(() => t.stop());
        await t.publishVersions([V1, V2, V3]);
        return t;
      })()),
    snapshotAtomicEnv,
  );

/**
 * The atomic environment whose stack has had V1 then V2 deployed in place, before its outputs named
 * a release store: what a first atomic switch (a migration, a first atomic deploy) starts from.
 */
const deployedInPlace = () =>
  startingFrom(
    'deployed in place',
    async () => {
      const t = await atomicEnv();
      const inPlace = await t.open({ inPlace: true });
      await deployArtifact(inPlace, { app: APP, commit: V1, request: request() });
      await deployArtifact(inPlace, { app: APP, commit: V2, request: request() });
      return t;
    },
    snapshotAtomicEnv,
  );

const inPlaceEnv = (protectedStack = false): Promise<TestDeployEnv> =>
  startingFrom(
    protectedStack ? 'in place, protected' : 'in place',
    async () => {
      const stack = protectedStack ? 'stopped-genuine-protected' : 'stopped-genuine-in-place';
      const t = await startDeployEnv({ stack }, { protected: protectedStack });
      stops.push(() => t.stop());
      await publishFixtureBuilds(t, APP, [V1, V2, V3]);
      return t;
    },
    (t) => snapshotStack(t.site),
  );

describe('a stopped genuine operation never leaves a stack every change refuses', () => {
  for (const at of ['head', 'pending'] as const) {
    it(`a canary abort stopped after its entry (at ${at === 'head' ? 'the head' : 'its crash-recovery record'}): the next changes finish it`, async () => {
      const t = await atomicEnv();
      await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
      await startCanary(t.site, { app: APP, commit: V2, weightPercent: 23, request: request() });
      const pendingKey = `${t.target.statePrefix}atomic/pending.json`;
      const stopping = stoppedAtEntry(t.site, 'canary-abort', {
        landed: true,
        after: (key) => at === 'head' || key === pendingKey,
      });
      await expect(abortCanary(stopping, { request: request('abort') })).rejects.toThrow(/stopped/);
      expect(await verdict(t.site)).not.toContain(expect.stringMatching(/^tampered/));
      // Before, each was refused: "the audit chain records no canary of it running to abort".
      await goesOn(t.site, [
        () => rollbackRelease(t.site, { to: V1.slice(0, 7), request: request() }),
        () => deployArtifact(t.site, { app: APP, commit: V3, request: request(), pin: 'clear' }),
      ]);
    });
  }

  for (const landed of [false, true]) {
    it(`a stack's first atomic deploy (its migration) stopped ${landed ? 'after' : 'at'} its entry: the next deploys finish it`, async () => {
      const t = await deployedInPlace();
      // The outputs now name the release store: its first switch had nothing atomic before it.
      await expect(
        deployArtifact(stoppedAtEntry(t.site, 'deploy', { landed }), {
          app: APP,
          commit: V3,
          request: request(),
        }),
      ).rejects.toThrow(/stopped/);
      expect(await verdict(t.site)).not.toContain(expect.stringMatching(/^tampered/));
      // Before, each was refused: "switched from a release the live pointer does not keep before it".
      await goesOn(t.site, [
        () => deployArtifact(t.site, { app: APP, commit: V1, request: request() }),
        () => deployArtifact(t.site, { app: APP, commit: V3, request: request() }),
      ]);
    });
  }

  for (const landed of [false, true]) {
    it(`a migration to atomic stopped ${landed ? 'after' : 'at'} its entry: the next deploys finish it`, async () => {
      // Its switch is from no pointer: held to the chain as the stack's first (live.ts, atomic-apply.ts).
      const t = await deployedInPlace();
      await expect(
        migrateToAtomic(stoppedAtEntry(t.site, 'migrate', { landed }), { request: request('migrate') }),
      ).rejects.toThrow(/stopped/);
      expect(await verdict(t.site)).not.toContain(expect.stringMatching(/^tampered/));
      await goesOn(t.site, [
        () => deployArtifact(t.site, { app: APP, commit: V1, request: request() }),
        () => deployArtifact(t.site, { app: APP, commit: V3, request: request() }),
      ]);
    });
  }

  for (const first of ['migration', 'first atomic deploy'] as const) {
    it(`a ${first} stopped after its entry, then a pin and an unpin (which do not finish it): the next deploy finishes it`, async () => {
      const t = await deployedInPlace();
      const stopping = stoppedAtEntry(t.site, first === 'migration' ? 'migrate' : 'deploy', {
        landed: true,
        after: (key) => key === `${t.target.statePrefix}atomic/pending.json`,
      });
      await expect(
        first === 'migration'
          ? migrateToAtomic(stopping, { request: request('migrate') })
          : deployArtifact(stopping, { app: APP, commit: V3, request: request() }),
      ).rejects.toThrow(/stopped/);
      // Before: "a first switch to atomic releases, which this stack's audit chain already records"
      // (or "switched from a release the live pointer does not keep"), for good: its own entry was
      // no longer the chain's newest.
      await goesOn(t.site, [
        () => pinRelease(t.site, { request: request('pin') }),
        () => unpinRelease(t.site, { request: request('unpin') }),
        () => deployArtifact(t.site, { app: APP, commit: V1, request: request() }),
      ]);
    });
  }

  it('a deploy of the live build, made again over files a stopped promote copied, stopped after its entry', async () => {
    const t = await inPlaceEnv();
    await deployArtifact(t.site, { app: APP, commit: V3, request: request() });
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    const live = `${t.target.statePrefix}live.json`;
    await expect(
      promoteRelease(
        stoppingSite(t.site, (key) => key === live),
        { app: APP, commit: V3, request: request('promote') },
      ),
    ).rejects.toThrow(/stopped/);
    await expect(
      deployArtifact(stoppedAtEntry(t.site, 'deploy', { landed: true, alsoHas: '"outcome":"succeeded"' }), {
        app: APP,
        commit: V1,
        request: request(),
      }),
    ).rejects.toThrow(/stopped/);
    expect(await verdict(t.site)).not.toContain(expect.stringMatching(/^tampered/));
    // Before: "names a1a1a1a as the release live before deploy …, but the live pointer keeps c3c3c3c before it".
    await goesOn(t.site, [
      () => deployArtifact(t.site, { app: APP, commit: V2, request: request() }),
      () => deployArtifact(t.site, { app: APP, commit: V1, request: request() }),
    ]);
  });

  for (const at of ['state', 'head'] as const) {
    it(`a preview stopped after its entry (at ${at === 'state' ? 'atomic/state.json' : 'the head'}), then a pin: unfinished, and the next changes go`, async () => {
      const t = await atomicEnv();
      await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
      const stateKey = `${t.target.statePrefix}atomic/state.json`;
      const stopping =
        at === 'state'
          ? stoppingSite(t.site, (key) => key === stateKey)
          : stoppedAtEntry(t.site, 'preview', { landed: true });
      await expect(
        previewLink(stopping, { app: APP, commit: V2, request: request('preview'), verify: false }),
      ).rejects.toThrow(/stopped/);
      expect(await outcomes([() => pinRelease(t.site, { request: request('pin') })])).toEqual(['ok']);
      // Before: "atomic/state.json was changed after entry 4 recorded it", and every change TAMPERED.
      // Stopped at the head, the release index the preview made (written after its entry) is missing too.
      expect(await verdict(t.site)).toEqual([
        'unfinished: atomic/state.json',
        ...(at === 'head' ? [expect.stringMatching(/^unfinished: atomic\/releases\/b2b2b2b-/)] : []),
      ]);
      const said = await outcomes([
        () => previewLink(t.site, { app: APP, commit: V2, request: request('preview'), verify: false }),
        () => unpinRelease(t.site, { request: request('unpin') }),
        () => deployArtifact(t.site, { app: APP, commit: V3, request: request() }),
      ]);
      expect(said).toEqual(['ok', 'ok', 'ok']);
      expect(await verdict(t.site)).toEqual([]);
    });
  }

  it("a stack's first deploy stopped between its live pointer and its entry, then an atomic command: the deploy is finished", async () => {
    const t = await atomicEnv();
    const inPlace = await t.open({ inPlace: true });
    await expect(
      deployArtifact(stoppedAtEntry(inPlace, 'release'), { app: APP, commit: V2, request: request() }),
    ).rejects.toThrow(/stopped/);
    // The outputs now name the release store. Refused, but it settles the stopped deploy first.
    const [canary] = await outcomes([
      () => startCanary(t.site, { app: APP, commit: V1, weightPercent: 99, request: request() }),
    ]);
    expect(canary).toMatch(/^CONFLICT: Nothing is live on .* as an atomic release yet/);
    // Before: recorded superseded though the pointer named it: "live.json … written around the chain".
    expect(await verdict(t.site)).toEqual([]);
    const said = await outcomes([() => deployArtifact(t.site, { app: APP, commit: V3, request: request() })]);
    expect(said).toEqual(['ok']);
    expect(await verdict(t.site)).toEqual([]);
  });

  /**
   * A pin change stopped after its entry landed and before the head moved (pin.json goes out beside
   * the head's move, so both are lost): the next change counts that entry before it acts.
   */
  const pinStoppedBeforeHeadMove = (site: Site, type: 'pin' | 'unpin') =>
    stoppedAtEntry(site, type, {
      landed: true,
      after: (key) => key.endsWith('/audit/head.json') || key.endsWith('/pin.json'),
    });

  it('a pin stopped before the head moved, then a deploy of another build: refused PINNED, and the stack goes on', async () => {
    const t = await inPlaceEnv();
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    await expect(
      pinRelease(pinStoppedBeforeHeadMove(t.site, 'pin'), { request: request('pin') }),
    ).rejects.toThrow(/stopped/);
    // Before, the deploy ran past the pin the chain records, and every change after was TAMPERED.
    const [deploy] = await outcomes([
      () => deployArtifact(t.site, { app: APP, commit: V2, request: request() }),
    ]);
    expect(deploy).toMatch(/^PINNED: /);
    expect((await t.site.records.readPointer())?.value.commit).toBe(V1);
    // pin.json is back as the entry records it; the head moves to that entry at the next append.
    expect(await verdict(t.site)).toEqual([expect.stringMatching(/^unfinished: \d+$/)]);
    const said = await outcomes([
      () => unpinRelease(t.site, { request: request('unpin') }),
      () => deployArtifact(t.site, { app: APP, commit: V3, request: request() }),
      () => rollbackRelease(t.site, { request: request() }),
    ]);
    expect(said).toEqual(['ok', 'ok', 'ok']);
    expect(await verdict(t.site)).toEqual([]);
  });

  it('a promote stopped after its unpin entry, before the head moved, then a preview: the pin is lifted, and the stack goes on', async () => {
    const t = await atomicEnv();
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    await deployArtifact(t.site, { app: APP, commit: V2, request: request() });
    await rollbackRelease(t.site, { request: request() }); // V1 live, pinned
    await expect(
      promoteRelease(pinStoppedBeforeHeadMove(t.site, 'unpin'), {
        app: APP,
        commit: V2,
        request: request('promote'),
      }),
    ).rejects.toThrow(/stopped/);
    const said = await goesOn(t.site, [
      () => previewLink(t.site, { app: APP, commit: V3, request: request('preview'), verify: false }),
      () => deployArtifact(t.site, { app: APP, commit: V3, request: request() }),
      () => promoteRelease(t.site, { app: APP, commit: V2, request: request() }),
    ]);
    expect(said).toEqual(['ok', 'ok', 'ok']);
  });

  it('an approval request stopped before its object, never asked again: unfinished for its hour, then over', async () => {
    const t = await inPlaceEnv(true);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    const planned = await deployArtifact(t.site, { app: APP, commit: V2, request: request(), dryRun: true });
    const asked = Date.now();
    await expect(
      openApprovalRequest(
        stoppingSite(t.site, (key) => key.includes('/approvals/requests/')),
        {
          action: 'deploy',
          deployId: planned.deployId,
          summary: `deploy ${APP}@${V2.slice(0, 7)}`,
          app: APP,
          commit: V2,
          change: changeDigest(planned.plan),
          requestedBy: 'claude-code',
          now: asked,
        },
      ),
    ).rejects.toThrow(/stopped/);
    // The team deploys V3 instead: the request is never asked for again.
    await deployArtifact(t.site, { app: APP, commit: V3, request: request() });
    expect(await verdict(t.site)).toEqual([expect.stringMatching(/^unfinished: approvals\/requests\//)]);
    // Before, verify failed on it for good (exit 1).
    const later = await verifyAudit(t.site.state, t.target.statePrefix, { now: asked + 2 * 3600_000 });
    expect(later.problems).toEqual([]);
  });

  it("two deploys in a row stopped at the hosting bucket's environment marker: unfinished, and the next deploy writes it", async () => {
    const t = await inPlaceEnv();
    /** The site with the marker's write failing, and every write after it. */
    const stoppedAtMarker = (site: Site): Site => {
      let stopped = false;
      const fail = () => {
        stopped = true;
        throw new Error('the process stopped at the marker write');
      };
      const guard =
        <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
        async (...a: A) =>
          stopped ? fail() : fn(...a);
      const hosting = {
        ...site.hosting,
        put: async (...args: Parameters<Site['hosting']['put']>) =>
          stopped || String(args[0]).endsWith('.frontendops/environment.json')
            ? fail()
            : site.hosting.put(...args),
        delete: guard(site.hosting.delete.bind(site.hosting)),
        copyFrom: guard(site.hosting.copyFrom.bind(site.hosting)),
      };
      return { ...site, hosting };
    };
    const hosting = { bucket: t.site.target.hostingBucket, store: t.site.hosting };
    const markerVerdict = async () =>
      (await verifyAudit(t.site.state, t.target.statePrefix, { hosting })).problems.map((p) => p.kind);
    for (const _ of [1, 2]) {
      await expect(
        deployArtifact(stoppedAtMarker(t.site), { app: APP, commit: V1, request: request() }),
      ).rejects.toThrow(/stopped/);
      // Before, the second read as "…/environment.json, written by entry 2, is missing (it was deleted)".
      expect(await markerVerdict()).toEqual(['unfinished']);
    }
    expect(
      await outcomes([() => deployArtifact(t.site, { app: APP, commit: V1, request: request() })]),
    ).toEqual(['ok']);
    expect(await markerVerdict()).toEqual([]);
  });

  it('a pin stopped before pin.json, then an approval request on a protected stack: the pin is still finished', async () => {
    const t = await inPlaceEnv(true);
    const ada = generateKeyPairSync('ed25519').privateKey;
    const site: Site = {
      ...t.site,
      approval: { approvers: { Ada: encodePublicKey(ada) }, trustElicitation: false },
    };
    await deployArtifact(site, { app: APP, commit: V1, request: request() });
    const pinKey = `${site.target.statePrefix}pin.json`;
    await expect(
      pinRelease(
        stoppingSite(site, (key) => key === pinKey),
        { request: request('pin') },
      ),
    ).rejects.toThrow(/stopped/);
    // The agent asks to deploy V2: the infra server records an approval request, without the deploy lock.
    const planned = await deployArtifact(site, { app: APP, commit: V2, request: request(), dryRun: true });
    await openApprovalRequest(site, {
      action: 'deploy',
      deployId: planned.deployId,
      summary: `deploy ${APP}@${V2.slice(0, 7)}`,
      app: APP,
      commit: V2,
      change: changeDigest(planned.plan),
      requestedBy: 'claude-code',
      now: Date.now(),
    });
    // Before: "pin.json, bound by entry 4, is missing (it was deleted)", and every change TAMPERED.
    expect(await verdict(site)).toEqual(['unfinished: pin.json']);
    const said = await outcomes([
      () => pinRelease(site, { request: request('pin') }),
      () => unpinRelease(site, { request: request('unpin') }),
      () => deployArtifact(site, { app: APP, commit: V2, request: request() }),
    ]);
    expect(said).toEqual(['ok', 'ok', 'ok']);
    expect(await verdict(site)).toEqual([]);
  });
});
