/**
 * Runs the CLI in this process, as `runCli(argv, io)`: the same router, commands and errors as the
 * binary, without a process start per command. Output is collected; environment variables given are
 * also set on process.env for the run (the AWS SDK's standard credential chain reads them there).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.ts';
import { BIN } from './cli.ts';
import { connectInProcess } from './mcp-in-process.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** What `audit verify --json` answered: its exit code and each problem's reason, in order. */
export function verifyReasons(run: CliRun): { code: number; reasons: string[] } {
  const { problems } = JSON.parse(run.stdout) as { problems: Array<{ reason: string }> };
  return { code: run.code, reasons: problems.map((p) => p.reason) };
}

export interface CliRunOptions {
  /** Variables for the run; undefined unsets one the test process has (a set but empty one is a value). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Text on stdin (not a terminal). */
  stdin?: string;
  /** A terminal for stdin instead (isTTY): the test writes the person's answers to it. */
  terminal?: PassThrough;
  /** Resolves when a long-running command should stop (dev, console, mcp over HTTP). */
  stopped?: Promise<void>;
  /** Called with each chunk written to stderr (to wait for a server's address). */
  onStderr?: (text: string) => void;
  onStdout?: (text: string) => void;
  opened?: string[];
  /**
   * How the agent (agent, chat, dev) reaches its MCP servers: by default they run in this process
   * (mcp-in-process.ts); 'spawn' starts them as child processes over stdio, as users run them.
   */
  mcp?: 'in-process' | 'spawn';
}

export async function cli(argv: string[], options: CliRunOptions = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const stdin: PassThrough & { isTTY?: boolean } = options.terminal ?? new PassThrough();
  if (options.terminal) stdin.isTTY = true;
  else stdin.end(options.stdin ?? '');
  const env = { ...process.env, FRONTENDOPS_DEBUG: '', ...options.env };
  setEnv(options.env ?? {});
  try {
    const code = await runCli(argv, {
      stdout: {
        write: (chunk: string) => {
          stdout += chunk;
          options.onStdout?.(chunk);
        },
      },
      stderr: {
        write: (chunk: string) => {
          stderr += chunk;
          options.onStderr?.(chunk);
        },
      },
      stdin,
      env,
      cwd: options.cwd ?? process.cwd(),
      untilStopped: () => options.stopped ?? new Promise<void>(() => {}),
      openUrl: async (url) => {
        options.opened?.push(url);
      },
      ...(options.mcp === 'spawn' ? {} : { connectMcp: connectInProcess }),
    });
    return { code, stdout, stderr };
  } finally {
    restoreEnv();
  }
}

// Runs may overlap (two deploys started together): the variables stay set until the last one ends.
let active = 0;
const saved = new Map<string, string | undefined>();

