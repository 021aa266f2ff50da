/**
 * A change whose earlier run went live and stopped before it was verified and recorded (its
 * crash-recovery record names it): run again, it finishes that one, and its dry run says so, in the
 * same words on each surface (`deploy --dry-run`, `rollback --dry-run`, plan_deploy,
 * get_deploy_target). Before, the dry run said the build was already live with nothing to do, while
 * the run verified and recorded the stopped change. One rule decides it for all (apply.ts wentLive,
 * atomic-apply.ts switchedLive): the infra tools' steps finish what get_deploy_target says they
 * finish, a rollback as a deploy, and one stopped before its record said its pointer moved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import type { Site } from '../../src/site.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type AtomicEnv, startAtomicEnv, storedAtomicPending } from '../support/atomic-env.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
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

/** What each dry run says, and what the run then does: `frontendops` run again, or the infra tools' steps. */
async function saidAndDone(
  site: Site,
  run: (argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  stopped: string,
  what: 'deployment' | 'rollback',
  commit: string = V2,
  finishedBy: 'cli' | 'tools' = 'cli',
) {
  const finish = new RegExp(
    `finish ${what} ${stopped} of ${APP}@${commit.slice(0, 7)} on \\S+: it went live, but it was interrupted before it was verified and recorded`,
  );
  const argv = what === 'rollback' ? ['rollback'] : ['deploy', '--commit', commit];
  const dry = await run([...argv, '--dry-run']);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(finish);
  expect(dry.stdout).not.toMatch(/already live|would copy/);
  const json = await run([...argv, '--dry-run', '--json']);
  expect(JSON.parse(json.stdout)).toMatchObject({ dryRun: true, finishes: stopped });
  // The infra tools plan a deploy of the same build: its run finishes the stopped change, whatever it was.
  const c = await connectInfra(infraServerOn(site));
  try {
    for (const tool of ['plan_deploy', 'get_deploy_target']) {
      const said = await c.call(tool, { commit });
      expect(said.text, tool).toMatch(new RegExp(finish.source, 'i'));
      expect(said.text, tool).not.toMatch(/already live|nothing to do/);
    }
    if (finishedBy === 'tools') {
      // As get_deploy_target said: its handle names the stopped change, and the next steps finish it.
      const target = await c.call('get_deploy_target', { commit });
      expect(target.structured, target.text).toMatchObject({ noop: false, deployId: stopped });
      const synced = await c.call('run_sync', { handle: target.structured.handle });
      expect(synced.structured, synced.text).toMatchObject({ deployId: stopped, outcome: 'synced' });
      const done = await c.call('invalidate_cdn', { deployId: stopped });
      expect(done.structured, done.text).toMatchObject({ deployId: stopped, outcome: 'succeeded' });
      expect(await site.records.readRecord(stopped)).toMatchObject({ outcome: 'succeeded' });
      const again = await run([...argv, '--dry-run', '--json']);
      expect(JSON.parse(again.stdout)).not.toHaveProperty('finishes');
      return;
    }
  } finally {
    await c.close();
  }
  const real = await run(argv);
  expect(real.code, real.stderr).toBe(0);
  // Said as what it was: a rollback finished is not called a deploy.
  expect(real.stdout).toContain(`finished the interrupted ${what} ${stopped}, which had made it live`);
}

describe('in place', () => {
  let t: TestDeployEnv;
  let run: (argv: string[]) => ReturnType<typeof cli>;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'dry-run-stopped' });
    await publishFixtureBuilds(t, APP, [V1, V2]);
    const outputs = await t.writeOutputs({ cdn: true });
    const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
    run = (argv) => cli([...argv, '--stack', outputs], { env, cwd: t.tmp });
    await deployArtifact(t.site, { app: APP, commit: V1, request });
  }, 180_000);
  afterAll(() => t?.stop());

  it('a deploy stopped after its switch: its dry run says the run finishes it', async () => {
    const stopped = await stoppedAfterItsSwitch(t.site, () =>
      deployArtifact(stopping(t.site), { app: APP, commit: V2, request }),
    );
    await saidAndDone(t.site, run, stopped, 'deployment');
  });

  it('a deploy stopped after its pointer moved, before its record said so: the tools finish it', async () => {
    // v2 is live (the deploy above, finished): v1 goes live again and stops there.
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
    // v1 is live (the deploy above, finished), v2 kept: the rollback goes back to v2 and stops.
    const stopped = await stoppedAfterItsSwitch(t.site, () => rollbackRelease(stopping(t.site), { request }));
    await saidAndDone(t.site, run, stopped, 'rollback', V2);
  });
});

describe('atomic', () => {
  let t: AtomicEnv;
  let run: (argv: string[]) => ReturnType<typeof cli>;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'dry-run-stopped-atomic' });
    await t.publishVersions([V1, V2]);
    const outputs = await t.writeOutputs();
    const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
    run = (argv) => cli([...argv, '--stack', outputs], { env, cwd: t.tmp });
    await deployArtifact(t.site, { app: APP, commit: V1, request });
  }, 180_000);
  afterAll(() => t?.stop());

  it('a deploy stopped after its switch: its dry run says the run finishes it', async () => {
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
    // v2 is live (the deploy above, finished), v1 kept: the rollback goes back to v1 and stops.
    await expect(rollbackRelease(stopping(t.site), { request })).rejects.toThrow(/stopped/);
    const pending = await storedAtomicPending(t.site);
    expect(pending).toMatchObject({ op: 'rollback', switched: true });
    await saidAndDone(t.site, run, pending.plan.deployId, 'rollback', V1, 'tools');
  });
});
