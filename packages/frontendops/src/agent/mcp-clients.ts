/**
 * The agent reaches the world only through MCP clients. Which servers: an `mcpServers`-style JSON file
 * (the format MCP hosts share), or by default our own two spawned over stdio from this checkout. Every
 * client declares the elicitation capability so the infra server can ask for approval in-band.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, SdkError, SdkErrorCode, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import * as z from 'zod';
import { inGitHubJob } from '../approval/github-job.ts';
import { CONFIG_MAX_BYTES } from '../config.ts';
import { escapeControlCharacters } from '../engine/text.ts';
import { badInput, FrontendOpsError } from '../errors.ts';
import { readSmallFile } from '../private-file.ts';
import type { AgentClients } from './types.ts';

const stdioServer = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
});
const httpServer = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
});
const serverEntry = z.union([stdioServer, httpServer]);

export const mcpConfigSchema = z.object({
  mcpServers: z.object({ infra: serverEntry, git: serverEntry }).catchall(serverEntry),
});

export type McpServerEntry = z.infer<typeof serverEntry>;
export type McpConfig = z.infer<typeof mcpConfigSchema>;

/** This checkout's root (src/agent/ → ../..): where bin/frontendops.js lives. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Our two servers over stdio: `frontendops mcp infra [--stack <ref>]` and `frontendops mcp git`, on
 * the repository in `cwd` — or, in GitHub Actions (GITHUB_REPOSITORY with a GITHUB_TOKEN), on the
 * run's GitHub repository, so the deploy tag outlives the runner's checkout.
 */
export function defaultMcpConfig(
  cwd: string = process.cwd(),
  stackRef?: string,
  env: NodeJS.ProcessEnv = {},
): McpConfig {
  const bin = join(REPO_ROOT, 'bin', 'frontendops.js');
  const spawn = (args: string[]) => ({ command: process.execPath, args: [bin, ...args], env: {}, cwd });
  const github = env.GITHUB_TOKEN && env.GITHUB_REPOSITORY ? env.GITHUB_REPOSITORY : null;
  return {
    mcpServers: {
      infra: spawn(['mcp', 'infra', ...(stackRef ? ['--stack', stackRef] : [])]),
      git: spawn(['mcp', 'git', ...(github ? ['--github', github] : ['--repo', cwd])]),
    },
  };
}

const MCP_CONFIG_SHAPE =
  'Expected a JSON file like {"mcpServers": {"infra": {"command": "…", "args": […]}, "git": {…}}}.';

/**
 * Reads and checks an mcpServers file; BAD_INPUT names what is wrong. Whoever commits it chooses
 * what the path is (a workflow's `agent --config`): a huge file, or a link to /dev/zero or a pipe,
 * is refused unread, as the FrontendOps configuration is (readSmallFile, CONFIG_MAX_BYTES).
 */
