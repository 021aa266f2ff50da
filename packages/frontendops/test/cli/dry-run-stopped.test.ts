/**
 * A change whose earlier run went live and stopped before it was verified and recorded (its
 * crash-recovery record names it): run again, it finishes that one, and its dry run says so, in the
 * same words on each surface (`deploy --dry-run`, `rollback --dry-run`, plan_deploy,
 * get_deploy_target). Before, the dry run said the build was already live with nothing to do, while
 * the run verified and recorded the stopped change. One rule decides it for all (apply.ts wentLive,
 * atomic-apply.ts switchedLive): the infra tools' steps finish what get_deploy_target says they
 * finish, a rollback as a deploy, and one stopped before its record said its pointer moved.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease, promoteRelease } from '../../src/deploy/pin.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import { parseTrailers } from '../../src/git/deploy-tag.ts';
import { PIN_EFFECT } from '../../src/read/pin-words.ts';
import type { Site } from '../../src/site.ts';
import { readAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type AtomicEnv, startAtomicEnv, storedAtomicPending } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { snapshotStack } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { connectInfra, infraServerOn } from '../support/mcp-infra.ts';
import { cli } from '../support/run-cli.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;
const request: RequestInfo = {
  text: 'ship',
  actor: 'rm-alice',
  planner: 'cli',
  at: new Date().toISOString(),
};

/** Stopped at its deployment record's write: live, not verified nor recorded. Its deploy id. */
async function stoppedAfterItsSwitch(site: Site, change: () => Promise<unknown>): Promise<string> {
  await expect(change()).rejects.toThrow(/stopped/);
  const pointer = await site.records.readPointer();
  if (!pointer) throw new Error('the stopped change went live');
  return pointer.value.deployId;
}
const stopping = (site: Site) => stoppingSite(site, (key) => /\/deployments\/[^/]+\.json$/.test(key));

/** Stopped after its pointer moved, before its crash-recovery record says so: the live pointer names it. */
const stoppingBeforeItsFlag = (site: Site) =>
  stoppingSite(
    site,
    (key, body) =>
      key.endsWith(`${site.target.statePrefix}pending.json`) && /"pointerMoved": true/.test(String(body)),
  );

/**
 * What each dry run says, and what the run then does: `frontendops` run again, or the infra tools' steps.
 * `by`: the command that finishes it, when not the same change again (a change of another kind);
 * `asJson`: its run is read as --json (else its words). The deploy tag the run made, if any.
 */
