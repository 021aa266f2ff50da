import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpinRelease } from '../../src/deploy/pin.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { type AgentSnapshot, snapshotStackAndRepo } from '../support/agent-env.ts';
import {
  publishAsCi,
  publishFixtureBuilds,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import {
  type AgentServersInProcess,
  type CliRun,
  cli,
  serveAgentServersInProcess,
  writeStdioMcpConfig,
} from '../support/run-cli.ts';
import { sharedHistory } from '../support/shared-history.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let outputs: string;
let mcpConfig: string;
let infraEnv: Record<string, string>;
let http: AgentServersInProcess | undefined;
/** "Deploy the latest dashboard" --yes, the agent's servers spawned over stdio: what it said. */
let deployedOverStdio: CliRun;
/**
 * The stack and the repository as the cases start from them: nothing deployed, no tag; the latest
 * dashboard deployed by the agent (stdio), tagged; then v3 deployed and rolled back (see the last block).
 */
let fresh: AgentSnapshot;
let latestDeployed: AgentSnapshot;
let rolledBack: AgentSnapshot;
const DEPLOYS_OVER_STDIO =
  '"Deploy the latest dashboard" --yes: steps as they happen, the site changes, the tag exists, the audit verifies';
const SECOND_RELEASE = 'a second release, then "roll back to the previous version" --yes --json';
/** The stack's history the later cases start from: each step checked by one of the two cases above. */
const history = sharedHistory(`${DEPLOYS_OVER_STDIO} (or ${SECOND_RELEASE})`);
const STDIO_DEPLOY = 'the agent deploys the latest dashboard over stdio';
const SHIPPED_AND_ROLLED_BACK = 'the agent ships v3, then rolls back, over HTTP';

beforeAll(async () => {
  t = await startDeployEnv();
  repo = await createTestRepo();
  await publishFixtureBuilds(t, 'sophia-dashboard', [repo.commits.dashboard1, repo.commits.dashboard2]);
  outputs = await t.writeOutputs();
  // The operator's own terminal agent: the stack trusts the answer its person gives (trustElicitation).
  const config = join(t.tmp, 'frontendops.config.json');
  await writeFile(config, JSON.stringify({ approval: { trustElicitation: true } }));
  // The servers are real child processes over stdio; they, not the agent's model, hold the credentials.
  infraEnv = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_CONFIG: config };
  mcpConfig = await writeStdioMcpConfig({ outputs, repoDir: repo.dir, infraEnv, dir: t.tmp });
  fresh = await snapshotStackAndRepo(t.site, repo);
  await history.step(STDIO_DEPLOY, async () => {
    // The agent's own environment holds none of the keys its servers deploy with.
    expect(process.env.AWS_SECRET_ACCESS_KEY).not.toBe(t.s3.credentials.secretAccessKey);
    deployedOverStdio = await agent(['Deploy the latest dashboard', '--yes']);
    expect(deployedOverStdio.code, deployedOverStdio.stderr).toBe(0);
    latestDeployed = await snapshotStackAndRepo(t.site, repo);
  });
});
afterAll(async () => {
  await repo?.cleanup();
  await t?.stop();
});

/** The agent command in this process (runCli); by default its MCP servers are real child processes over stdio. */
function agent(
  args: string[],
  options: { command?: 'agent' | 'chat'; input?: string; config?: string; terminal?: PassThrough } = {},
) {
  return cli(
    [options.command ?? 'agent', ...args, '--config', options.config ?? mcpConfig, '--stack', outputs],
    {
      cwd: repo.dir,
      env: { FRONTENDOPS_ACTOR: 'release-bot', FRONTENDOPS_MODEL: undefined },
      ...(options.input !== undefined ? { stdin: options.input } : {}),
      ...(options.terminal ? { terminal: options.terminal } : {}),
    },
  );
}

/**
 * The two servers, already running over Streamable HTTP in this process, for the tests of one block:
 * what those show is the agent's side, not a process boundary. While they run the infra server's AWS
 * keys are on process.env (serveAgentServersInProcess), so the stdio tests, whose agent must work
 * without them, run in a block of their own.
 */
