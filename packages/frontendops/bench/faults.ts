/**
 * Fault behaviour of the CLI (spawned, as users run it) with the S3 endpoint behind the
 * fault-injecting proxy:
 * - pairs of runs, one fault-free and one with `rate` of attempts failing, alternating which goes
 *   first: full deploy, incremental deploy, rollback each, every result read back in full
 *   (checkRelease); time with faults against without, success rate, retries per request;
 * - every attempt failing: from the first request, and from the middle of the copies. The deploy
 *   must end in bounded time with a clear error and a non-zero exit, the old release still served
 *   whole; then a fault-free deploy must finish the interrupted one.
 */
import { join } from 'node:path';
import { checkRelease, type HostingCheck } from './check.ts';
import {
  deployArgs,
  type FrontendOpsCli,
  mustSucceed,
  parseSummary,
  prepareCli,
  publishWithCli,
  rollbackArgs,
} from './cli.ts';
import { type FaultKind, type FaultProxy, type FaultStats, startFaultProxy } from './fault-proxy.ts';
import type { GeneratedPair } from './generate.ts';
import { markdownTable, median, type ScenarioName, seconds, verdict } from './report.ts';
import { APP, ARTIFACTS, type BenchServers, COMMIT_A, COMMIT_B, startServers } from './servers.ts';

export const FAULT_TIME_TARGET = 1.5;
/** A deploy whose every S3 attempt fails must have ended within this long. */
export const FAIL_FAST_BOUND_MS = 30_000;

export interface FaultOp {
  scenario: ScenarioName;
  ms: number;
  code: number | null;
  outcome: string;
  check: HostingCheck;
  stats: FaultStats;
  error?: string;
}

export interface FailRun {
  what: string;
  /** Until the process exited. */
  ms: number;
  /** Until it printed its error. */
  errorAtMs: number | null;
  code: number | null;
  error: string;
  stats: FaultStats;
  /** The previous release, read back in full afterwards. */
  oldRelease: HostingCheck;
  pass: boolean;
}

export interface FaultsResult {
  rate: number;
  seed: number;
  kinds: readonly FaultKind[];
  pairs: Array<{ clean: FaultOp[]; faulty: FaultOp[] }>;
  comparison: Array<{
    scenario: ScenarioName;
    cleanMs: number;
    faultyMs: number;
    ratio: number;
    ratios: number[];
    pass: boolean;
  }>;
  successRate: number;
  allCorrect: boolean;
  retries: {
    requests: number;
    attempts: number;
    perRequest: number;
    maxAttempts: number;
    neverSucceeded: number;
  };
  failFast: FailRun[];
  recovery: { ms: number; outcome: string; check: HostingCheck };
}

const SCENARIOS: Array<{ scenario: ScenarioName; commit: string }> = [
  { scenario: 'full', commit: COMMIT_A },
  { scenario: 'incremental', commit: COMMIT_B },
  { scenario: 'rollback', commit: COMMIT_A },
];

