/**
 * Everything the agent talks to, in one process: the infra MCP server on a real deploy environment
 * (embedded S3 + CloudFront double), the git MCP server on a real temporary git repository, builds
 * published for the repository's dashboard commits, and agent MCP clients over in-memory linked pairs.
 * Every tools/call that reaches a server is recorded at the server's end of the transport.
 */
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/server';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { createToolGate, type GateOptions } from '../../src/agent/gate.ts';
import { runAgentRequest } from '../../src/agent/index.ts';
import { approvableActions, namedChange, parseRequest, toolsFor } from '../../src/agent/intents.ts';
import { createRedactor } from '../../src/agent/redact.ts';
import type { AgentClients } from '../../src/agent/types.ts';
import { type Config, defaultConfig } from '../../src/config.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { linkAgentClient } from './agent-link.ts';
import { snapshotStack } from './bucket-snapshot.ts';
import { publishAsCi, STACK, startDeployEnv, type TestDeployEnv } from './deploy-env.ts';
import { writeFixtureBuild } from './fixture-build.ts';
import { createTestRepo, snapshotRepo, type TestRepo } from './git-repo.ts';

export const APP = 'sophia-dashboard';

/** The agent environment's stack and repository as they were: see AgentTestEnv.snapshot. */
export interface AgentSnapshot {
  restore(): Promise<void>;
}

export interface AgentTestEnv {
  t: TestDeployEnv;
  repo: TestRepo;
  config: Config;
  /** tools/call names (and arguments) as received by each server. */
  received: Array<{ server: 'infra' | 'git'; name: string; args: Record<string, unknown> }>;
  /** record_request calls: the audit entry the agent asks the infra server to write per request. */
  recorded: Array<{ server: 'infra' | 'git'; name: string; args: Record<string, unknown> }>;
  /** Commits a new dashboard change, publishes its build (content `version`), returns the sha. */
  addRelease(version: string, message?: string): Promise<string>;
  /** Fresh clients connected to fresh server instances (same state). */
  connect(): Promise<AgentClients>;
  /**
   * The stack and the repository as they are now, to start a case from them whatever the cases before
   * it did: the hosting bucket and the state prefix (bucket-snapshot.ts: snapshotStack), the
   * repository's head and tags (git-repo.ts: snapshotRepo). Not put back: the published builds' files
   * (a build addRelease published after it stays, its commit no longer in the history), `received`,
   * `recorded` and `config` (a case reads what it added to the first two; one that changes `config`
   * changes it back).
   */
  snapshot(): Promise<AgentSnapshot>;
  hostingIndex(): Promise<string | null>;
  stop(): Promise<void>;
}

