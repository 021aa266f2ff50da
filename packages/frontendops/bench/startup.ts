/**
 * Start-up of the CLI, as a process: `frontendops --help`, `frontendops status --stack <file>`
 * against the embedded server (one release live), and `frontendops mcp infra --stack <file>` up to
 * its answer to an MCP `initialize` over stdio. Wall time and peak RSS of each, median of several
 * samples, next to a bare `node -e ''` and `aws --version` for scale.
 */
import { join } from 'node:path';
import { BIN, deployArgs, type FrontendOpsCli, mustSucceed, prepareCli, publishWithCli } from './cli.ts';
import { generateBuilds } from './generate.ts';
import { type Measured, measure } from './proc.ts';
import { markdownTable, median } from './report.ts';
import { ARTIFACTS, COMMIT_A, startServers } from './servers.ts';

export const STARTUP_TARGETS = {
  help: { ms: 300, rssMb: 100 },
  status: { ms: 800 },
  mcpInitialize: { ms: 800 },
} as const;

export interface Sampled {
  ms: number;
  peakRssMb: number | null;
  samplesMs: number[];
  samplesRssMb: Array<number | null>;
}

export interface StartupResult {
  samples: number;
  rssSource: Measured['rssSource'];
  node: Sampled;
  aws: Sampled;
  help: Sampled;
  status: Sampled;
  /** From spawn to the initialize answer; RSS over the whole process (until stdin closed). */
  mcpInitialize: Sampled;
  /** The CLI without AWS credentials in its environment: it must fail (it takes them from the SDK chain). */
  withoutCredentials: { code: number | null; error: string };
}

const HOSTING = 'bench-startup-hosting';

export async function runStartup(dir: string, samples: number): Promise<StartupResult> {
  const servers = await startServers(dir, [HOSTING]);
  try {
    const builds = await generateBuilds(join(dir, 'build'), {
      files: 50,
      bytes: 1024 * 1024,
      changedFraction: 0.05,
      seed: 7,
    });
    const cli = await prepareCli(
      join(dir, 'cli'),
      {
        stack: 'bench-startup',
        artifactsBucket: ARTIFACTS,
        hostingBucket: HOSTING,
        region: 'us-east-1',
        endpoint: servers.s3.endpoint,
        distributionId: servers.cdn.distributionId,
      },
      { credentials: servers.credentials, cdnEndpoint: servers.cdn.endpoint },
    );
    await publishWithCli(cli, [[builds.base.dir, COMMIT_A]]);
    await mustSucceed(cli, deployArgs(cli, COMMIT_A), 'deploy (start-up set-up)');

    const withoutCredentials = await checkCredentialsFromEnv(cli);
    const runs: Record<'node' | 'aws' | 'help' | 'status' | 'mcpInitialize', Measured[]> = {
      node: [],
      aws: [],
      help: [],
      status: [],
      mcpInitialize: [],
    };
    const must = (run: Measured, what: string) => {
      if (run.code !== 0) throw new Error(`${what} exited ${run.code}: ${run.stderr.trim()}`);
      return run;
    };
    for (let i = 0; i < samples; i++) {
      log(`  start-up sample ${i + 1} of ${samples}`);
      runs.node.push(must(await measure(process.execPath, ['-e', ''], { env: cli.env }), 'node -e'));
      runs.aws.push(must(await measure('aws', ['--version'], { env: cli.env }), 'aws --version'));
      runs.help.push(must(await cli.run(['--help']), 'frontendops --help'));
      runs.status.push(must(await cli.run(['status', '--stack', cli.stackFile]), 'frontendops status'));
      runs.mcpInitialize.push(await mcpInitialize(cli));
    }
    return {
      samples,
      rssSource: runs.help[0]?.rssSource ?? 'none',
      node: summarize(runs.node),
      aws: summarize(runs.aws),
      help: summarize(runs.help),
      status: summarize(runs.status),
      mcpInitialize: summarize(runs.mcpInitialize),
      withoutCredentials,
    };
  } finally {
    await servers.close();
  }
}

/**
 * `frontendops mcp infra --stack <file>` over stdio: sends `initialize`, and closes stdin once the
 * answer arrived (the server then exits). `ms` is spawn → answer.
 */