function servedOverHttp() {
  beforeAll(async () => {
    http = await serveAgentServersInProcess({ outputs, repoDir: repo.dir, infraEnv, dir: t.tmp });
  });
  afterAll(async () => {
    await http?.stop();
    http = undefined;
  });
}
function overHttp(args: string[]) {
  if (!http) throw new Error('no servers are served over HTTP in this block');
  return agent(args, { config: http.config });
}

const hostingIndex = async () => (await t.site.hosting.get('index.html'))?.body.toString('utf8') ?? null;

it('an empty request is refused before any server starts (exit 2, what to say instead)', async () => {
  for (const words of [[''], ['  ', ' ']]) {
    // A configuration that does not exist: reading it would be the first thing a start does.
    const run = await agent(words, { config: join(t.tmp, 'no-such-mcp.json') });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /The request is empty: say what to do in words, e\.g\. frontendops agent "Deploy the latest build"\./,
    );
    expect(run.stderr).not.toMatch(/no-such-mcp|\n\s+at /);
  }
});

it("a server's stderr is passed on escaped under --json too, as without it: its lines may quote others' text", async () => {
  // A server that says something holding an OSC 52 sequence (the clipboard) and stops: what a server
  // logs may quote a backend's answer or a commit's words. Without --json the renderer escapes it.
  const config = join(t.tmp, 'mcp-stderr.json');
  const says = `process.stderr.write('starting \\u001b]52;c;cm0gLXJmIH4=\\u0007\\n'); process.exit(1)`;
  await writeFile(
    config,
    JSON.stringify({
      mcpServers: {
        infra: { command: process.execPath, args: ['-e', says] },
        git: { command: process.execPath, args: ['-e', says] },
      },
    }),
  );
  for (const json of [[], ['--json']]) {
    const run = await agent(["what's live?", ...json], { config });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('starting \\u001b]52;c;cm0gLXJmIH4=\\u0007');
    const raw = run.stderr.includes('\u001b') || run.stderr.includes('\u0007');
    expect({ json, raw }).toEqual({ json, raw: false });
  }
});

it('an unknown --stack is bad input: exit 2 and the reason on stderr, before any server starts (agent and chat)', async () => {
  for (const [argv, stdin] of [
    [['agent', 'status', '--stack', 'nope'], ''],
    [['agent', 'status', '--stack', 'nope', '--json'], ''],
    [['chat', '--stack', 'nope'], 'status\n'],
  ] as const) {
    const run = await cli([...argv], {
      cwd: repo.dir,
      env: { FRONTENDOPS_ACTOR: 'release-bot', FRONTENDOPS_MODEL: undefined },
      stdin,
    });
    expect(run.code, argv.join(' ')).toBe(2);
    expect(run.stderr).toMatch(
      /^error: Unknown stack "nope" \(known: [^)]*\)\. Nothing was created\. Pass a path/m,
    );
    // With --json the error is also the one object on stdout (cli/json-errors.test.ts).
    if ((argv as readonly string[]).includes('--json')) {
      expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'NOT_FOUND', exitCode: 2 } });
    } else expect(run.stdout).toBe('');
    expect(run.stderr).not.toMatch(/could not be reached|audit entry|frontendops> /);
  }
});