async function saidAndDone(
  site: Site,
  run: (argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  stopped: string,
  what: 'deployment' | 'rollback' | 'canary promote',
  commit: string = V2,
  finishedBy: 'cli' | 'tools' = 'cli',
  { by, asJson = false }: { by?: string[]; asJson?: boolean } = {},
): Promise<string | undefined> {
  const finish = new RegExp(
    `finish ${what} ${stopped} of ${APP}@${commit.slice(0, 7)} on \\S+: it went live, but it was interrupted before it was verified and recorded`,
  );
  // A rollback someone asked for pins its release as its last step: finishing it, a deploy or the
  // rollback again says so (a promote lifts the pin).
  const pins = what === 'rollback';
  const pinned = (tense: string) =>
    `${tense} ${site.target.stack} to ${APP}@${commit.slice(0, 7)}, and the pin stays`;
  const pinSaid = (text: string, tense: string) =>
    pins ? expect(text).toContain(pinned(tense)) : expect(text).not.toMatch(/the pin stays/);
  const argv = by ?? (what === 'rollback' ? ['rollback'] : ['deploy', '--commit', commit]);
  const dry = await run([...argv, '--dry-run']);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(finish);
  expect(dry.stdout).not.toMatch(/already live|would copy/);
  pinSaid(dry.stdout, 'finishing the rollback pins');
  const json = await run([...argv, '--dry-run', '--json']);
  const planned = JSON.parse(json.stdout);
  expect(planned).toMatchObject({ dryRun: true, finishes: stopped });
  // The pin its words name, as a field: the stopped rollback's release, under its deploy id, in the
  // shape and under the name the run's --json gives it (`pinned`, a pin's fields; `at` once set).
  expect(planned).not.toHaveProperty('pins');
  // A rollback pins the release it makes live: its dry run says that pin too.
  if (argv[0] === 'rollback' && !pins)
    expect(planned.pinned).toMatchObject({ deployId: stopped, commit, cause: 'rollback', by: 'rm-alice' });
  else if (pins)
    expect(planned.pinned).toMatchObject({
      deployId: stopped,
      app: APP,
      commit,
      cause: 'rollback',
      by: 'rm-alice',
    });
  else expect(planned).not.toHaveProperty('pinned');
  // The infra tools plan a deploy of the same build: its run finishes the stopped change, whatever it was.
  const c = await connectInfra(infraServerOn(site));
  try {
    for (const tool of ['plan_deploy', 'get_deploy_target']) {
      const said = await c.call(tool, { commit });
      expect(said.text, tool).toMatch(new RegExp(finish.source, 'i'));
      expect(said.text, tool).not.toMatch(/already live|nothing to do/);
      pinSaid(said.text, 'finishing the rollback pins');
    }
    if (finishedBy === 'tools') {
      // As get_deploy_target said: its handle names the stopped change, and the next steps finish it.
      const target = await c.call('get_deploy_target', { commit });
      expect(target.structured, target.text).toMatchObject({ noop: false, deployId: stopped });
      const synced = await c.call('run_sync', { handle: target.structured.handle });
      expect(synced.structured, synced.text).toMatchObject({ deployId: stopped, outcome: 'synced' });
      const done = await c.call('invalidate_cdn', { deployId: stopped });
      expect(done.structured, done.text).toMatchObject({ deployId: stopped, outcome: 'succeeded' });
      // Each step names the change as what it was: a rollback is not called a deployment.
      for (const said of [synced, done])
        expect(said.text).toMatch(new RegExp(`^${what} ${stopped} of `, 'i'));
      expect(await site.records.readRecord(stopped)).toMatchObject({ outcome: 'succeeded' });
      const again = await run([...argv, '--dry-run', '--json']);
      expect(JSON.parse(again.stdout)).not.toHaveProperty('finishes');
      return undefined;
    }
  } finally {
    await c.close();
  }
  // The run does what its dry run said: in --json it names the change the dry run named.
  if (asJson) {
    const real = await run([...argv, '--json']);
    expect(real.code, real.stderr).toBe(0);
    const summary = JSON.parse(real.stdout);
    expect(summary).toMatchObject({ dryRun: false, outcome: 'noop', finishedInterrupted: stopped });
    if (pins) expect(summary.pinned).toMatchObject({ cause: 'rollback', commit, deployId: stopped });
    else if (argv[0] === 'deploy') expect(summary).not.toHaveProperty('pinned');
    return summary.tag ?? undefined;
  }
  const real = await run(argv);
  expect(real.code, real.stderr).toBe(0);
  // Said as what it was: a rollback finished is not called a deploy.
  expect(real.stdout).toContain(`finished the interrupted ${what} ${stopped}, which had made it live`);
  expect(real.stdout).not.toMatch(/already live/);
  if (argv[0] === 'deploy') pinSaid(real.stdout, 'the rollback it finished pinned');
  // A rollback finished by running it again: its pin, in the words every surface says it with.
  else if (pins) expect(real.stdout).toContain(`pinned: ${PIN_EFFECT} `);
  return /^ {2}tag: (\S+)$/m.exec(real.stdout)?.[1];
}

describe('in place', () => {
  let t: TestDeployEnv;
  let run: (argv: string[]) => ReturnType<typeof cli>;
  /** The stacks the cases start from, made once: v1 live; then v2 live, v1 kept. */
  let v1Live: { restore(): Promise<void> };
  let v2Live: { restore(): Promise<void> };
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'dry-run-stopped' });
    await publishFixtureBuilds(t, APP, [V1, V2]);
    const outputs = await t.writeOutputs({ cdn: true });
    const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
    run = (argv) => cli([...argv, '--stack', outputs], { env, cwd: t.tmp });
    const snapshot = () => snapshotStack(t.site);
    await deployArtifact(t.site, { app: APP, commit: V1, request });
    v1Live = await snapshot();
    await deployArtifact(t.site, { app: APP, commit: V2, request });
    v2Live = await snapshot();
  }, 180_000);
  afterAll(() => t?.stop());

  it('a deploy stopped after its switch: its dry run says the run finishes it', async () => {
    await v1Live.restore();
    const stopped = await stoppedAfterItsSwitch(t.site, () =>
      deployArtifact(stopping(t.site), { app: APP, commit: V2, request }),
    );
    await saidAndDone(t.site, run, stopped, 'deployment');
  });

  it('a deploy stopped after its pointer moved, before its record said so: the tools finish it', async () => {
    await v2Live.restore();
    // v2 is live: v1 goes live again and stops there.
    const stopped = await stoppedAfterItsSwitch(t.site, () =>
      deployArtifact(stoppingBeforeItsFlag(t.site), { app: APP, commit: V1, request }),
    );
    expect(await t.site.records.readPending()).toMatchObject({
      pointerMoved: false,
      plan: { deployId: stopped },
    });
    await saidAndDone(t.site, run, stopped, 'deployment', V1, 'tools');
  });

  it('a rollback stopped after its switch: its dry run says the run finishes it', async () => {
    await v2Live.restore();
    // v2 is live, v1 kept: the rollback goes back to v1 and stops.
    const stopped = await stoppedAfterItsSwitch(t.site, () => rollbackRelease(stopping(t.site), { request }));
    await saidAndDone(t.site, run, stopped, 'rollback', V1);
  });
});