async function mcpInitialize(cli: FrontendOpsCli): Promise<Measured> {
  const request = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'frontendops-bench', version: '0.0.0' },
    },
  };
  const started = performance.now();
  let answeredMs: number | null = null;
  let seen = '';
  const run = await measure(process.execPath, [BIN, 'mcp', 'infra', '--stack', cli.stackFile], {
    env: cli.env,
    cwd: cli.cwd,
    timeoutMs: 30_000,
    input: `${JSON.stringify(request)}\n`,
    onStdout(text, child) {
      seen += text;
      if (answeredMs === null && /"id"\s*:\s*1\b/.test(seen) && seen.includes('\n')) {
        answeredMs = performance.now() - started;
        child.stdin?.end();
      }
    },
  });
  const answer = seen.split('\n').find((line) => line.includes('"id":1'));
  if (answeredMs === null || !answer?.includes('"serverInfo"')) {
    throw new Error(`mcp infra did not answer initialize (exit ${run.code}): ${run.stderr.trim() || seen}`);
  }
  return { ...run, ms: answeredMs };
}

/** The CLI must not find credentials anywhere but the environment we give it. */
async function checkCredentialsFromEnv(cli: FrontendOpsCli) {
  const env = { ...cli.env };
  delete env.AWS_ACCESS_KEY_ID;
  delete env.AWS_SECRET_ACCESS_KEY;
  const run = await cli.run(['status', '--stack', cli.stackFile], { env, timeoutMs: 60_000 });
  if (run.code === 0) {
    throw new Error(
      'frontendops status succeeded without AWS credentials in its environment: the bench would not measure the standard SDK credential chain.',
    );
  }
  return { code: run.code, error: run.stderr.trim().split('\n')[0] ?? '' };
}

function summarize(runs: Measured[]): Sampled {
  const rss = runs.map((r) => r.peakRssMb);
  const known = rss.filter((r): r is number => r !== null);
  return {
    ms: median(runs.map((r) => r.ms)),
    peakRssMb: known.length ? median(known) : null,
    samplesMs: runs.map((r) => r.ms),
    samplesRssMb: rss,
  };
}

export function formatStartup(r: StartupResult): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
  const mb = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(0)} MB`);
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const row = (what: string, s: Sampled, target: string, ok: boolean | null) => [
    what,
    seconds(s.ms),
    `${(s.ms / r.node.ms).toFixed(1)}x`,
    mb(s.peakRssMb),
    target,
    ok === null ? '' : verdict(ok),
    s.samplesMs.map((ms) => (ms / 1000).toFixed(2)).join(' '),
  ];
  const t = STARTUP_TARGETS;
  const table = markdownTable(
    ['process', 'wall (median)', 'vs bare node', 'peak RSS', 'target', 'verdict', 'samples (s)'],
    [
      row("node -e ''", r.node, '', null),
      row('aws --version', r.aws, '', null),
      row(
        'frontendops --help',
        r.help,
        `<= ${t.help.ms / 1000} s, <= ${t.help.rssMb} MB`,
        r.help.ms <= t.help.ms && (r.help.peakRssMb ?? Infinity) <= t.help.rssMb,
      ),
      row(
        'frontendops status --stack <file>',
        r.status,
        `<= ${t.status.ms / 1000} s`,
        r.status.ms <= t.status.ms,
      ),
      row(
        'frontendops mcp infra: initialize answered',
        r.mcpInitialize,
        `<= ${t.mcpInitialize.ms / 1000} s`,
        r.mcpInitialize.ms <= t.mcpInitialize.ms,
      ),
    ],
  );
  return [
    table,
    `median of ${r.samples} samples; peak RSS: ${r.rssSource === 'wait4' ? "the child's ru_maxrss from wait4() via /usr/bin/time -f %M" : r.rssSource === 'sampled' ? '/proc/<pid>/status VmHWM sampled every 5 ms' : 'not available'}.`,
    `Credentials from the SDK chain only: without AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, status exits ${r.withoutCredentials.code} (${r.withoutCredentials.error.slice(0, 140)}).`,
  ].join('\n');
}

const log = (line: string) => console.error(line);