it('outside a git repository, the agent says why its own git server did not start: refused (exit 2), agent and chat', async () => {
  const elsewhere = await mkdtemp(join(tmpdir(), 'frontendops-no-git-'));
  try {
    for (const [argv, stdin] of [
      [['agent', 'status', '--stack', outputs], ''],
      [['agent', 'status', '--stack', outputs, '--json'], ''],
      [['chat', '--stack', outputs], 'status\n'],
    ] as const) {
      const run = await cli([...argv], {
        cwd: elsewhere,
        env: { ...infraEnv, FRONTENDOPS_ACTOR: 'release-bot', FRONTENDOPS_MODEL: undefined },
        stdin,
        // Spawned over stdio as users run them: what a server that did not start said reaches the answer.
        mcp: 'spawn',
      });
      const said = `${run.stdout}\n${run.stderr}`;
      expect(run.code, `${argv.join(' ')}\n${said}`).toBe(2);
      // The server's own reason, and how the agent started it, in the answer: not "Connection closed".
      expect(said).toMatch(
        new RegExp(
          `The git MCP server did not start: ${elsewhere}[^\n]* is not a git repository..*The agent started it as \`frontendops mcp git --repo ${elsewhere}[^\n]*\`: run the agent from where that works, or name its servers with --config`,
        ),
      );
      expect(said).not.toMatch(/Connection closed|\n\s+at |looks like a bug/);
      // Said once, as the answer, not again as a server's line.
      expect(said.match(/is not a git repository/g)).toHaveLength(1);
      if ((argv as readonly string[]).includes('--json'))
        expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'refused' });
    }
  } finally {
    await rm(elsewhere, { recursive: true, force: true });
  }
});

describe('frontendops agent, its servers over HTTP in this process', () => {
  servedOverHttp();

  it('a commit the words name that does not exist: refused, exit 2, nothing changed, audited', async () => {
    await fresh.restore();
    const run = await overHttp(['roll back to abcdef1', '--json']);
    expect(run.code).toBe(2);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ outcome: 'refused', intent: 'rollback' });
    expect(result.message).toMatch(/^"abcdef1" names no commit, branch or tag in the repository/);
    expect(result.auditSeq).toBeTypeOf('number');
    expect(result.auditError).toBeUndefined();
    const dry = await overHttp(['deploy abcdef1', '--dry-run']);
    expect(dry.code).toBe(2);
    expect(dry.stderr).toMatch(/✗ get_commit .*abcdef1/);
    expect(dry.stdout).toMatch(/REFUSED[\s\S]*"abcdef1" names no commit/);
    expect(dry.stdout).not.toMatch(/FAILED|could not be reached/);
    expect(await hostingIndex()).toBeNull();
  });

  it('chat at a terminal exits 0 when it ends normally, though a turn was refused; piped, the worst turn', async () => {
    if (!http) throw new Error('no servers are served over HTTP in this block');
    for (const input of [
      "what's live?\nroll back to abcdef1\nwhat's live?\nexit\n",
      'roll back to abcdef1\n',
    ]) {
      // A person at a terminal read each answer as it came.
      const terminal = new PassThrough();
      terminal.end(input);
      const typed = await agent([], { command: 'chat', config: http.config, terminal });
      expect(typed.stdout).toMatch(/REFUSED/);
      expect(typed.code, typed.stderr).toBe(0);
      // A script piping requests in is told that one was refused.
      const piped = await agent([], { command: 'chat', config: http.config, input });
      expect(piped.stdout).toMatch(/REFUSED/);
      expect(piped.code, piped.stderr).toBe(2);
    }
  });

  it('refuses with exit code 2 and one JSON object', async () => {
    const run = await overHttp(['delete the hosting bucket', '--json']);
    expect(run.code).toBe(2);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ outcome: 'refused', actor: 'release-bot', calls: [] });
  });

  it('without --yes and without a terminal, nothing changes and it says how to approve', async () => {
    await fresh.restore();
    const run = await overHttp(['Deploy the latest dashboard']);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/DECLINED[\s\S]*--yes/);
    expect(await hostingIndex()).toBeNull();
  });
});