export async function loadMcpConfig(path: string, cwd: string = process.cwd()): Promise<McpConfig> {
  const file = resolve(cwd, path);
  const read = await readSmallFile(file, CONFIG_MAX_BYTES).catch((error: unknown) => {
    throw badInput(
      `Cannot read the MCP configuration ${file}: ${(error as Error).message}. ${MCP_CONFIG_SHAPE}`,
    );
  });
  if (!('text' in read)) {
    throw badInput(
      read.problem === 'too-large'
        ? `The MCP configuration ${file} is larger than 1 MiB: it is a few kilobytes. Nothing was done. ${MCP_CONFIG_SHAPE}`
        : `The MCP configuration ${file} is not a regular file (${read.kind}). Nothing was done. ${MCP_CONFIG_SHAPE}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(read.text);
  } catch (error) {
    throw badInput(
      `Cannot read the MCP configuration ${file}: ${(error as Error).message}. ${MCP_CONFIG_SHAPE}`,
    );
  }
  const parsed = mcpConfigSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw badInput(
      `${file} is not a valid MCP configuration — ${problems.join('; ')}. It needs mcpServers.infra and ` +
        'mcpServers.git, each {"command", "args"?, "env"?, "cwd"?} (stdio) or {"url", "headers"?} (Streamable HTTP).',
    );
  }
  return parsed.data;
}

/**
 * The agent's MCP client: it answers the servers' elicitation questions (a protected stack's approval).
 * Over Streamable HTTP it negotiates the protocol (`auto`): on the 2025 protocol a stateless HTTP
 * server cannot ask its client anything, so a protected deploy could never be approved that way; on
 * 2026-07-28 each request carries the client's capabilities and the server asks within it. A server
 * that only speaks the 2025 protocol still works. Over stdio it keeps the 2025 handshake: the
 * connection is the session there, and `auto` would spawn a second server to probe.
 */
export function createAgentMcpClient(options: { http?: boolean } = {}): Client {
  return new Client(
    { name: 'frontendops-agent', version: '0.1.0' },
    {
      capabilities: { elicitation: { form: {} } },
      ...(options.http ? { versionNegotiation: { mode: 'auto' as const } } : {}),
    },
  );
}

export interface ConnectOptions {
  /**
   * Environment for servers we spawn by default: they hold the credentials, so they inherit this
   * process's environment. Servers from a config file get only the SDK's safe defaults plus their `env`,
   * and GITHUB_ACTIONS where this runs in a GitHub Actions job (jobMarker).
   */
  env?: NodeJS.ProcessEnv;
  /** Where the servers' stderr goes; default inherit (their logs show next to the agent's). */
  stderr?: 'inherit' | 'ignore' | 'pipe';
  /**
   * Each line a spawned server writes to stderr (its notes and warnings), instead of inheriting the
   * stream: a terminal UI prints them between its own lines, once, and not over a spinner.
   */
  onStderr?: (line: string) => void;
  /** How long a server gets to answer the MCP handshake (default HANDSHAKE_MS). */
  handshakeMs?: number;
}

/**
 * How long a server gets to answer the MCP handshake: ours answer within a second; a command that
 * is no MCP server (or one that hangs) is told apart in 20 s rather than at the SDK's 60 s default.
 */
const HANDSHAKE_MS = 20_000;

/**
 * How the agent connects to its servers: connectAgentClients, or what a caller puts in its place (the
 * CLI's io.connectMcp; tests run the same servers in their own process).
 */
export type ConnectMcp = (
  config: McpConfig,
  options?: ConnectOptions & { inheritEnv?: boolean },
) => Promise<AgentClients>;

/** Connects to mcpServers.infra and mcpServers.git; close() ends both (and any child processes). */
export async function connectAgentClients(
  config: McpConfig,
  options: ConnectOptions & { inheritEnv?: boolean } = {},
): Promise<AgentClients> {
  const opened: Client[] = [];
  const connect = async (name: 'infra' | 'git') => {
    const entry = config.mcpServers[name];
    const client = createAgentMcpClient({ http: 'url' in entry });
    const handshake = { timeout: options.handshakeMs ?? HANDSHAKE_MS };
    if ('url' in entry) {
      await client
        .connect(
          new StreamableHTTPClientTransport(new URL(entry.url), { requestInit: { headers: entry.headers } }),
          handshake,
        )
        .catch(async (error: unknown) => {
          // Its request still open is given up, not left to the server.
          if (isTimeout(error)) await client.close().catch(() => undefined);
          throw unanswered(name, entry.url, handshake.timeout, error);
        });
    } else {
      const spawned = spawnServer(entry, options);
      try {
        await client.connect(spawned.transport, handshake);
      } catch (error) {
        // A server that never answered is still running: it is stopped, not left behind.
        if (isTimeout(error)) await client.close().catch(() => undefined);
        throw unanswered(
          name,
          `\`${[entry.command, ...(entry.args ?? [])].join(' ')}\``,
          handshake.timeout,
          await spawned.notStarted(name, error, Boolean(options.inheritEnv)),
        );
      }
      spawned.started();
    }
    opened.push(client);
    return client;
  };
  // Both servers start at once: spawning is most of an agent request's start-up time.
  const [infra, git] = await Promise.allSettled([connect('infra'), connect('git')]);
  if (infra.status === 'fulfilled' && git.status === 'fulfilled') {
    return { infra: infra.value, git: git.value, close: () => closeAll(opened) };
  }
  await closeAll(opened);
  const failed =
    infra.status === 'rejected' ? ['infra', infra.reason] : ['git', (git as PromiseRejectedResult).reason];
  // A server that said why it did not start is answered in its words, not wrapped again.
  if (
    failed[1] instanceof FrontendOpsError ||
    (failed[1] as Error).message.startsWith(`The ${failed[0]} MCP server did not start`)
  )
    throw failed[1];
  throw new Error(`Could not connect to the ${failed[0]} MCP server: ${(failed[1] as Error).message}`, {
    cause: failed[1],
  });
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

const isTimeout = (error: unknown) =>
  SdkError.isInstance(error) && error.code === SdkErrorCode.RequestTimeout;