export async function startAgentTestEnv(
  options: {
    /** The site's address, where deploys are verified (default: none, so nothing is verified). */
    siteUrl?: string;
    /** How long the infra server waits for the CDN to serve a change (default: the engine's). */
    verifyTimeoutMs?: number;
    /** How many releases the live pointer keeps (default 3). */
    retain?: number;
  } = {},
): Promise<AgentTestEnv> {
  const t = await startDeployEnv(
    options.siteUrl ? { siteUrl: options.siteUrl } : {},
    options.retain !== undefined ? { retain: options.retain } : {},
  );
  const repo = await createTestRepo();
  // An operator's own agent at a terminal: the person there answers the server's question, so the
  // stack's configuration trusts that answer (trustElicitation). Stacks that do not are tested in
  // test/mcp/infra/approval-gate.test.ts and test/security.
  const config: Config = {
    ...defaultConfig(),
    protected: [STACK],
    approval: { approvers: {}, trustElicitation: true },
  };
  const received: AgentTestEnv['received'] = [];
  const recorded: AgentTestEnv['recorded'] = [];
  const opened: AgentClients[] = [];

  const publish = async (commit: string, version: string) => {
    const build = await writeFixtureBuild(join(t.tmp, `build-${version}`), { version });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  };
  await publish(repo.commits.dashboard1, 'v1');
  await publish(repo.commits.dashboard2, 'v2');

  const link = (server: McpServer, name: 'infra' | 'git') =>
    linkAgentClient(server, (tool, args) => {
      // The agent's own audit entry (record_request) is kept apart from what the planners called.
      (tool === 'record_request' ? recorded : received).push({ server: name, name: tool, args });
    });

  return {
    t,
    repo,
    config,
    received,
    recorded,
    async addRelease(version, message = `dashboard: ${version}`) {
      const file = join('apps', 'sophia-dashboard', `${version}.txt`);
      // A real change to the dashboard's directory, so latest_commit finds it.
      const { writeFile, mkdir } = await import('node:fs/promises');
      await mkdir(join(repo.dir, 'apps', 'sophia-dashboard'), { recursive: true });
      await writeFile(join(repo.dir, file), `${version}\n`);
      await repo.git(['add', '--', file]);
      await repo.git(['commit', '-q', '-m', message]);
      const sha = (await repo.git(['rev-parse', 'HEAD'])).trim();
      await publish(sha, version);
      return sha;
    },
    async connect() {
      const infra = await link(
        createInfraServer({
          config,
          openSite: async () => ({ ...t.site, protected: true, approval: config.approval }),
          defaultStack: STACK,
          ...(options.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: options.verifyTimeoutMs } : {}),
        }),
        'infra',
      );
      const git = await link(
        createGitServer({
          host: createLocalGit({ repoDir: repo.dir }),
          defaultPath: 'apps/sophia-dashboard',
        }),
        'git',
      );
      const clients: AgentClients = {
        infra,
        git,
        close: async () => {
          await Promise.allSettled([infra.close(), git.close()]);
        },
      };
      opened.push(clients);
      return clients;
    },
    snapshot: () => snapshotStackAndRepo(t.site, repo),
    async hostingIndex() {
      const object = await t.site.hosting.get('index.html');
      return object ? object.body.toString('utf8') : null;
    },
    async stop() {
      await Promise.allSettled(opened.map((c) => c.close?.()));
      await repo.cleanup();
      await t.stop();
    },
  };
}

/**
 * The runbook agent on this environment as an operator at a terminal runs it (actor ada, in the
 * repository, every approval given by Ada Release); `options` override any of it.
 */
export function runbookRequests(e: AgentTestEnv, clients: AgentClients) {
  return (text: string, options: Partial<Parameters<typeof runAgentRequest>[1]> = {}) =>
    runAgentRequest(text, {
      actor: 'ada',
      planner: 'runbook',
      approve: async () => ({ approved: true, by: 'Ada Release', via: 'test' }),
      clients,
      config: e.config,
      cwd: e.repo.dir,
      env: {},
      ...options,
    });
}

/** A stack and a repository as they are now, to put back: what AgentTestEnv.snapshot takes, of any pair. */
export async function snapshotStackAndRepo(
  site: Parameters<typeof snapshotStack>[0],
  repo: TestRepo,
): Promise<AgentSnapshot> {
  const [stack, history] = [await snapshotStack(site), await snapshotRepo(repo)];
  return {
    async restore() {
      await stack.restore();
      await history.restore();
    },
  };
}

/**
 * The gate the agent builds for `text` on this environment's stack, as runAgentRequest does (its
 * tools, the actions it may ask, the dashboard's path), every approval given by ada; `options`
 * override any of it. For cases that drive the tool calls themselves.
 */
export function gateFor(
  e: AgentTestEnv,
  clients: AgentClients,
  text: string,
  options: Partial<GateOptions> = {},
) {
  const intent = parseRequest(text);
  return createToolGate({
    clients,
    stack: STACK,
    allowed: toolsFor(intent),
    asked: approvableActions(intent),
    named: namedChange(intent, 'apps/sophia-dashboard'),
    approve: async () => ({ approved: true, by: 'ada', via: 'test' }),
    dryRun: false,
    maxCalls: 10,
    redactor: createRedactor([e.t.target.hostingBucket]),
    ...options,
  });
}
