/**
 * Large sites: for each size (800 → 5,000 → 20,000 files by default), a generated build and its
 * rebuild with 5% of the assets changed, then the CLI as spawned processes: publish (both builds),
 * full deploy, incremental deploy, rollback — wall time, peak RSS and S3 requests of each process,
 * and the cost per 1,000 site files, so growth that is not linear shows.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkHosting } from './check.ts';
import { deployArgs, type FrontendOpsCli, parseSummary, prepareCli, rollbackArgs } from './cli.ts';
import { generateBuilds } from './generate.ts';
import type { Measured } from './proc.ts';
import { markdownTable, seconds, verdict } from './report.ts';
import { APP, ARTIFACTS, COMMIT_A, COMMIT_B, startServers } from './servers.ts';

export const RSS_TARGET_MB = 256;
/** Linear growth: the time per extra file between the two largest sizes, against the two smallest. */
export const LINEAR_TARGET = 1.5;

export type ScaleOp = 'publish' | 'publish rebuild' | 'full' | 'incremental' | 'rollback';
const OPS: ScaleOp[] = ['publish', 'publish rebuild', 'full', 'incremental', 'rollback'];

export interface ScaleStep {
  op: ScaleOp;
  ms: number;
  /** CPU time of the CLI process: the rest of `ms` is waiting (on S3, mostly). */
  cpuMs: number | null;
  peakRssMb: number | null;
  requests: number;
  code: number | null;
  /** Files uploaded (publish) or copied (deploys). */
  files: number;
  error?: string;
}

export interface ScaleSize {
  files: number;
  bytes: number;
  changedAssets: number;
  steps: ScaleStep[];
  /** One full listing of the hosting bucket from this process: the embedded server's share of a deploy's reads. */
  listing: { keys: number; ms: number };
  correct: boolean;
  problems: string[];
}

export interface ScaleResult {
  kibPerFile: number;
  sizes: ScaleSize[];
}

export async function runScale(dir: string, sizes: number[], kibPerFile: number): Promise<ScaleResult> {
  const results: ScaleSize[] = [];
  for (const files of sizes) {
    const at = join(dir, `site-${files}`);
    try {
      log(`  scale: generating ${files} files…`);
      const builds = await generateBuilds(join(at, 'builds'), {
        files,
        bytes: files * kibPerFile * 1024,
        changedFraction: 0.05,
        seed: 20_26,
      });
      results.push({
        ...(await runSize(at, builds.base.dir, builds.rebuild.dir)),
        files: builds.base.files,
        bytes: builds.base.bytes,
        changedAssets: builds.changedAssets,
      });
    } finally {
      await rm(at, { recursive: true, force: true });
    }
  }
  return { kibPerFile, sizes: results };
}

async function runSize(dir: string, base: string, rebuild: string) {
  const hosting = 'bench-scale-hosting';
  const servers = await startServers(dir, [hosting]);
  try {
    const cli = await prepareCli(
      join(dir, 'cli'),
      {
        stack: 'bench-scale',
        artifactsBucket: ARTIFACTS,
        hostingBucket: hosting,
        region: 'us-east-1',
        endpoint: servers.s3.endpoint,
        distributionId: servers.cdn.distributionId,
      },
      { credentials: servers.credentials, cdnEndpoint: servers.cdn.endpoint },
    );
    const publish = (build: string, commit: string) => [
      'publish',
      build,
      '--app',
      APP,
      '--commit',
      commit,
      '--stack',
      cli.stackFile,
      '--json',
    ];
    const args: Record<ScaleOp, string[]> = {
      publish: publish(base, COMMIT_A),
      'publish rebuild': publish(rebuild, COMMIT_B),
      full: deployArgs(cli, COMMIT_A),
      incremental: deployArgs(cli, COMMIT_B),
      rollback: rollbackArgs(cli),
    };
    const steps: ScaleStep[] = [];
    for (const op of OPS) {
      log(`  scale: ${op}…`);
      const step = await runStep(servers.counted, cli, op, args[op]);
      steps.push(step);
      if (step.code !== 0) break;
    }
    const check =
      steps.length === OPS.length && steps.every((s) => s.code === 0)
        ? await checkHosting(
            servers.store(ARTIFACTS),
            servers.store(hosting),
            { app: APP, commit: COMMIT_A },
            { exact: false },
          )
        : { correct: false, problems: [steps.at(-1)?.error ?? 'a step failed'] };
    const started = performance.now();
    const keys = (await servers.store(hosting).list()).length;
    return { steps, listing: { keys, ms: performance.now() - started }, ...check };
  } finally {
    await servers.close();
  }
}