export async function runFaults(
  dir: string,
  builds: GeneratedPair,
  options: { rate: number; seed: number; pairs: number; kinds: readonly FaultKind[] },
): Promise<FaultsResult> {
  const hostings = Array.from({ length: options.pairs }, (_, i) => [
    `bench-faults-clean-${i}`,
    `bench-faults-faulty-${i}`,
  ]).flat();
  const servers = await startServers(dir, [...hostings, 'bench-faults-fail']);
  const proxy = await startFaultProxy(servers.s3.endpoint, options.seed, options.kinds).catch(
    async (error) => {
      await servers.close();
      throw error;
    },
  );
  try {
    const artifacts = servers.store(ARTIFACTS);
    // Each stack's builds published as CI publishes them, with no faults (set-up, not measured): the
    // fault rate is set after.
    const cliFor = async (name: string) => {
      const cli = await prepareCliFor(name);
      proxy.setRate(0);
      await publishWithCli(cli, [
        [builds.base.dir, COMMIT_A],
        [builds.rebuild.dir, COMMIT_B],
      ]);
      return cli;
    };
    const prepareCliFor = (name: string) =>
      prepareCli(
        join(dir, name),
        {
          stack: name,
          artifactsBucket: ARTIFACTS,
          hostingBucket: name,
          region: 'us-east-1',
          endpoint: proxy.endpoint,
          distributionId: servers.cdn.distributionId,
        },
        { credentials: servers.credentials, cdnEndpoint: servers.cdn.endpoint },
      );

    const pairs: FaultsResult['pairs'] = [];
    for (let i = 0; i < options.pairs; i++) {
      const modes = i % 2 === 0 ? (['clean', 'faulty'] as const) : (['faulty', 'clean'] as const);
      const pair: Partial<FaultsResult['pairs'][number]> = {};
      for (const mode of modes) {
        log(
          `  faults: pair ${i + 1} of ${options.pairs}, ${mode === 'clean' ? 'fault-free' : `${options.rate * 100}% faults`}`,
        );
        const cli = await cliFor(`bench-faults-${mode}-${i}`);
        proxy.setRate(mode === 'clean' ? 0 : options.rate);
        pair[mode] = await runOps(servers, proxy, cli);
      }
      pairs.push(pair as FaultsResult['pairs'][number]);
    }

    log('  faults: every attempt failing');
    const cli = await cliFor('bench-faults-fail');
    const hosting = servers.store('bench-faults-fail');
    proxy.setRate(0);
    await mustSucceed(cli, deployArgs(cli, COMMIT_A), 'deploy (fail-fast set-up)');
    const failFast: FailRun[] = [];
    const failing = async (what: string, arm: (p: FaultProxy) => void) => {
      proxy.setRate(0);
      arm(proxy);
      proxy.reset();
      const started = performance.now();
      let errorAtMs: number | null = null;
      let printed = '';
      const run = await cli.run(deployArgs(cli, COMMIT_B), {
        timeoutMs: FAIL_FAST_BOUND_MS * 4,
        onStderr(text) {
          printed += text;
          if (errorAtMs === null && /^error:/m.test(printed)) errorAtMs = performance.now() - started;
        },
      });
      const stats = proxy.stats();
      proxy.setRate(0);
      const oldRelease = await checkRelease(artifacts, hosting, { app: APP, commit: COMMIT_A });
      const error = run.stderr.split('\n').find((line) => line.startsWith('error:')) ?? run.stderr.trim();
      failFast.push({
        what,
        ms: run.ms,
        errorAtMs,
        code: run.code,
        error,
        stats,
        oldRelease,
        pass:
          run.code !== 0 &&
          !run.timedOut &&
          run.ms <= FAIL_FAST_BOUND_MS &&
          error !== '' &&
          oldRelease.correct,
      });
    };
    await failing('every attempt fails from the first request', (p) => p.setRate(1));
    await failing('every attempt fails from the 21st copy on', (p) => p.failAllAfterCopies(20));
    proxy.setRate(0);
    const again = await cli.run(deployArgs(cli, COMMIT_B));
    const recovery = {
      ms: again.ms,
      outcome: parseSummary(again, 'recovery deploy').outcome,
      check: await checkRelease(artifacts, hosting, { app: APP, commit: COMMIT_B }),
    };

    return summarize(options, pairs, failFast, recovery);
  } finally {
    await proxy.close();
    await servers.close();
  }
}

async function runOps(servers: BenchServers, proxy: FaultProxy, cli: FrontendOpsCli): Promise<FaultOp[]> {
  const artifacts = servers.store(ARTIFACTS);
  const ops: FaultOp[] = [];
  for (const { scenario, commit } of SCENARIOS) {
    proxy.reset();
    const run = await cli.run(scenario === 'rollback' ? rollbackArgs(cli) : deployArgs(cli, commit), {
      timeoutMs: 300_000,
    });
    const stats = proxy.stats();
    let outcome = 'no summary';
    try {
      outcome = parseSummary(run, scenario).outcome;
    } catch {}
    const error = run.stderr.split('\n').find((line) => line.startsWith('error:'));
    const hosting = servers.store(cli.outputs.hostingBucket);
    ops.push({
      scenario,
      ms: run.ms,
      code: run.code,
      outcome,
      check: await checkRelease(artifacts, hosting, { app: APP, commit }),
      stats,
      ...(error ? { error } : {}),
    });
  }
  return ops;
}

const succeededThrough = (ops: FaultOp[], i: number) =>
  ops.slice(0, i + 1).every((op) => op.code === 0 && op.outcome === 'succeeded');

function summarize(
  options: { rate: number; seed: number; kinds: readonly FaultKind[] },
  pairs: FaultsResult['pairs'],
  failFast: FailRun[],
  recovery: FaultsResult['recovery'],
): FaultsResult {
  const comparison = SCENARIOS.map(({ scenario }, i) => {
    // Only pairs where both runs, and every run before them on their stack, succeeded: a run that
    // failed ended early, and one after a failed deploy started from another site (more to copy,
    // or nothing to roll back to); neither time says how long a deploy with faults takes. The
    // failures count against the success rate instead.
    const done = pairs.filter((p) => succeededThrough(p.clean, i) && succeededThrough(p.faulty, i));
    const clean = done.map((p) => p.clean[i]?.ms ?? 0);
    const faulty = done.map((p) => p.faulty[i]?.ms ?? 0);
    const ratios = done.map((_, k) => (faulty[k] ?? 0) / (clean[k] ?? 1));
    const ratio = ratios.length ? median(ratios) : Infinity;
    return {
      scenario,
      cleanMs: median(clean),
      faultyMs: median(faulty),
      ratio,
      ratios,
      pass: ratio <= FAULT_TIME_TARGET,
    };
  });
  const faultyOps = pairs.flatMap((p) => p.faulty);
  const stats = faultyOps.map((op) => op.stats);
  const requests = stats.reduce((s, x) => s + x.requests, 0);
  const attempts = stats.reduce((s, x) => s + x.attempts, 0);
  return {
    rate: options.rate,
    seed: options.seed,
    kinds: options.kinds,
    pairs,
    comparison,
    successRate:
      faultyOps.filter((op) => op.code === 0 && op.outcome === 'succeeded').length / faultyOps.length,
    allCorrect: pairs.every((p) => [...p.clean, ...p.faulty].every((op) => op.check.correct)),
    retries: {
      requests,
      attempts,
      perRequest: requests ? (attempts - requests) / requests : 0,
      maxAttempts: Math.max(0, ...stats.flatMap((x) => Object.keys(x.attemptsPerRequest).map(Number))),
      neverSucceeded: stats.reduce((s, x) => s + x.neverSucceeded, 0),
    },
    failFast,
    recovery,
  };
}

