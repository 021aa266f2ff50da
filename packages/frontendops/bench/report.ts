/**
 * The sync section's verdict: per scenario the wall time, S3 requests and invalidation paths of
 * FrontendOps as a spawned CLI process (start-up included), of FrontendOps in process (the engine
 * alone), and of the peer `aws s3 sync` (a process too); ratios against the peer and PASS/MISS
 * against the targets. Also the table helpers every section prints with.
 */
import type { S3RequestRecord } from '../src/local/s3-server.ts';

export type ScenarioName = 'full' | 'incremental' | 'rollback';

/** Issue 10: the CLI as a process, start-up included, against `aws s3 sync` (wall-time ratio). */
export const CLI_TIME_TARGETS: Record<ScenarioName, number> = { full: 0.75, incremental: 0.5, rollback: 0.3 };
/** Issue 2: the engine in process against `aws s3 sync`. */
export const IN_PROCESS_TIME_TARGETS: Record<ScenarioName, number> = {
  full: 0.8,
  incremental: 0.7,
  rollback: 0.7,
};

export interface ToolRun {
  ms: number;
  requests: number;
  /** Requests by S3 operation (ListObjectsV2, CopyObject, …). */
  operations: Record<string, number>;
  copied: number;
  deleted: number;
  /** Does the hosting bucket serve the deployed commit afterwards? */
  correct: boolean;
  problems: string[];
}

export interface FrontendOpsRun extends ToolRun {
  invalidationPaths: string[];
}

export interface CliRun extends FrontendOpsRun {
  peakRssMb: number | null;
  /** CPU time of the process (user + system): the rest of its wall time is waiting. */
  cpuMs: number | null;
}

export interface InProcessRun extends FrontendOpsRun {
  /** When each deploy step ended, in ms from the start (plan, copy groups, pointer, invalidate, record). */
  phases: Record<string, number>;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  cli: CliRun;
  inProcess: InProcessRun;
  peer: ToolRun;
  cliRatio: number;
  inProcessRatio: number;
  cliTimePass: boolean;
  inProcessTimePass: boolean;
  /** Wall times of every run, when the result is the median of several. */
  samples?: { cliMs: number[]; inProcessMs: number[]; peerMs: number[]; cliRatios: number[] };
}

export function judgeScenario(
  scenario: ScenarioName,
  runs: { cli: CliRun; inProcess: InProcessRun; peer: ToolRun },
  ratios?: { cli: number; inProcess: number },
): ScenarioResult {
  const cliRatio = ratios?.cli ?? runs.cli.ms / runs.peer.ms;
  const inProcessRatio = ratios?.inProcess ?? runs.inProcess.ms / runs.peer.ms;
  return {
    scenario,
    ...runs,
    cliRatio,
    inProcessRatio,
    cliTimePass: cliRatio <= CLI_TIME_TARGETS[scenario],
    inProcessTimePass: inProcessRatio <= IN_PROCESS_TIME_TARGETS[scenario],
  };
}

/**
 * Several runs into one result per scenario: median wall times and request counts; correct only
 * when every run was. Under a fluctuating machine load the tools of one run, measured seconds
 * apart, compare better than medians taken apart: the ratios are the medians of the per-run ratios.
 */
export function combineRuns(runs: readonly (readonly ScenarioResult[])[]): ScenarioResult[] {
  const first = runs[0] ?? [];
  return first.map((result, i) => {
    const all = runs.map((run) => run[i] ?? result);
    const combine = <R extends ToolRun>(pick: (r: ScenarioResult) => R): R => ({
      ...pick(result),
      ms: median(all.map((r) => pick(r).ms)),
      requests: median(all.map((r) => pick(r).requests)),
      correct: all.every((r) => pick(r).correct),
      problems: [...new Set(all.flatMap((r) => pick(r).problems))],
    });
    const cli = combine((r) => r.cli);
    const rss = all.map((r) => r.cli.peakRssMb).filter((v): v is number => v !== null);
    const cpu = all.map((r) => r.cli.cpuMs).filter((v): v is number => v !== null);
    return {
      ...judgeScenario(
        result.scenario,
        {
          cli: {
            ...cli,
            peakRssMb: rss.length ? Math.max(...rss) : null,
            cpuMs: cpu.length ? median(cpu) : null,
          },
          inProcess: combine((r) => r.inProcess),
          peer: combine((r) => r.peer),
        },
        {
          cli: median(all.map((r) => r.cliRatio)),
          inProcess: median(all.map((r) => r.inProcessRatio)),
        },
      ),
      samples: {
        cliMs: all.map((r) => r.cli.ms),
        inProcessMs: all.map((r) => r.inProcess.ms),
        peerMs: all.map((r) => r.peer.ms),
        cliRatios: all.map((r) => r.cliRatio),
      },
    };
  });
}