async function runStep(
  counted: <T>(work: () => Promise<T>) => Promise<{ value: T; requests: number }>,
  cli: FrontendOpsCli,
  op: ScaleOp,
  args: string[],
): Promise<ScaleStep> {
  const { value: run, requests } = await counted(() => cli.run(args, { timeoutMs: 15 * 60_000 }));
  const step = { op, ms: run.ms, cpuMs: run.cpuMs, peakRssMb: run.peakRssMb, requests, code: run.code };
  if (run.code !== 0) return { ...step, files: 0, error: describeFailure(run) };
  const printed = op.startsWith('publish')
    ? (JSON.parse(run.stdout) as { uploaded: number }).uploaded
    : parseSummary(run, op).copied;
  return { ...step, files: printed };
}

const describeFailure = (run: Measured) =>
  `exit ${run.code}${run.signal ? ` (${run.signal})` : ''}${run.timedOut ? ', timed out' : ''}: ${run.stderr.trim().split('\n').slice(0, 3).join(' ')}`;

export function formatScale(r: ScaleResult): string {
  const sizes = r.sizes;
  const perThousand = (ms: number, files: number) => ((ms / files) * 1000) / 1000;
  const rows = OPS.map((op) => {
    const cells = sizes.map((size) => ({ files: size.files, step: size.steps.find((s) => s.op === op) }));
    const done = cells.filter((c): c is { files: number; step: ScaleStep } => c.step?.code === 0);
    const average = done.map((c) => perThousand(c.step.ms, c.files));
    // Start-up and other fixed costs cancel out between two sizes: the marginal cost per file.
    const marginal = done.slice(1).map((c, i) => {
      const before = done[i] as { files: number; step: ScaleStep };
      return perThousand(c.step.ms - before.step.ms, c.files - before.files);
    });
    const growth = (values: number[]) =>
      values.length > 1 ? `${((values.at(-1) ?? 0) / (values[0] ?? 1)).toFixed(2)}x` : '-';
    return [
      op,
      ...cells.map(({ step: s }) =>
        s
          ? `${seconds(s.ms, 1)} (CPU ${s.cpuMs === null ? '?' : seconds(s.cpuMs, 1)}), ${s.peakRssMb?.toFixed(0) ?? '?'} MB, ${s.requests} req${s.code === 0 ? '' : ' FAILED'}`
          : '-',
      ),
      `${average.map((x) => x.toFixed(3)).join(' → ')} (${growth(average)})`,
      `${marginal.map((x) => x.toFixed(3)).join(' → ')} (${growth(marginal)})`,
    ];
  });
  const table = markdownTable(
    [
      'step (CLI process)',
      ...sizes.map((s) => `${s.files} files (${(s.bytes / 1024 / 1024).toFixed(0)} MiB)`),
      's per 1,000 files',
      'marginal s per 1,000 files',
    ],
    rows,
  );
  const worst = Math.max(0, ...sizes.flatMap((s) => s.steps.map((step) => step.peakRssMb ?? 0)));
  const worstStep = sizes
    .flatMap((s) => s.steps.map((step) => ({ ...step, files: s.files })))
    .find((step) => step.peakRssMb === worst);
  return [
    table,
    'cells: wall time (CPU time of the CLI process), peak RSS, S3 requests of the process. "s per 1,000 files": wall time / site files at each size (start-up included, so it falls as sites grow). ' +
      '"marginal": the extra time per extra 1,000 files between consecutive sizes (fixed costs cancel); linear growth keeps it flat, (last / first) near 1x.',
    `peak RSS of any CLI process: ${worst.toFixed(0)} MB (${worstStep?.op} of ${worstStep?.files} files); target <= ${RSS_TARGET_MB} MB: ${verdict(worst <= RSS_TARGET_MB)}`,
    ...sizes.map(
      (s) =>
        `${s.files} files: ${s.changedAssets} assets changed in the rebuild; listing the ${s.listing.keys} keys of the hosting bucket (ListObjectsV2, 1,000 a page) takes the embedded server ${seconds(s.listing.ms)}; site after rollback ${s.correct ? 'right' : `WRONG: ${s.problems.join('; ')}`}${s.steps.some((step) => step.code !== 0) ? `; ${s.steps.at(-1)?.op} FAILED: ${s.steps.at(-1)?.error}` : ''}`,
    ),
  ].join('\n');
}

const log = (line: string) => console.error(line);