describe('atomic', () => {
  let t: AtomicEnv;
  let run: (argv: string[]) => ReturnType<typeof cli>;
  /** The stacks the cases start from, made once: v1 live; then v2 live, v1 kept. */
  let v1Live: AtomicSnapshot;
  let v2Live: AtomicSnapshot;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'dry-run-stopped-atomic' });
    await t.publishVersions([V1, V2]);
    const outputs = await t.writeOutputs();
    const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
    run = (argv) => cli([...argv, '--stack', outputs], { env, cwd: t.tmp });
    await deployArtifact(t.site, { app: APP, commit: V1, request });
    v1Live = await snapshotAtomicEnv(t);
    await deployArtifact(t.site, { app: APP, commit: V2, request });
    v2Live = await snapshotAtomicEnv(t);
  }, 180_000);
  afterAll(() => t?.stop());

  it('a deploy stopped after its switch: its dry run says the run finishes it', async () => {
    await v1Live.restore();
    await expect(deployArtifact(stopping(t.site), { app: APP, commit: V2, request })).rejects.toThrow(
      /stopped/,
    );
    const pending = (await t.site.state.get(`${t.target.statePrefix}atomic/pending.json`))?.body.toString(
      'utf8',
    );
    const stopped = JSON.parse(pending ?? '{}').plan?.deployId as string;
    expect(stopped).toMatch(/^b2b2b2b-/);
    await saidAndDone(t.site, run, stopped, 'deployment');
  });

  it('a rollback stopped after its switch: its dry run says the run finishes it, and the tools do', async () => {
    await v2Live.restore();
    // v2 is live, v1 kept: the rollback goes back to v1 and stops.
    await expect(rollbackRelease(stopping(t.site), { request })).rejects.toThrow(/stopped/);
    const pending = await storedAtomicPending(t.site);
    expect(pending).toMatchObject({ op: 'rollback', switched: true });
    await saidAndDone(t.site, run, pending.plan.deployId, 'rollback', V1, 'tools');
  });
});

/**
 * Finished by a change of another kind: a deploy of the release a stopped rollback made live, a
 * rollback to the one a stopped deploy made live, a deploy of the one a stopped canary promote made
 * live. The run does and says what its dry run said, records the stopped change as what it was, and
 * tags it as that change's own run would have: a rollback as a rollback, from the commit it took
 * down. Before, on an atomic stack such a run said "already live, nothing to do" (it finished the
 * stopped change only when it was of its own kind), and in place the tag was of the run's kind.
 */
