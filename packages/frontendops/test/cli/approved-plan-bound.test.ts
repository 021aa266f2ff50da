/**
 * On a protected stack the CLI judges a change from a dry run made without the deploy lock: a person
 * answers the prompt about it, a GitHub job's `--yes` is held to `approval.github.actions` by it, and
 * a no-op needs no one's yes. The run then plans again under the lock, and another operator's change
 * may have landed in between. It went ahead with whatever it planned then: a person who approved
 * "deploy v3 (live: v1)" got a deploy from v2, and a job approved to deploy only, whose `promote`
 * of the live release was a no-op when judged, made an older release live for everyone. Now the run
 * is bound to the change judged (its changeDigest), and refuses another (CONFLICT), changing nothing.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveIfProtected } from '../../src/cli/commands/deploy.ts';
import type { CliContext } from '../../src/cli/context.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease, promoteRelease, unpinRelease } from '../../src/deploy/pin.ts';
import type { Site } from '../../src/site.ts';
import { readAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import {
  APP as ATOMIC_APP,
  type AtomicEnv,
  request as atomicRequest,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { publishFixtureBuilds, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { cli } from '../support/run-cli.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = [
  '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  '3333333ccccccccccccccccccccccccccccccccc',
];
const request = (text: string) => ({ text, actor: 'ops', planner: 'cli', at: new Date().toISOString() });
let t: TestDeployEnv;
let outputs: string;
let config: string;
/** A GitHub job's approval policy: deploys only. */
const GITHUB = {
  repository: 'acme/dashboard',
  environment: STACK,
  actions: ['deploy' as const],
  issuer: 'https://token.actions.githubusercontent.com',
  audience: 'frontendops',
};

beforeAll(async () => {
  t = await startDeployEnv({}, { protected: true });
  await publishFixtureBuilds(t, APP, [V1, V2, V3]);
  outputs = await t.writeOutputs({ cdn: true });
  config = join(t.tmp, 'frontendops.config.json');
  await writeFile(
    config,
    JSON.stringify({
      protected: [STACK],
      approval: { github: { repository: 'acme/dashboard', environment: STACK, actions: ['deploy'] } },
    }),
  );
});
afterAll(() => t?.stop());

const live = async () => (await t.site.records.readPointer())?.value.commit;
const golive = (commit: string) => deployArtifact(t.site, { app: APP, commit, request: request('other') });

describe('a change judged from a dry run, then planned again under the lock', () => {
  it('a person approves "deploy v3 (live: v1)" at the prompt; v2 lands meanwhile: refused, CONFLICT, v2 stays', async () => {
    await golive(V1);
    const terminal = new PassThrough();
    let asked = () => {};
    const prompt = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const run = cli(['deploy', '--commit', V3, '--no-tag', '--stack', outputs], {
      env: { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_CONFIG: config, FRONTENDOPS_ACTOR: 'ada' },
      cwd: t.tmp,
      terminal,
      onStderr: (chunk) => {
        if (/Approve: .*\? \[y\/N\]/.test(chunk)) asked();
      },
    });
    await prompt;
    await golive(V2);
    terminal.write('y\n');
    const result = await run;
    terminal.end();
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /What is live changed since this change was planned and approved, so it is no longer the change approved\. Nothing was changed\./,
    );
    expect(await live()).toBe(V2);
  });

  it("a job's --yes (deploy only) on a promote of the live release, a no-op when judged: refused once another release went live", async () => {
    await golive(V1);
    // The CLI's own check, as `promote <v1> --yes` runs it in a GitHub Actions job.
    const site: Site = {
      ...t.site,
      protected: true,
      approval: {
        ...t.site.approval,
        github: GITHUB,
      },
    };
    const ctx = { io: { env: { GITHUB_ACTIONS: 'true' } } } as unknown as CliContext;
    const promote = { app: APP, commit: V1, request: request('promote v1') };
    const approved = await approveIfProtected(ctx, site, { yes: true }, 'promote', null, () =>
      promoteRelease(site, { ...promote, dryRun: true }),
    );
    await golive(V2); // another operator, while the job waited for the lock
    await expect(promoteRelease(site, { ...promote, ...approved })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('no longer the change approved'),
    });
    expect(await live()).toBe(V2);
  });
});