/** A handshake that timed out, said as such (UPSTREAM: the server is not ours to fix); else the error as it is. */
function unanswered(name: string, what: string, ms: number, error: unknown): unknown {
  if (!isTimeout(error)) return error;
  return new FrontendOpsError(
    'UPSTREAM',
    `The ${name} MCP server (${what}) did not answer the MCP handshake within ${ms / 1000} s, so it was stopped and nothing was asked of it. Check mcpServers.${name} in the MCP configuration: it must start an MCP server that speaks over stdio, or name a Streamable HTTP server's URL.`,
  );
}

/** How long a server that failed to start gets to finish writing why, once its connection closed. */
const LAST_WORDS_MS = 2_000;

/**
 * A server spawned over stdio. Its stderr is read line by line: until it has started, its lines are
 * held, so that one saying why it could not start (`error: …`, as the CLI says a mistake) becomes the
 * agent's answer rather than a line printed after "Connection closed"; then they go where the
 * options say, as they come.
 */
function spawnServer(
  entry: Extract<McpServerEntry, { command: string }>,
  options: ConnectOptions & { inheritEnv?: boolean },
) {
  const env = options.env ?? process.env;
  const base = options.inheritEnv ? definedOnly(env) : getDefaultEnvironment();
  const transport = new StdioClientTransport({
    command: entry.command,
    args: entry.args,
    // Last: a configuration's own `env` does not hide the job from its servers.
    env: { ...base, ...entry.env, ...(options.inheritEnv ? {} : jobMarker(env)) },
    stderr: 'pipe',
    ...(entry.cwd ? { cwd: entry.cwd } : {}),
  });
  const forward =
    options.onStderr ??
    ((options.stderr ?? 'inherit') === 'inherit'
      ? (line: string) => process.stderr.write(`${line}\n`)
      : () => {});
  let held: string[] | null = [];
  // A server's lines may quote others' text (a backend's answer, a commit's words): made printable
  // here, where they come in, for every place they are shown (a terminal, --json's stderr, a log).
  const say = (line: string) => {
    const shown = escapeControlCharacters(line);
    return held ? held.push(shown) : forward(shown);
  };
  let rest = '';
  const stderr = transport.stderr;
  const ended = new Promise<void>((done) => {
    stderr?.on('end', done);
    stderr?.on('close', done);
    stderr?.on('error', () => done());
  });
  stderr?.on('data', (chunk: Buffer | string) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) say(line);
  });
  void ended.then(() => {
    if (rest.trim()) say(rest);
    rest = '';
  });
  const release = () => {
    const lines = held ?? [];
    held = null;
    for (const line of lines) forward(line);
  };
  return {
    transport,
    started: release,
    /** The error to throw for a server that did not start: its own words when it said why. */
    async notStarted(name: string, error: unknown, ours: boolean): Promise<Error> {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise<void>((done) => (timer = setTimeout(done, LAST_WORDS_MS)))]);
      clearTimeout(timer);
      if (rest.trim()) say(rest);
      rest = '';
      const lines = held ?? [];
      const said = lines.findLast((line) => line.startsWith('error: '));
      // Our own CLI says a bug with a second line; a mistake (exit 2) with the one line only.
      const bug = lines.some((line) => line.startsWith('(this looks like a bug'));
      held = lines.filter((line) => line !== said);
      release();
      if (!said) return error instanceof Error ? error : new Error(String(error));
      const why = said.slice('error: '.length).slice(0, 1_000);
      // Our own server was started with arguments the person did not type: say them, and the way out.
      const how = ours
        ? ` The agent started it as \`frontendops ${entry.args.slice(1).join(' ')}\`: run the agent from where that works, or name its servers with --config <mcp.json>.`
        : '';
      const message = `The ${name} MCP server did not start: ${why}${how}`;
      return ours && !bug ? new FrontendOpsError('BAD_INPUT', message) : new Error(message, { cause: error });
    },
  };
}

/**
 * What a server from an MCP configuration is told of the agent's environment beyond the SDK's safe
 * defaults: that it runs in a GitHub Actions job, where the infra server counts no client's answer
 * (`agent --yes`) as an approval (mcp/infra/approval-gate.ts). Not the job's OIDC request variables:
 * their token mints the job's identity tokens, for any audience; nor any other of the agent's secrets.
 */
const jobMarker = (env: NodeJS.ProcessEnv): Record<string, string> =>
  inGitHubJob(env) ? { GITHUB_ACTIONS: 'true' } : {};

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

async function closeAll(clients: Client[]): Promise<void> {
  await Promise.allSettled(clients.map((c) => c.close()));
}
