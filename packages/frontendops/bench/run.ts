/**
 * `npm run bench [-- options]` (from the repository root or packages/frontendops): FrontendOps
 * measured as users run it (the CLI as spawned processes, start-up included) and in process, against
 * the peer `aws s3 sync … --delete` in the same run, on the embedded S3 server. Needs a built CLI
 * (`npm run build -w frontendops`: the spawned CLI runs dist/) and the AWS CLI (`aws`, v1 or v2) on PATH.
 *
 * Sections (all by default; `--only a,b` picks some), what each measures, and how to run it alone:
 *
 * - startup: `--help`, `status`, `mcp infra` answering `initialize` — wall time and peak RSS, median
 *            of --samples (5). `npm run bench -- --only startup --samples 9`
 * - sync:    full deploy, incremental deploy (5% of the assets changed) and rollback of an 800-file /
 *            40 MiB build: CLI process vs in process vs `aws s3 sync` — time, S3 requests,
 *            invalidation paths, ratios against the targets; --runs (3) fresh servers, tool order
 *            rotated. `npm run bench -- --only sync --runs 5`. --latency-ms (0) holds every S3
 *            request of the three tools that long, through a proxy: an endpoint in a region
 *            rather than on this machine. `npm run bench -- --only sync --latency-ms 20`.
 *            --conditional-writes (yes) whether the embedded server honours If-None-Match /
 *            If-Match, as the local environment's does (FrontendOps takes the S3 lock and appends
 *            as on AWS); no: it ignores them, and FrontendOps takes its file lock instead.
 * - faults:  the CLI with --fault-rate (10%) of S3 attempts failing (500, 503 SlowDown, connection
 *            resets) against fault-free runs, --fault-pairs (3) pairs; then every attempt failing.
 *            `npm run bench -- --only faults --fault-pairs 5`
 * - state:   status and history with --records (20,100,500) deployment records.
 *            `npm run bench -- --only state --records 20,500,2000`
 * - chain:   `audit verify` (CLI) and the whole-chain read a promote by deploy id pays (in process)
 *            with --entries (100,1000,3000) audit entries; --latency-ms holds each S3 request.
 *            `npm run bench -- --only chain --latency-ms 20`
 * - scale:   publish, deploy, incremental deploy, rollback of --scale-sizes (800,5000,20000) files of
 *            --scale-kib (8) KiB on average. `npm run bench -- --only scale --scale-sizes 800,20000`
 * - atomic:  atomic releases vs in-place vs `aws s3 sync`, in process, at --atomic-sizes (800,20000)
 *            files of ~50 KB (1 GB at 20,000: the longest section).
 *            `npm run bench -- --only atomic --atomic-sizes 800` (also `npm run bench -- atomic --sizes 800`)
 * - chat:    --turns (6) read-only console chat turns ("what's live?"), no model.
 *            `npm run bench -- --only chat --turns 10`
 *
 * The five first take about 10 minutes on 2 cores; atomic at 20,000 files as long again. Prints a
 * table per section and a table of the targets, and writes bench/results.json. Not part of `npm test`.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type AtomicSize, formatAtomic, runAtomic } from './atomic.ts';
import { type ChainReadsResult, formatChainReads, runChainReads } from './chain-reads.ts';
import { type ChatTurnResult, formatChatTurns, runChatTurns } from './chat-turn.ts';
import { FAULT_KINDS } from './fault-proxy.ts';
import { type FaultsResult, formatFaults, runFaults } from './faults.ts';
import { type GeneratedPair, generateBuilds } from './generate.ts';
import { killAll } from './proc.ts';
import { combineRuns, formatSyncDetails, formatSyncTable, median, type ScenarioResult } from './report.ts';
import { formatScale, runScale, type ScaleResult } from './scale.ts';
import { runScenarios } from './scenarios.ts';
import { formatStartup, runStartup, type StartupResult } from './startup.ts';
import { formatStateReads, runStateReads, type StateReadsResult } from './state-reads.ts';
import { formatVerdicts } from './summary.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));
const SECTIONS = ['startup', 'sync', 'faults', 'scale', 'state', 'chain', 'atomic', 'chat'] as const;
type Section = (typeof SECTIONS)[number];

/** "800,5000,20000" → [800, 5000, 20000], each checked by `item`. */
const list = (item: z.ZodNumber) =>
  z
    .string()
    .transform((s) => s.split(',').map((x) => Number(x.trim())))
    .pipe(z.array(item).min(1));