describe('a promote of the live release, judged to lift one pin (or none), with another set before its run', () => {
  const promote = { app: APP, commit: V1, request: request('promote v1') };
  const pinBy = (actor: string) => pinRelease(t.site, { request: { ...request(`pin by ${actor}`), actor } });

  it("a job's --yes (approved to promote) for lifting one pin does not lift another: refused, CONFLICT, the new pin stays", async () => {
    await golive(V1);
    await pinBy('alice');
    const site: Site = {
      ...t.site,
      protected: true,
      approval: { ...t.site.approval, github: { ...GITHUB, actions: ['deploy', 'promote'] } },
    };
    const env = { GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '1', GITHUB_ACTOR: 'ci' };
    const ctx = { io: { env, stderr: new PassThrough() } } as unknown as CliContext;
    const approved = await approveIfProtected(ctx, site, { yes: true }, 'promote', null, () =>
      promoteRelease(site, { ...promote, dryRun: true }),
    );
    // While the job waited for the lock: Alice's pin lifted at a terminal, and Bob pins v1.
    await unpinRelease(t.site, { request: request('unpin') });
    const { pin } = await pinBy('bob');
    const used = (await readAudit(t.site.state, t.site.target.statePrefix)).length;
    await expect(promoteRelease(site, { ...promote, ...approved })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(
        /^The approval of this promote was for lifting another pin \(the pin of \S+, set by alice at \S+\), not the pin of \S+, set by bob at \S+, which is there now\. Nothing was changed: the pin stays\./,
      ),
    });
    expect(await readPin(t.site)).toEqual(pin);
    expect((await readAudit(t.site.state, t.site.target.statePrefix)).length).toBe(used);
    await unpinRelease(t.site, { request: request('unpin') });
  });

  it('a promote judged on a terminal with nothing pinned does not lift a pin set before its run: refused, CONFLICT', async () => {
    await golive(V1);
    const ctx = { io: { env: {} } } as unknown as CliContext;
    const approved = await approveIfProtected(ctx, t.site, {}, 'promote', null, () =>
      promoteRelease(t.site, { ...promote, dryRun: true }),
    );
    const { pin } = await pinBy('bob');
    await expect(promoteRelease(t.site, { ...promote, ...approved })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(
        /^This promote was planned when nothing was pinned, so nothing approved lifting the pin of \S+, set by bob at \S+, which was set since\. Nothing was changed: the pin stays\./,
      ),
    });
    expect(await readPin(t.site)).toEqual(pin);
    await unpinRelease(t.site, { request: request('unpin') });
  });
});

describe('a run that first finishes what an earlier run left, on an atomic stack', () => {
  const [A1, A2, A3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
  let a: AtomicEnv;
  beforeAll(async () => {
    a = await startAtomicEnv({ stack: 'bound-after-stop' });
    await a.publishVersions([A1, A2, A3]);
    await deployArtifact(a.site, { app: ATOMIC_APP, commit: A1, request: atomicRequest() });
    await deployArtifact(a.site, { app: ATOMIC_APP, commit: A2, request: atomicRequest() });
  });
  afterAll(() => a?.stop());

  it('says it finished that change, not that nothing was changed; run again, the change goes through', async () => {
    // A deploy of v1 stopped right after its switch: the next run under the lock finishes it.
    const stopping = stoppingSite(a.site, (key) => key.endsWith('/atomic/state.json'));
    await expect(
      deployArtifact(stopping, { app: ATOMIC_APP, commit: A1, request: atomicRequest() }),
    ).rejects.toThrow();
    const site: Site = { ...a.site, protected: true };
    const ctx = { io: { env: {} } } as unknown as CliContext;
    const deploy = { app: ATOMIC_APP, commit: A3, request: atomicRequest('deploy v3') };
    // Judged (a job's --yes would be, as a prompt's answer is) from the dry run, before the lock. The
    // run that only finished the earlier change did not use the job's approval: the next run has it.
    const judge = () =>
      approveIfProtected(
        {
          ...ctx,
          io: { env: { GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '9', GITHUB_RUN_ATTEMPT: '1' } },
        } as unknown as CliContext,
        { ...site, approval: { ...site.approval, github: GITHUB } },
        { yes: true },
        'deploy',
        null,
        () => deployArtifact(site, { ...deploy, dryRun: true }),
      );
    const approved = await judge();
    await expect(deployArtifact(site, { ...deploy, ...approved })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(
        /^This run first finished the deploy a1a1a1a-\w+ that an earlier run left unfinished, which changed what is live, .* Nothing more was changed\./,
      ),
    });
    expect((await a.site.records.readPointer())?.value.commit).toBe(A1);
    const again = await judge();
    expect((await deployArtifact(site, { ...deploy, ...again })).outcome).toBe('succeeded');
    expect((await a.site.records.readPointer())?.value.commit).toBe(A3);
  });
});
