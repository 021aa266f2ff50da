/**
 * The infra MCP server on a real deploy environment (embedded S3 + CloudFront double) with three
 * published builds, and real MCP clients connected over the in-memory linked pair.
 */
import { join } from 'node:path';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import type { ElicitRequest, ElicitResult, McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { type ApprovalPolicy, approvalPolicyFor, type Config, defaultConfig } from '../../src/config.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createInfraServer, type InfraServerOptions } from '../../src/mcp/infra/server.ts';
import type { Site } from '../../src/site.ts';
import { type BucketSnapshot, snapshotStack } from './bucket-snapshot.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from './deploy-env.ts';
import { type FixtureBuild, writeFixtureBuild } from './fixture-build.ts';

export const APP = 'sophia-dashboard';
/** Full 40-hex shas, as the git server returns them. */
export const COMMITS = [
  '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  '3333333ccccccccccccccccccccccccccccccccc',
] as const;

export interface InfraFixture {
  t: TestDeployEnv;
  builds: FixtureBuild[];
  /** A configuration protecting these stacks, with this approval policy for all of them. */
  config(protectedStacks?: string[], approval?: Partial<ApprovalPolicy>): Config;
  server(options?: Partial<InfraServerOptions>): McpServer;
  /**
   * The stack as it is now: its hosting bucket and its state prefix (the records, the audit chain,
   * the publish log, the approvals), to put back before each case that starts from it
   * (bucket-snapshot.ts). Not put back: the CloudFront double's requests (a case counts from its own
   * cdn.mark()) and the S3 request log (t.mark()).
   */
  snapshot(): Promise<BucketSnapshot>;
}

export async function startInfraFixture(
  overrides: Parameters<typeof startDeployEnv>[0] = {},
): Promise<InfraFixture> {
  const t = await startDeployEnv(overrides);
  const builds: FixtureBuild[] = [];
  for (const [i, commit] of COMMITS.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `build-${i}`), { version: `v${i + 1}` });
    builds.push(build);
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }
  const config = (protectedStacks: string[] = [], approval: Partial<ApprovalPolicy> = {}) => ({
    ...defaultConfig(),
    protected: protectedStacks,
    approval: { approvers: {}, trustElicitation: false, ...approval },
  });
  return {
    t,
    builds,
    config,
    // Protection is the site's: a config listing the stack as protected gets a protected view of it.
    server: (options = {}) => {
      const used = options.config ?? config();
      return createInfraServer({
        config: used,
        defaultStack: t.site.target.stack,
        openSite: async () => ({
          ...t.site,
          protected: used.protected.includes(t.site.target.stack),
          approval: approvalPolicyFor(used, t.site.target.stack),
        }),
        ...options,
      });
    },
    snapshot: () => snapshotStack(t.site),
  };
}

/**
 * An infra server on one site: its stack is the default, and every stack opens to `site`. The
 * configuration is the default one, which protects that stack too when the site is protected;
 * `options` override any of it.
 */
export function infraServerOn(site: Site, options: Partial<InfraServerOptions> = {}): McpServer {
  return createInfraServer({
    config: site.protected ? { ...defaultConfig(), protected: [site.target.stack] } : defaultConfig(),
    defaultStack: site.target.stack,
    openSite: async () => site,
    ...options,
  });
}

export interface ToolCall {
  isError: boolean;
  text: string;
  structured: Record<string, unknown>;
}

export interface InfraClient {
  client: Client;
  call(name: string, args?: Record<string, unknown>): Promise<ToolCall>;
  /** Every result this client received, for leak checks. */
  seen: unknown[];
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Declares the elicitation capability and answers with this. */
  elicit?: (request: ElicitRequest) => ElicitResult | Promise<ElicitResult>;
  /** 'legacy' (2025 handshake; elicitation is pushed) or 'modern' (2026-07-28; input_required rounds). */
  era?: 'legacy' | 'modern';
  name?: string;
}

/** A real MCP client of `server` (the infra server, or any other: the git server's tests use it too). */
export async function connectInfra(server: McpServer, options: ConnectOptions = {}): Promise<InfraClient> {
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  // As `frontendops mcp infra` serves: the SDK's entry picks the era from the client's opening.
  serveStdio(() => server, { transport: serverTransport });
  const client = new Client(
    { name: options.name ?? 'infra-test', version: '0.0.0' },
    {
      ...(options.elicit ? { capabilities: { elicitation: { form: {} } } } : {}),
      ...(options.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
    },
  );
  if (options.elicit) {
    const answer = options.elicit;
    client.setRequestHandler('elicitation/create', async (request) => answer(request));
  }
  await client.connect(clientTransport);
  return wrapClient(client);
}

/**
 * What the agent reads of the repository's deploy tags: list_deploy_tags's whole answer, from the git
 * server as `frontendops mcp git` serves it (it knows no stack, so hides no bucket name of its own).
 */
export async function agentListsDeployTags(repoDir: string): Promise<string> {
  const c = await connectInfra(
    createGitServer({ host: createLocalGit({ repoDir }), defaultPath: 'apps/sophia-dashboard' }),
    { name: 'agent' },
  );
  try {
    const listed = await c.call('list_deploy_tags');
    if (listed.isError) throw new Error(`list_deploy_tags failed: ${listed.text}`);
    return JSON.stringify(listed);
  } finally {
    await c.close();
  }
}

/**
 * startInfraFixture, and a client connected to its server (`serverOptions`, given the fixture): what
 * most infra tool tests start from. The stack is stopped again if the client cannot connect.
 */
export async function startConnectedInfra(
  serverOptions: (f: InfraFixture) => Partial<InfraServerOptions> = () => ({}),
): Promise<{ f: InfraFixture; c: InfraClient }> {
  const f = await startInfraFixture();
  try {
    return { f, c: await connectInfra(f.server(serverOptions(f))) };
  } catch (error) {
    await f.t.stop();
    throw error;
  }
}

/** The client closed, then the fixture's stack stopped: either may be missing when a start failed. */
export async function stopConnectedInfra(f: InfraFixture | undefined, c: InfraClient | undefined) {
  await c?.close();
  await f?.t.stop();
}

/**
 * A deploy of `commit` as the agent makes one: get_deploy_target, run_sync, invalidate_cdn, each
 * answered without an error. Its deploy id.
 */
export async function deployThroughTools(c: InfraClient, commit: string): Promise<string> {
  const target = await c.call('get_deploy_target', { commit });
  const sync = await c.call('run_sync', { handle: target.structured.handle });
  const done = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
  for (const step of [target, sync, done]) if (step.isError) throw new Error(step.text);
  return String(sync.structured.deployId);
}

export function wrapClient(client: Client): InfraClient {
  const seen: unknown[] = [];
  return {
    client,
    seen,
    async call(name, args = {}) {
      const result = await client.callTool({ name, arguments: args });
      seen.push(result);
      const text = (result.content as Array<{ type: string; text?: string }>)
        .map((c) => c.text ?? '')
        .join('\n');
      return {
        isError: result.isError === true,
        text,
        structured: (result.structuredContent ?? {}) as Record<string, unknown>,
      };
    },
    close: () => client.close(),
  };
}