function setEnv(values: Record<string, string | undefined>): void {
  active += 1;
  for (const [key, value] of Object.entries(values)) {
    if (!saved.has(key)) saved.set(key, process.env[key]);
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

function restoreEnv(): void {
  active -= 1;
  if (active > 0) return;
  for (const [key, value] of saved) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  saved.clear();
}

export interface ServingInProcess {
  /** The address the command printed ("listening on <url>", or what `ready` captures). */
  url: string;
  /** What it printed (stdout and stderr) until it was ready. */
  output: string;
  /** Stops the command and waits for it to end; its whole run. */
  stop(): Promise<CliRun>;
}

/**
 * What `dev` prints once it serves: "Serving until Ctrl-C", and the app's address ("<app>: <url>",
 * group 1) in whichever order.
 */
export const DEV_READY = /^(?=[\s\S]*Serving until Ctrl-C)[\s\S]*?^[\w.-]+: (http:\/\/127\.0\.0\.1:\d+)$/m;

/** What `mcp … --http 0` and `console` print once they serve; group 1 is the address. */
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+\S*)/;

/**
 * Starts a serving command in this process (`mcp … --http 0`, `console`, `dev`) and resolves once
 * its output (stdout and stderr) matches `ready` (default: "listening on <url>"; group 1 is the
 * address). Fails with its output when it ends first. `stop` ends it as Ctrl-C would.
 */
export function serveInProcess(
  argv: string[],
  options: CliRunOptions & { ready?: RegExp } = {},
): Promise<ServingInProcess> {
  const ready = options.ready ?? LISTENING;
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let seen = '';
  return new Promise((resolve, reject) => {
    const see = (text: string) => {
      seen += text;
      const url = ready.exec(seen)?.[1];
      if (url) {
        resolve({
          url,
          output: seen,
          stop: () => {
            stop();
            return running;
          },
        });
      }
    };
    const running = cli(argv, {
      ...options,
      stopped,
      onStdout: (text) => {
        options.onStdout?.(text);
        see(text);
      },
      onStderr: (text) => {
        options.onStderr?.(text);
        see(text);
      },
    });
    running.then(
      (run) =>
        reject(
          new Error(
            `${argv.join(' ')} ended (exit ${run.code}) before it served:\n${run.stdout}\n${run.stderr}`,
          ),
        ),
      reject,
    );
  });
}

/**
 * An agent `--config` file (`<dir>/mcp.json`) whose two MCP servers are child processes over stdio,
 * started from the repository: `mcp infra --stack <outputs>` with `infraEnv` (the infra server, not
 * the agent, holds the credentials) and `mcp git --repo <repoDir>`. Its path.
 */
export async function writeStdioMcpConfig(options: {
  outputs: string;
  repoDir: string;
  infraEnv: Record<string, string>;
  dir: string;
  /** More flags for `frontendops mcp infra` (e.g. --wait). */
  infraArgs?: string[];
}): Promise<string> {
  const { outputs, repoDir, infraEnv, dir, infraArgs = [] } = options;
  const config = join(dir, 'mcp.json');
  await writeFile(
    config,
    JSON.stringify({
      mcpServers: {
        infra: {
          command: process.execPath,
          args: [BIN, 'mcp', 'infra', '--stack', outputs, ...infraArgs],
          env: infraEnv,
          cwd: repoDir,
        },
        git: { command: process.execPath, args: [BIN, 'mcp', 'git', '--repo', repoDir], cwd: repoDir },
      },
    }),
  );
  return config;
}

export interface AgentServersInProcess {
  /** An agent `--config` file naming both servers by URL, with their bearer token. */
  config: string;
  stop(): Promise<void>;
}

/**
 * The agent's two MCP servers (`mcp infra --stack <outputs>`, `mcp git --repo <repo>`) served over
 * Streamable HTTP in this process, and the config that names them. While they run, the infra
 * server's variables (its AWS keys among them) are set on process.env, as `cli` sets them, so an
 * agent run meanwhile could read them: a test that shows the agent works without the keys runs
 * while none are served.
 */
export async function serveAgentServersInProcess(options: {
  outputs: string;
  repoDir: string;
  infraEnv: Record<string, string>;
  /** Where the config file goes. */
  dir: string;
}): Promise<AgentServersInProcess> {
  const token = randomBytes(24).toString('base64url');
  const headers = { Authorization: `Bearer ${token}` };
  const started = await Promise.allSettled([
    serveInProcess(['mcp', 'infra', '--stack', options.outputs, '--http', '0'], {
      env: { ...options.infraEnv, FRONTENDOPS_MCP_TOKEN: token },
      cwd: options.repoDir,
    }),
    serveInProcess(['mcp', 'git', '--repo', options.repoDir, '--http', '0'], {
      env: { FRONTENDOPS_MCP_TOKEN: token },
      cwd: options.repoDir,
    }),
  ]);
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const [infra, git] = servers as [ServingInProcess, ServingInProcess];
  const config = join(options.dir, `mcp-http-${randomBytes(4).toString('hex')}.json`);
  await writeFile(
    config,
    JSON.stringify({ mcpServers: { infra: { url: infra.url, headers }, git: { url: git.url, headers } } }),
  );
  return { config, stop };
}