function finishedByAnotherKind(mode: 'in place' | 'atomic') {
  describe(`${mode}: finished by a change of another kind`, () => {
    let site: Site;
    let repo: TestRepo;
    let run: (argv: string[]) => ReturnType<typeof cli>;
    let stop: () => Promise<void>;
    /** The stack as beforeAll left it, put back before each case: each starts there, whichever ran before. */
    let start: { restore(): Promise<void> };
    /** The build live at the start (deployed last), and the one before it. */
    let [live, other] = ['', ''];
    beforeAll(async () => {
      repo = await createTestRepo();
      [other, live] = [repo.commits.dashboard1, repo.commits.dashboard2];
      const stack = `another-kind-${mode === 'atomic' ? 'atomic' : 'in-place'}`;
      let outputs: string;
      let env: Record<string, string>;
      let atomicEnv: AtomicEnv | null = null;
      if (mode === 'atomic') {
        const t = await startAtomicEnv({ stack });
        atomicEnv = t;
        stop = () => t.stop();
        await t.publishVersions([other, live]);
        [site, outputs, env] = [t.site, await t.writeOutputs(), t.cliEnv()];
      } else {
        const t = await startDeployEnv({ stack });
        stop = () => t.stop();
        await publishFixtureBuilds(t, APP, [other, live]);
        [site, outputs, env] = [t.site, await t.writeOutputs({ cdn: true }), t.cliEnv()];
      }
      env = { ...env, AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
      run = (argv) => cli([...argv, '--stack', outputs], { env, cwd: repo.dir });
      for (const commit of [other, live]) await deployArtifact(site, { app: APP, commit, request });
      start = atomicEnv ? await snapshotAtomicEnv(atomicEnv) : await snapshotStack(site);
    }, 180_000);
    beforeEach(async () => {
      await start.restore();
      [other, live] = [repo.commits.dashboard1, repo.commits.dashboard2];
    });
    afterAll(async () => {
      await stop?.();
      await repo?.cleanup();
    });

    /** Each case makes the other build live: the build live before it, and the one it makes live. */
    const wentLive = () => {
      [live, other] = [other, live];
      return [other, live] as const;
    };
    /** The change `change` stopped after its switch, by its deploy id. */
    const stoppedAfterSwitch = async (change: () => Promise<unknown>): Promise<string> => {
      if (mode === 'in place') return stoppedAfterItsSwitch(site, change);
      await expect(change()).rejects.toThrow(/stopped/);
      return (await storedAtomicPending(site)).plan.deployId;
    };
    /** The tag's subject and trailers. */
    const tagged = async (tag: string | undefined) => {
      expect(tag).toMatch(/^dashboard-deploy-/);
      const message = await repo.git(['tag', '-l', '--format=%(contents)', String(tag)]);
      return { subject: message.split('\n')[0], trailers: parseTrailers(message) };
    };
    /** The audit entry that recorded deployment `deployId`'s outcome last (a canary's start is its first). */
    const entryOf = async (deployId: string) =>
      (await readAudit(site.state, site.target.statePrefix))
        .filter((e) => e.data.deployId === deployId && e.data.outcome !== undefined)
        .at(-1);

    if (mode === 'atomic') {
      it('a canary promote stopped after its switch, finished by a deploy of its release', async () => {
        const [, to] = wentLive();
        await startCanary(site, { app: APP, commit: to, weightPercent: 10, request });
        const stopped = await stoppedAfterSwitch(() => promoteCanary(stopping(site), { request }));
        const tag = await saidAndDone(site, run, stopped, 'canary promote', to, 'cli', {
          by: ['deploy', '--commit', to],
        });
        expect(await entryOf(stopped)).toMatchObject({
          type: 'canary-promote',
          data: { outcome: 'succeeded' },
        });
        const { subject, trailers } = await tagged(tag);
        expect(subject).toBe(`Deploy ${APP} ${to.slice(0, 7)}`);
        expect(trailers).toMatchObject({ 'Deploy-Id': stopped });
        expect(trailers).not.toHaveProperty('Kind');
      });
    }

    if (mode === 'atomic') {
      it('a canary start stopped after its switch, then a deploy of its build: each names what it finishes', async () => {
        // The canary's build is not live: the deploy finishes the canary start, then is refused as
        // any deploy is while a canary runs. Before, the dry run and the tools named only the
        // refusal, and the run recorded the canary start without saying so.
        const stopped = await stoppedAfterSwitch(() =>
          startCanary(stopping(site), { app: APP, commit: other, weightPercent: 10, request }),
        );
        const argv = ['deploy', '--commit', other];
        const finish = `finish canary start ${stopped} of ${APP}@${other.slice(0, 7)} on ${site.target.stack}: it went live, but it was interrupted before it was verified and recorded`;
        const refused = /A canary of \S+ runs on \S+ \(10% of visitors\)\. Promote it or abort it first/;
        const dry = await run([...argv, '--dry-run']);
        expect(dry.code, dry.stdout).toBe(2);
        expect(dry.stderr).toContain(finish);
        expect(dry.stderr).toMatch(refused);
        const json = JSON.parse((await run([...argv, '--dry-run', '--json'])).stdout);
        expect(json.error.message).toContain(finish);
        const c = await connectInfra(infraServerOn(site));
        try {
          for (const tool of ['plan_deploy', 'get_deploy_target']) {
            const said = await c.call(tool, { commit: other });
            expect(said.isError, tool).toBe(true);
            expect(said.text, tool).toContain(finish);
          }
        } finally {
          await c.close();
        }
        expect(await entryOf(stopped)).toBeUndefined();
        const real = await run(argv);
        expect(real.code, real.stdout).toBe(2);
        expect(real.stderr, real.stderr).toContain(`finished the interrupted canary start ${stopped}`);
        expect(real.stderr).toMatch(refused);
        expect(await entryOf(stopped)).toMatchObject({
          type: 'canary-start',
          data: { outcome: 'succeeded' },
        });
      });
    }

    it('a rollback stopped after its switch, finished by a deploy of its release', async () => {
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() => rollbackRelease(stopping(site), { request }));
      const tag = await saidAndDone(site, run, stopped, 'rollback', to, 'cli', {
        by: ['deploy', '--commit', to],
        asJson: mode === 'atomic',
      });
      expect(await entryOf(stopped)).toMatchObject({ type: 'rollback', data: { outcome: 'succeeded' } });
      // Tagged as the rollback's own run tags it: a rollback, from the commit it took down.
      const { subject, trailers } = await tagged(tag);
      expect(subject).toBe(`Roll back ${APP} from ${from.slice(0, 7)} to ${to.slice(0, 7)}`);
      expect(trailers).toMatchObject({ 'Deploy-Id': stopped, Kind: 'rollback', 'Rolled-Back-From': from });
    });

    it('a deploy stopped after its switch, then deploy of another build: the run says the finish its dry run did', async () => {
      // Its dry run says "first: finish ..."; the run finishes and records that deploy, then deploys
      // this build: it says both. Before, it said the deploy alone (text and --json).
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() =>
        deployArtifact(stopping(site), { app: APP, commit: to, request }),
      );
      const argv = ['deploy', '--commit', from, '--no-tag'];
      const dry = await run([...argv, '--dry-run']);
      expect(dry.stdout).toMatch(new RegExp(`^ {2}first: finish deployment ${stopped} `, 'm'));
      const real = await run([...argv, '--json']);
      expect(real.code, real.stderr).toBe(0);
      expect(JSON.parse(real.stdout)).toMatchObject({ outcome: 'succeeded', finishedFirst: stopped });
      expect(await entryOf(stopped)).toMatchObject({ type: 'deploy', data: { outcome: 'succeeded' } });
    });

    it('a deploy stopped after its switch, then deploy of another build in words: the run says the finish', async () => {
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() =>
        deployArtifact(stopping(site), { app: APP, commit: to, request }),
      );
      const real = await run(['deploy', '--commit', from, '--no-tag']);
      expect(real.code, real.stderr).toBe(0);
      expect(real.stdout).toContain(
        `  first: finished the interrupted deployment ${stopped}, which had made it live; recorded now`,
      );
    });

    it('a deploy stopped after its switch, then a run whose plan is refused as changed: it says the finish', async () => {
      // What stops a run at its plan (the console's and run_sync's check that it is the plan shown)
      // comes after the run finished the stopped deploy: its refusal says so, in place and atomic.
      // Before, on atomic releases, it said the refusal alone.
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() =>
        deployArtifact(stopping(site), { app: APP, commit: to, request }),
      );
      const changed = new FrontendOpsError('CONFLICT', 'The plan changed.');
      const refused = await deployArtifact(site, {
        app: APP,
        commit: from,
        request,
        onEvent: (event) => {
          if (event.type === 'plan') throw changed;
        },
      }).catch((error: unknown) => error as Error);
      expect(refused).toMatchObject({ code: 'CONFLICT' });
      expect((refused as Error).message).toBe(
        `The plan changed. (This run finished the interrupted deployment ${stopped}, which had made it live; recorded now.)`,
      );
      expect(await entryOf(stopped)).toMatchObject({ type: 'deploy', data: { outcome: 'succeeded' } });
    });

    it('a deploy stopped after its switch, then run_sync of another build: its answer says the finish', async () => {
      // The run finishes the stopped deploy first, as get_deploy_target said, then syncs this build:
      // its answer says both, in words and as a field. Before, it said the sync alone.
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() =>
        deployArtifact(stopping(site), { app: APP, commit: to, request }),
      );
      const c = await connectInfra(infraServerOn(site));
      try {
        const target = await c.call('get_deploy_target', { commit: from });
        expect(target.structured.description).toMatch(new RegExp(`^first finish deployment ${stopped} `));
        const sync = await c.call('run_sync', { handle: target.structured.handle });
        expect(sync.isError, sync.text).toBe(false);
        expect(sync.structured).toMatchObject({
          deployId: target.structured.deployId,
          outcome: 'synced',
          finishedFirst: stopped,
        });
        expect(sync.text).toMatch(
          new RegExp(
            `^First finished the interrupted deployment ${stopped}, which had made it live; recorded now\\. Synced ${APP}@${from.slice(0, 7)} `,
          ),
        );
        const done = await c.call('invalidate_cdn', { deployId: target.structured.deployId });
        expect(done.structured, done.text).toMatchObject({ outcome: 'succeeded' });
      } finally {
        await c.close();
      }
      expect(await entryOf(stopped)).toMatchObject({ type: 'deploy', data: { outcome: 'succeeded' } });
    });

    it('a deploy stopped after its switch, then run_sync of another build: its approval asks for the finish too', async () => {
      // The run finishes the stopped deploy before it uses the approval, then copies this build: the
      // approval is asked for both, in the plan's words (get_deploy_target's). Before, it was asked
      // for "copy ..." alone.
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() =>
        deployArtifact(stopping(site), { app: APP, commit: to, request }),
      );
      const c = await connectInfra(infraServerOn({ ...site, protected: true }));
      try {
        const target = await c.call('get_deploy_target', { commit: from });
        expect(target.isError, target.text).toBe(false);
        expect(target.structured).toMatchObject({ approvalRequired: true });
        const description = String(target.structured.description);
        expect(description).toMatch(new RegExp(`^first finish deployment ${stopped} .*; then `));
        const sync = await c.call('run_sync', { handle: target.structured.handle });
        expect(sync.isError, sync.text).toBe(true);
        expect(sync.text).toMatch(/^APPROVAL_REQUIRED: /);
        expect(sync.text).toContain(`"${description}" needs a person's approval`);
      } finally {
        await c.close();
      }
      // Nothing was done without the approval: the stopped deploy still waits.
      expect(await entryOf(stopped)).toBeUndefined();
    });

    it('a rollback stopped after its switch, then a deploy of another build: its refusal names the rollback it finished', async () => {
      // The deploy finishes the rollback, whose last step pins its release, then is refused as any
      // deploy past a pin is. Before, in place the refusal said only the pin (as if nothing had
      // been done), while the atomic path named the rollback it had finished.
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() => rollbackRelease(stopping(site), { request }));
      // Its dry runs say both: the rollback it finishes first, and the refusal that finish leaves.
      // Before, they planned the deploy alone (files to copy) and said neither.
      const finish = `finish rollback ${stopped} of ${APP}@${to.slice(0, 7)} on ${site.target.stack}: it went live, but it was interrupted before it was verified and recorded`;
      const pinnedTo = new RegExp(
        `is pinned to ${APP}@${to.slice(0, 7)} \\(${stopped}\\).* when rolling back`,
      );
      const dry = await run(['deploy', '--commit', from, '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(`first: ${finish}`);
      expect(dry.stdout).toMatch(/refused \(PINNED\): /);
      expect(dry.stdout).toMatch(pinnedTo);
      const json = JSON.parse((await run(['deploy', '--commit', from, '--dry-run', '--json'])).stdout);
      expect(json).toMatchObject({
        dryRun: true,
        commit: from,
        finishesFirst: stopped,
        pinned: { deployId: stopped, app: APP, commit: to, cause: 'rollback' },
        refusedBy: { code: 'PINNED' },
      });
      expect(json).not.toHaveProperty('finishes');
      expect(json.refusedBy.message).toMatch(pinnedTo);
      const c = await connectInfra(infraServerOn(site));
      try {
        const planned = await c.call('plan_deploy', { commit: from });
        expect(planned.isError, planned.text).toBe(false);
        expect(planned.text).toContain(finish);
        expect(planned.structured.refusedBy).toEqual(json.refusedBy);
        const target = await c.call('get_deploy_target', { commit: from });
        expect(target.isError, target.text).toBe(true);
        expect(target.text).toMatch(/^PINNED: /);
        expect(target.text).toMatch(pinnedTo);
        expect(target.text).toContain(finish);
      } finally {
        await c.close();
      }
      expect(await entryOf(stopped)).toBeUndefined();
      const real = await run(['deploy', '--commit', from]);
      expect(real.code, real.stdout).toBe(2);
      expect(real.stderr).toMatch(/is pinned to \S+ \(\S+\) since .* when rolling back/);
      expect(real.stderr).toContain(
        `(This run finished the interrupted rollback ${stopped}, which had made it live`,
      );
      // Something was changed (the finish), as the refusal says after: not "nothing was changed",
      // which it said before, its dry run too.
      expect(real.stderr).toContain(', so nothing more was changed. ');
      expect(json.refusedBy.message).toContain(', so nothing more was changed. ');
      expect(await entryOf(stopped)).toMatchObject({ type: 'rollback', data: { outcome: 'succeeded' } });
    });

    it('a stale pin of another build, a rollback stopped after its switch: a deploy of its release finishes it', async () => {
      // Pinned on purpose to the live build; then a rollback (past that pin, as rollbacks go) stops
      // after its switch. Its own pin, its last step, replaces that one: a deploy of its release is
      // held to the rollback's pin, as the CLI's dry run said. Before, get_deploy_target refused
      // PINNED (and in place so did the run) naming the pin the rollback replaces.
      await pinRelease(site, { request });
      const [, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() => rollbackRelease(stopping(site), { request }));
      await saidAndDone(site, run, stopped, 'rollback', to, mode === 'atomic' ? 'tools' : 'cli', {
        by: ['deploy', '--commit', to],
      });
      expect(await readPin(site)).toMatchObject({
        cause: 'rollback',
        commit: to,
        replaces: { commit: other },
      });
    });

    it('a promote stopped after its switch: the pin it did not lift yet, as each dry run says it and the run leaves it', async () => {
      // Pinned to the live build; a promote of the other one stops after its switch, before it lifts
      // the pin. A deploy of its build is refused as any deploy past the pin; the promote again lifts
      // it; a rollback to it pins it. Each dry run says what its run does with the pin. Before, the
      // deploy's and the rollback's dry runs said only that they would finish the stopped change.
      await pinRelease(site, { request });
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() =>
        promoteRelease(stopping(site), { app: APP, commit: to, request }),
      );
      expect(await readPin(site)).toMatchObject({ cause: 'pin', commit: from });
      const pinnedTo = `is pinned to ${APP}@${from.slice(0, 7)}`;
      const finish = `would finish deployment ${stopped} of ${APP}@${to.slice(0, 7)}`;
      const deploy = await run(['deploy', '--commit', to, '--dry-run']);
      expect(deploy.stdout).toContain(finish);
      expect(deploy.stdout).toMatch(new RegExp(`a deploy would be refused \\(PINNED\\): \\S+ ${pinnedTo} `));
      // Its refusal as the run gives it: atomic, once the run finished the promote (and says so);
      // in place, before, so the promote it says it would finish stays unfinished. Before, the atomic
      // dry run's refusal did not say the finish its run names, and the in-place one did not say
      // that its run finishes nothing.
      const planned = JSON.parse((await run(['deploy', '--commit', to, '--dry-run', '--json'])).stdout);
      expect(planned.refusedBy).toMatchObject({ code: 'PINNED' });
      const firstFinish = `(This run would first finish deployment ${stopped} of `;
      const notFinished = `(This run would be refused before it would finish deployment ${stopped} of `;
      if (mode === 'atomic') expect(planned.refusedBy.message).toContain(firstFinish);
      else expect(planned.refusedBy.message).toContain(notFinished);
      // Refused before it finishes anything, in place, it changes nothing, and says so.
      expect(planned.refusedBy.message).toContain(
        mode === 'atomic' ? ', so nothing more was changed. ' : ', so nothing was changed. ',
      );
      expect(deploy.stdout).toContain(mode === 'atomic' ? firstFinish : notFinished);
      const rollback = await run(['rollback', '--to', to, '--dry-run']);
      expect(rollback.stdout).toContain(finish);
      expect(rollback.stdout).toContain(
        `a rollback pins ${site.target.stack} to the release it goes back to`,
      );
      const promote = await run(['promote', to, '--dry-run']);
      expect(promote.stdout).toContain(finish);
      expect(promote.stdout).toMatch(
        new RegExp(`${pinnedTo} .*; this promote goes past it and lifts the pin`),
      );
      // Refused, the pin kept: in place before it finishes the promote, atomic once it did (and says so).
      const refused = await run(['deploy', '--commit', to]);
      expect(refused.code, refused.stdout).toBe(2);
      expect(refused.stderr).toContain(pinnedTo);
      const finished = `finished the interrupted deployment ${stopped}`;
      if (mode === 'atomic') expect(refused.stderr).toContain(finished);
      else expect(refused.stderr).not.toContain(finished);
      expect(await readPin(site)).toMatchObject({ cause: 'pin', commit: from });
      const promoted = await run(['promote', to]);
      expect(promoted.code, promoted.stderr).toBe(0);
      if (mode === 'in place') expect(promoted.stdout).toContain(finished);
      expect(promoted.stdout).toContain('pin cleared');
      expect(await readPin(site)).toBeNull();
    });

    it('a deploy stopped after its switch, finished by a rollback to its release', async () => {
      const [, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() =>
        deployArtifact(stopping(site), { app: APP, commit: to, request }),
      );
      const tag = await saidAndDone(site, run, stopped, 'deployment', to, 'cli', {
        by: ['rollback', '--to', to],
        asJson: mode === 'in place',
      });
      expect(await entryOf(stopped)).toMatchObject({ type: 'deploy', data: { outcome: 'succeeded' } });
      // A deploy, tagged as one: not as the rollback that finished it.
      const { subject, trailers } = await tagged(tag);
      expect(subject).toBe(`Deploy ${APP} ${to.slice(0, 7)}`);
      expect(trailers).toMatchObject({ 'Deploy-Id': stopped });
      expect(trailers).not.toHaveProperty('Kind');
    });

    it('and a rollback run again: its tag names the commit it took down, as its first run would have', async () => {
      const [from, to] = wentLive();
      const stopped = await stoppedAfterSwitch(() => rollbackRelease(stopping(site), { request, to }));
      const tag = await saidAndDone(site, run, stopped, 'rollback', to);
      const { subject, trailers } = await tagged(tag);
      expect(subject).toBe(`Roll back ${APP} from ${from.slice(0, 7)} to ${to.slice(0, 7)}`);
      expect(trailers).toMatchObject({ 'Deploy-Id': stopped, Kind: 'rollback', 'Rolled-Back-From': from });
    });
  });
}
finishedByAnotherKind('in place');
finishedByAnotherKind('atomic');

