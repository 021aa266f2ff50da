/**
 * Ctrl-C at a terminal running `frontendops agent "Deploy the latest dashboard" --yes`: SIGINT to
 * the whole process group — the agent and the infra and git servers it spawned over stdio — while
 * run_sync copies (its first copy held by an S3 proxy, so the point is exact). The infra server stops
 * the sync at its next safe point, before the switch, and says so; no process goes on working; the
 * agent exits 130 saying it was interrupted; nothing went live. The same request run again deploys
 * it, tagged, and the audit chain verifies.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { startCli, waitForStderr } from '../support/cli.ts';
import { HOSTING, publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { type DeployProxy, startDeployProxy } from '../support/deploy-proxy.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { cli, writeStdioMcpConfig } from '../support/run-cli.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let proxied: DeployProxy;
let outputs: string;
let mcpConfig: string;
const AGENT_ENV = { FRONTENDOPS_ACTOR: 'release-bot', FRONTENDOPS_MODEL: undefined };

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'interrupt-agent-cli' });
  repo = await createTestRepo();
  await publishFixtureBuilds(t, 'sophia-dashboard', [repo.commits.dashboard1, repo.commits.dashboard2]);
  await deployArtifact(t.site, {
    app: 'sophia-dashboard',
    commit: repo.commits.dashboard1,
    request: { text: 'first', actor: 'test', planner: 'cli', at: new Date().toISOString() },
  });
  // The infra server reaches S3 through the proxy, which can hold one request.
  proxied = await startDeployProxy(t, { conditional: false });
  outputs = await proxied.writeOutputs('interrupt-agent-cli');
  mcpConfig = await writeStdioMcpConfig({
    outputs,
    repoDir: repo.dir,
    infraEnv: { ...t.cliEnv(), AWS_REGION: 'us-east-1' },
    dir: t.tmp,
  });
});
afterAll(async () => {
  await proxied?.close();
  await repo?.cleanup();
  await t?.stop();
});

/** Is any process of the group `pgid` still there? */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const agentArgs = () => [
  'agent',
  'Deploy the latest dashboard',
  '--yes',
  '--config',
  mcpConfig,
  '--stack',
  outputs,
];
const hostingIndex = async () => (await t.site.hosting.get('index.html'))?.body.toString('utf8') ?? null;

it('Ctrl-C to the process group while run_sync copies: stopped before the switch, every process ends, nothing went live; the same request deploys it', {
  timeout: 180_000,
}, async () => {
  const held = proxied.proxy.hold(
    (r) => r.method === 'PUT' && r.bucket === HOSTING && Boolean(r.headers['x-amz-copy-source']),
  );
  const { child, done } = startCli(agentArgs(), AGENT_ENV, repo.dir);
  const pgid = child.pid as number;
  try {
    await Promise.race([
      held.reached,
      done.then((r) => {
        throw new Error(`the agent ended before its first copy: ${r.stderr}`);
      }),
    ]);
    // The infra server's note that its run was told to stop (the agent's own "Interrupted: … stops at
    // its next safe point" comes first, before the server knows: releasing the copy on that let the
    // run reach its switch, about once in a few CI runs).
    const told = waitForStderr(
      child,
      /run_sync of sophia-dashboard@[0-9a-f]{7} .*stops at its next safe point/,
    );
    // As a terminal does: the foreground process group, the servers the agent spawned included.
    process.kill(-pgid, 'SIGINT');
    await told;
  } finally {
    held.release();
  }
  const run = await done;
  expect(run.code, run.stderr).toBe(130);
  expect(run.stderr).toMatch(/Interrupted: stopping the request/);
  expect(run.stderr).toMatch(
    /run_sync of sophia-dashboard@[0-9a-f]{7} .* stopped before the switch: nothing went live/,
  );
  expect(run.stdout).toMatch(/FAILED[\s\S]*Interrupted during run_sync|Stopped: nothing went live/);
  expect(run.stdout).toMatch(/Run the same request again/);
  // No server goes on working for the agent that is gone.
  await expect.poll(() => groupAlive(pgid)).toBe(false);
  expect((await t.site.records.readPointer())?.value.commit).toBe(repo.commits.dashboard1);
  expect((await t.site.records.readPending())?.stoppedBy).toMatchObject({ code: 'INTERRUPTED' });
  expect(await hostingIndex()).toContain('Sophia v1');

  const again = await cli(agentArgs(), { cwd: repo.dir, env: AGENT_ENV });
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout).toMatch(/SUCCEEDED[\s\S]*Tag: dashboard-deploy-\d{8}-1/);
  expect(await hostingIndex()).toContain('Sophia v2');
  expect(await t.site.records.readPending()).toBeNull();
  expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
});