const argsSchema = z.object({
  only: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(SECTIONS)).min(1))
    .default([...SECTIONS]),
  runs: z.coerce.number().int().min(1).max(20).default(3),
  samples: z.coerce.number().int().min(1).max(50).default(5),
  concurrency: z.coerce.number().int().min(1).max(256).optional(),
  'latency-ms': z.coerce.number().int().min(0).max(1000).default(0),
  'conditional-writes': z.enum(['yes', 'no']).default('yes'),
  'fault-rate': z.coerce.number().min(0.01).max(0.5).default(0.1),
  'fault-seed': z.coerce.number().int().default(2026),
  'fault-pairs': z.coerce.number().int().min(1).max(20).default(3),
  'fault-kinds': z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(FAULT_KINDS)).min(1))
    .default([...FAULT_KINDS]),
  'scale-sizes': list(z.number().int().min(10).max(100_000)).default([800, 5000, 20_000]),
  'scale-kib': z.coerce.number().min(1).max(256).default(8),
  records: list(z.number().int().min(1).max(5000)).default([20, 100, 500]),
  entries: list(z.number().int().min(1).max(20_000)).default([100, 1000, 3000]),
  'atomic-sizes': list(z.number().int().min(50).max(50_000)).default([800, 20_000]),
  turns: z.coerce.number().int().min(1).max(50).default(6),
});
type Args = z.infer<typeof argsSchema>;

const USAGE =
  'npm run bench -- [--only startup,sync,faults,scale,state,chain,atomic,chat] [--runs 3] [--samples 5] [--concurrency <n>] [--latency-ms 0] [--conditional-writes yes] ' +
  '[--fault-rate 0.1] [--fault-seed 2026] [--fault-pairs 3] [--fault-kinds InternalError,SlowDown,reset] [--scale-sizes 800,5000,20000] [--scale-kib 8] ' +
  '[--records 20,100,500] [--entries 100,1000,3000] [--atomic-sizes 800,20000] [--turns 6]';

/** `atomic [--sizes …]`, the form of main's atomic bench, is `--only atomic [--atomic-sizes …]`. */
function normalise(argv: string[]): string[] {
  if (argv[0] !== 'atomic') return argv;
  return ['--only', 'atomic', ...argv.slice(1).map((arg) => (arg === '--sizes' ? '--atomic-sizes' : arg))];
}

/** The options, or null after printing the usage (--help) or what was wrong with them (exit code 2). */
function readArgs(): Args | null {
  const names = Object.keys(argsSchema.shape);
  const argv = normalise(process.argv.slice(2));
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`Usage: ${USAGE}`);
    return null;
  }
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
      strict: true,
    }).values;
  } catch (error) {
    // Node's own words ("Unknown option '--x'", "Option '--runs <value>' argument missing"), no stack.
    console.error(`Bad bench arguments: ${(error as Error).message}. Usage: ${USAGE}`);
    process.exitCode = 2;
    return null;
  }
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    console.error(
      `Bad bench arguments: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}. Usage: ${USAGE}`,
    );
    process.exitCode = 2;
    return null;
  }
  return parsed.data;
}

interface Results {
  at: string;
  machine: { cpus: number; node: string; loadAverageAtStart: number[]; loadAverageAtEnd?: number[] };
  options: Args;
  startup?: StartupResult;
  sync?: {
    build: { files: number; bytes: number; changedAssets: number };
    peer: { version: string; startupMs: number[] };
    results: ScenarioResult[];
    runs: ScenarioResult[][];
    /** Held on every S3 request (--latency-ms; 0: the server on this machine, answering at once). */
    latencyMs: number;
  };
  faults?: FaultsResult;
  scale?: ScaleResult;
  state?: StateReadsResult;
  chain?: ChainReadsResult;
  atomic?: AtomicSize[];
  chat?: ChatTurnResult;
  failed?: { section: Section; error: string };
}