/**
 * In place a deploy's run reads the pin before it finishes a stopped change (deployInPlace): refused
 * there, it finishes nothing. Its dry run says only that: no `first:` line, no `finishes` nor
 * `finishesFirst` in --json, nor in plan_deploy's words; its refusal names the change left unfinished.
 * Before, the dry run said it would finish the stopped promote first, then gave the refusal.
 */
describe('in place: refused by the pin before it finishes a stopped promote', () => {
  const V3 = 'c3c3c3c3c3c3c3c3c3c3';
  let t: TestDeployEnv;
  let run: (argv: string[]) => ReturnType<typeof cli>;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'dry-run-stopped-pinned' });
    await publishFixtureBuilds(t, APP, [V1, V2, V3]);
    const outputs = await t.writeOutputs({ cdn: true });
    const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
    run = (argv) => cli([...argv, '--stack', outputs], { env, cwd: t.tmp });
    await deployArtifact(t.site, { app: APP, commit: V1, request });
  }, 180_000);
  afterAll(() => t?.stop());

  it('a deploy of another build, and of the promote’s: each dry run finishes nothing, as its run', async () => {
    await pinRelease(t.site, { request });
    const stopped = await stoppedAfterItsSwitch(t.site, () =>
      promoteRelease(stopping(t.site), { app: APP, commit: V2, request }),
    );
    const unfinished = `(This run would be refused before it would finish deployment ${stopped} of ${APP}@${V2.slice(0, 7)}`;
    for (const commit of [V3, V2]) {
      const argv = ['deploy', '--commit', commit];
      const dry = await run([...argv, '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(unfinished);
      expect(dry.stdout).not.toMatch(/^ {2}first: /m);
      expect(dry.stdout.split('\n')[0]).not.toMatch(/would finish/);
      const json = JSON.parse((await run([...argv, '--dry-run', '--json'])).stdout);
      expect(json.refusedBy).toMatchObject({ code: 'PINNED' });
      expect(json.refusedBy.message).toContain(unfinished);
      expect(json).not.toHaveProperty('finishesFirst');
      expect(json).not.toHaveProperty('finishes');
      const c = await connectInfra(infraServerOn(t.site));
      try {
        const planned = await c.call('plan_deploy', { commit });
        expect(planned.structured.refusedBy).toEqual(json.refusedBy);
        expect(planned.structured.description).not.toMatch(/finish/);
      } finally {
        await c.close();
      }
      const real = await run(argv);
      expect(real.code, real.stdout).toBe(2);
      expect(real.stderr).not.toMatch(/finished the interrupted/);
      expect(await t.site.records.readPending()).toMatchObject({ plan: { deployId: stopped } });
    }
  });
});