describe('frontendops agent, its servers spawned over stdio (no AWS keys in its environment)', () => {
  it(DEPLOYS_OVER_STDIO, async (context) => {
    // The run in beforeAll (from nothing deployed, no tag), and the stack and repository it left.
    history.check(context, STDIO_DEPLOY);
    await latestDeployed.restore();
    const run = deployedOverStdio;
    for (const step of [
      'latest_commit',
      'get_deploy_target',
      'run_sync',
      'invalidate_cdn',
      'create_deploy_tag',
    ]) {
      expect(run.stderr).toMatch(new RegExp(`✓ ${step}`));
    }
    expect(run.stderr).toMatch(
      /✔ approved: deploy sophia-dashboard@[0-9a-f]{7} to dashboard-hosting-prod.* release-bot via --yes \(for the deploy this request asked for\)/,
    );
    expect(run.stdout).toMatch(/SUCCEEDED[\s\S]*Tag: dashboard-deploy-\d{8}-1/);
    expect(await hostingIndex()).toContain('Sophia v2');
    expect((await repo.git(['tag', '-l'])).trim()).toMatch(/^dashboard-deploy-\d{8}-1$/);
    const audit = await verifyAudit(t.site.state, t.target.statePrefix);
    expect(audit.ok).toBe(true);
  });

  it('chat: one request per line on the same servers, until "exit"', async (context) => {
    history.need(context, STDIO_DEPLOY);
    await latestDeployed.restore();
    const run = await agent([], {
      command: 'chat',
      input: "what's live on prod?\nshow the deploy history\nexit\n",
    });
    expect(run.code).toBe(0);
    expect(run.stdout.match(/ANSWERED/g)).toHaveLength(2);
    expect(run.stdout).toContain(repo.commits.dashboard2.slice(0, 7));
    expect(run.stdout).toMatch(/Last \d+ deployment\(s\)/);
    // The servers' note about the file lock reaches the person once, on a line of its own, not per turn.
    expect(run.stderr.match(/^note: The S3 endpoint ignores conditional writes/gm)).toHaveLength(1);
  });
});

describe('frontendops agent, its servers over HTTP again', () => {
  servedOverHttp();
  /** The steps of the rollback case below, run once from the latest deployed: what each said, and v3's page. */
  let v3: string;
  let deployed: CliRun;
  let servedAfterDeploy: string | null;
  let rollback: CliRun;
  beforeAll(async () => {
    await history.step(SHIPPED_AND_ROLLED_BACK, async () => {
      await latestDeployed.restore();
      v3 = await addRelease('v3');
      deployed = await overHttp(['ship the newest dashboard', '--yes', '--json']);
      servedAfterDeploy = await hostingIndex();
      rollback = await overHttp(['roll back to the previous version', '--yes', '--json']);
      rolledBack = await snapshotStackAndRepo(t.site, repo);
    });
  });

  it(SECOND_RELEASE, async (context) => {
    // The steps beforeAll ran, and the stack and repository they left.
    history.check(context, SHIPPED_AND_ROLLED_BACK);
    await rolledBack.restore();
    expect(JSON.parse(deployed.stdout), deployed.stderr).toMatchObject({ outcome: 'succeeded', commit: v3 });
    expect(servedAfterDeploy).toContain('Sophia v3');

    const run = rollback;
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({
      outcome: 'succeeded',
      intent: 'rollback',
      commit: repo.commits.dashboard2,
    });
    expect(await hostingIndex()).toContain('Sophia v2');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(true);
  });

  it('a protected deploy is approved by the answer the agent gives the server (elicitation), as over stdio', async (context) => {
    history.need(context, SHIPPED_AND_ROLLED_BACK);
    // The rollback pinned the stack; a person lifts the pin, as after any rollback.
    await rolledBack.restore();
    await unpinRelease(t.site, {
      request: { text: 'unpin', actor: 'release-manager', planner: 'cli', at: new Date().toISOString() },
    });
    const v4 = await addRelease('v4');
    const run = await overHttp(['Deploy the latest dashboard', '--yes', '--json']);
    const result = JSON.parse(run.stdout);
    expect(result, run.stderr).toMatchObject({ outcome: 'succeeded', commit: v4 });
    expect(await hostingIndex()).toContain('Sophia v4');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(true);
  });
});

async function addRelease(version: string): Promise<string> {
  await writeFile(join(repo.dir, 'apps', 'sophia-dashboard', 'index.html'), `<h1>${version}</h1>\n`);
  await repo.git(['commit', '-qam', `dashboard: ${version}`]);
  const sha = (await repo.git(['rev-parse', 'HEAD'])).trim();
  const build = await writeFixtureBuild(join(t.tmp, version), { version });
  await publishAsCi(t.site, { dir: build.dir, app: 'sophia-dashboard', commit: sha });
  return sha;
}