async function main(): Promise<void> {
  const args = readArgs();
  if (!args) return;
  const tmp = await mkdtemp(join(tmpdir(), 'frontendops-bench-'));
  const results: Results = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadAverageAtStart: loadavg() },
    options: args,
  };
  // Interrupted: stop every process started, remove the scratch directory (the embedded S3
  // server, a child with an IPC channel, exits when this process does).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const want = (section: Section) => args.only.includes(section);
  let builds: GeneratedPair | undefined;
  const standardBuilds = async () => {
    if (!builds) {
      log('generating a Vite-like build (800 files, 40 MiB) and a rebuild with 5% of the assets changed…');
      builds = await generateBuilds(join(tmp, 'builds'));
    }
    return builds;
  };
  let current: Section = 'startup';
  try {
    log(`machine: ${cpus().length} cores, load average ${fmtLoad(loadavg())} at the start`);
    if (want('startup')) {
      current = 'startup';
      log('startup: CLI start-up…');
      results.startup = await runStartup(join(tmp, 'startup'), args.samples);
      print('Start-up (CLI processes)', formatStartup(results.startup));
    }
    if (want('sync')) {
      current = 'sync';
      const pair = await standardBuilds();
      const runs = [];
      for (let i = 0; i < args.runs; i++) {
        const dir = join(tmp, `sync-${i}`);
        log(`sync: run ${i + 1} of ${args.runs}: fresh S3 server, both builds published untimed`);
        runs.push(
          await runScenarios(pair, {
            dir,
            rotation: i,
            latencyMs: args['latency-ms'],
            conditionalWrites: args['conditional-writes'] === 'yes',
            ...(args.concurrency ? { concurrency: args.concurrency } : {}),
          }),
        );
        await rm(dir, { recursive: true, force: true });
      }
      const combined = runs.length === 1 ? (runs[0]?.results ?? []) : combineRuns(runs.map((r) => r.results));
      const startupMs = runs.map((r) => r.peer.startupMs);
      results.sync = {
        build: { files: pair.base.files, bytes: pair.base.bytes, changedAssets: pair.changedAssets },
        peer: { version: runs[0]?.peer.version ?? '', startupMs },
        results: combined,
        runs: runs.map((r) => r.results),
        latencyMs: args['latency-ms'],
      };
      print(
        `Deploys: FrontendOps CLI process vs in process vs aws s3 sync (${args['latency-ms'] ? `every S3 request held ${args['latency-ms']} ms; ` : ''}${args['conditional-writes'] === 'yes' ? 'conditional writes honoured; ' : 'conditional writes ignored (file lock); '}${pair.base.files} files, ${mib(pair.base.bytes)}, ${pair.changedAssets} assets changed; ${args.runs === 1 ? 'one run' : `median of ${args.runs} runs, ratios the median of per-run ratios`}; order of the tools rotated: ${runs.map((r) => r.order.join('→')).join(', ')})`,
        [
          formatSyncTable(combined),
          '',
          `${runs[0]?.peer.version}. Its times include its start-up (bare \`aws --version\`: ${startupMs.map((ms) => ms.toFixed(0)).join(', ')} ms); the CLI's include Node's and its own.`,
          'aws s3 sync invalidates nothing: the seed invalidated /* separately after each sync (not timed here).',
          '',
          formatSyncDetails(combined, median(startupMs)),
        ].join('\n'),
      );
    }
    if (want('faults')) {
      current = 'faults';
      const pair = await standardBuilds();
      results.faults = await runFaults(join(tmp, 'faults'), pair, {
        rate: args['fault-rate'],
        seed: args['fault-seed'],
        pairs: args['fault-pairs'],
        kinds: args['fault-kinds'],
      });
      print(
        `Faults: the CLI with ${args['fault-rate'] * 100}% of S3 attempts failing`,
        formatFaults(results.faults),
      );
    }
    if (want('state')) {
      current = 'state';
      results.state = await runStateReads(join(tmp, 'state'), args.records, Math.min(args.samples, 3));
      print('State reads with many deployment records (CLI processes)', formatStateReads(results.state));
    }
    if (want('chain')) {
      current = 'chain';
      results.chain = await runChainReads(
        join(tmp, 'chain'),
        args.entries,
        Math.min(args.samples, 3),
        args['latency-ms'],
      );
      print('Whole-chain reads as the audit chain grows', formatChainReads(results.chain));
    }
    if (want('scale')) {
      current = 'scale';
      results.scale = await runScale(join(tmp, 'scale'), args['scale-sizes'], args['scale-kib']);
      print(
        `Scale: site size against cost (${args['scale-kib']} KiB per file on average)`,
        formatScale(results.scale),
      );
    }
    if (want('atomic')) {
      current = 'atomic';
      results.atomic = await runAtomic(join(tmp, 'atomic'), args['atomic-sizes']);
      print('Atomic releases vs in-place vs aws s3 sync (in process)', formatAtomic(results.atomic));
    }
    if (want('chat')) {
      current = 'chat';
      results.chat = await runChatTurns(args.turns);
      print('Console chat turn ("what\'s live?", no model)', formatChatTurns(results.chat));
    }
    print('Targets', formatVerdicts(results));
  } catch (error) {
    results.failed = { section: current, error: error instanceof Error ? error.message : String(error) };
    throw error;
  } finally {
    killAll();
    results.machine.loadAverageAtEnd = loadavg();
    log(`machine: load average ${fmtLoad(loadavg())} at the end`);
    await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nresults written to ${RESULTS_FILE}`);
    await rm(tmp, { recursive: true, force: true });
  }
}

function print(title: string, body: string): void {
  console.log(`\n## ${title}\n\n${body}`);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const fmtLoad = (load: number[]) => load.map((x) => x.toFixed(2)).join(' ');
const log = (line: string) => console.error(line);

await main();