export function formatFaults(r: FaultsResult): string {
  const table = markdownTable(
    ['scenario', 'fault-free', `${r.rate * 100}% faults`, 'ratio', 'target', 'verdict', 'per pair'],
    r.comparison.map((c) => [
      c.scenario,
      seconds(c.cleanMs),
      seconds(c.faultyMs),
      `${c.ratio.toFixed(2)}x`,
      `<= ${FAULT_TIME_TARGET}x`,
      verdict(c.pass),
      c.ratios.map((x) => x.toFixed(2)).join(' '),
    ]),
  );
  const faultyOps = r.pairs.flatMap((p) => p.faulty);
  const injected = faultyOps.reduce(
    (s, op) => ({
      InternalError: s.InternalError + op.stats.faults.InternalError,
      SlowDown: s.SlowDown + op.stats.faults.SlowDown,
      reset: s.reset + op.stats.faults.reset,
    }),
    { InternalError: 0, SlowDown: 0, reset: 0 },
  );
  const histogram: Record<number, number> = {};
  for (const op of faultyOps)
    for (const [n, count] of Object.entries(op.stats.attemptsPerRequest))
      histogram[Number(n)] = (histogram[Number(n)] ?? 0) + count;
  const problems = r.pairs
    .flatMap((p) => [...p.clean, ...p.faulty])
    .filter((op) => !op.check.correct || op.code !== 0)
    .map(
      (op) =>
        `  ${op.scenario}: exit ${op.code}, ${op.outcome}; ${op.error ?? ''} ${op.check.problems.join('; ')}`,
    );
  const fail = markdownTable(
    [
      '100% faults',
      'error printed',
      'exited',
      'exit code',
      'S3 attempts',
      'old release served whole',
      'verdict',
      'error',
    ],
    r.failFast.map((f) => [
      f.what,
      f.errorAtMs === null ? '-' : seconds(f.errorAtMs),
      seconds(f.ms),
      String(f.code),
      `${f.stats.attempts} (${f.stats.requests} requests)`,
      f.oldRelease.correct ? 'yes' : `NO: ${f.oldRelease.problems.join('; ')}`,
      verdict(f.pass),
      f.error.slice(0, 160),
    ]),
  );
  return [
    table,
    `seed ${r.seed}; kinds ${r.kinds.join(', ')}; ${r.pairs.length} pair(s), fault-free and faulty run alternately first; ratio = median of the per-pair ratios of the pairs where both stacks succeeded up to that run (${r.comparison.map((c) => `${c.scenario} ${c.ratios.length}`).join(', ')} of ${r.pairs.length}).`,
    `success rate with faults: ${(r.successRate * 100).toFixed(0)}% (${faultyOps.filter((op) => op.code === 0).length} of ${faultyOps.length} CLI runs); every site read back in full and right (bytes, headers, HTML references): ${r.allCorrect ? 'yes' : 'NO'}`,
    `injected: ${injected.InternalError} × 500 InternalError, ${injected.SlowDown} × 503 SlowDown, ${injected.reset} × connection reset after the server acted`,
    `retries: ${r.retries.attempts} attempts for ${r.retries.requests} requests = ${r.retries.perRequest.toFixed(3)} retries per request; attempts per request: ${Object.entries(
      histogram,
    )
      .map(([n, c]) => `${n}×${c}`)
      .join(', ')}; requests that never succeeded: ${r.retries.neverSucceeded}`,
    ...(problems.length ? ['problems:', ...problems] : []),
    '',
    fail,
    `bound: ${seconds(FAIL_FAST_BOUND_MS, 0)}. Then, fault-free, the same deploy again: ${r.recovery.outcome} in ${seconds(r.recovery.ms)}, site ${r.recovery.check.correct ? 'right' : `WRONG: ${r.recovery.check.problems.join('; ')}`}.`,
  ].join('\n');
}

const log = (line: string) => console.error(line);