/** Several timed runs of one command (BenchServers.counted) as one figure: medians, and each run's time. */
export function medianOfRuns(runs: readonly { ms: number; requests: number }[]): {
  ms: number;
  requests: number;
  samplesMs: number[];
} {
  return {
    ms: median(runs.map((r) => r.ms)),
    requests: median(runs.map((r) => r.requests)),
    samplesMs: runs.map((r) => r.ms),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The S3 operation a recorded request was, told apart by method, query and copy header. */
export function operationOf(record: S3RequestRecord): string {
  const query = new URLSearchParams(record.query);
  if (record.method === 'GET' && !record.key) return query.has('list-type') ? 'ListObjectsV2' : 'ListObjects';
  if (record.method === 'GET') return 'GetObject';
  if (record.method === 'HEAD') return record.key ? 'HeadObject' : 'HeadBucket';
  if (record.method === 'PUT') return record.copySource ? 'CopyObject' : 'PutObject';
  if (record.method === 'DELETE') return 'DeleteObject';
  if (record.method === 'POST' && query.has('delete')) return 'DeleteObjects';
  return `${record.method} ${record.query}`.trim();
}

export function countOperations(records: readonly S3RequestRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) {
    const op = operationOf(record);
    counts[op] = (counts[op] ?? 0) + 1;
  }
  return counts;
}

export const seconds = (ms: number, digits = 2) => `${(ms / 1000).toFixed(digits)} s`;
export const verdict = (pass: boolean) => (pass ? 'PASS' : 'MISS');
const ratio = (x: number) => `${x.toFixed(2)}x`;

export function formatSyncTable(results: readonly ScenarioResult[]): string {
  const time = markdownTable(
    [
      'scenario',
      'aws s3 sync',
      'FrontendOps CLI',
      'CLI/aws',
      'target',
      'verdict',
      'in process',
      'in-proc/aws',
      'target',
      'verdict',
    ],
    results.map((r) => [
      r.scenario,
      seconds(r.peer.ms),
      seconds(r.cli.ms),
      ratio(r.cliRatio),
      `<= ${CLI_TIME_TARGETS[r.scenario]}x`,
      verdict(r.cliTimePass),
      seconds(r.inProcess.ms),
      ratio(r.inProcessRatio),
      `<= ${IN_PROCESS_TIME_TARGETS[r.scenario]}x`,
      verdict(r.inProcessTimePass),
    ]),
  );
  const work = markdownTable(
    [
      'scenario',
      'S3 requests: aws',
      'CLI',
      'in process',
      'invalidation paths: CLI',
      'in process',
      'aws',
      'CLI peak RSS',
      'all sites correct',
    ],
    results.map((r) => [
      r.scenario,
      String(r.peer.requests),
      String(r.cli.requests),
      String(r.inProcess.requests),
      String(r.cli.invalidationPaths.length),
      String(r.inProcess.invalidationPaths.length),
      '0 (none)',
      r.cli.peakRssMb === null ? 'n/a' : `${r.cli.peakRssMb.toFixed(0)} MB`,
      [r.cli, r.inProcess, r.peer].every((t) => t.correct)
        ? 'yes'
        : `NO (${[r.cli.correct ? '' : 'CLI', r.inProcess.correct ? '' : 'in process', r.peer.correct ? '' : 'aws'].filter(Boolean).join(', ')})`,
    ]),
  );
  return `${time}\n\n${work}`;
}

/**
 * Per scenario: each run's times, what each tool did request by request, whether the result was
 * right, and the peer's time less a bare `aws --version` (its own start-up).
 */
export function formatSyncDetails(results: readonly ScenarioResult[], peerStartupMs: number): string {
  const list = (ms: number[] = []) => ms.map((m) => (m / 1000).toFixed(2)).join(', ');
  const describe = (run: ToolRun) =>
    `${run.copied} copied, ${run.deleted} deleted; ${Object.entries(run.operations)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, n]) => `${op} ${n}`)
      .join(', ')}; ${run.correct ? 'result correct' : `RESULT WRONG: ${run.problems.join('; ')}`}`;
  return results
    .map(
      (r) =>
        `${r.scenario}${r.samples ? ` (runs: CLI ${list(r.samples.cliMs)} s; in process ${list(r.samples.inProcessMs)} s; aws ${list(r.samples.peerMs)} s; CLI/aws ${r.samples.cliRatios.map((x) => x.toFixed(2)).join(', ')})` : ''}` +
        `\n  FrontendOps CLI: ${describe(r.cli)}` +
        `\n    process CPU time ${r.cli.cpuMs === null ? '?' : seconds(r.cli.cpuMs)} of ${seconds(r.cli.ms)} wall` +
        `\n    invalidated: ${r.cli.invalidationPaths.join(' ') || '(nothing)'}` +
        `\n  FrontendOps in process: ${describe(r.inProcess)}` +
        `\n    steps done at (ms): ${Object.entries(r.inProcess.phases)
          .map(([step, ms]) => `${step} ${ms}`)
          .join(', ')}` +
        `\n  aws s3 sync: ${describe(r.peer)}` +
        `\n    less its start-up (${seconds(peerStartupMs)}): ${seconds(r.peer.ms - peerStartupMs)}; CLI ${ratio(r.cli.ms / (r.peer.ms - peerStartupMs))}, in process ${ratio(r.inProcess.ms / (r.peer.ms - peerStartupMs))}`,
    )
    .join('\n');
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
