/**
 * `npm run bench [-- --runs <n>] [-- --concurrency <n>]`: FrontendOps against the seed's
 * `aws s3 sync s3://<artifacts>/<app>/<commit>/files s3://<hosting> --delete`, on the same embedded
 * S3 server: full deploy, incremental deploy (5% of the assets changed) and rollback of a Vite-like
 * build of about 800 files / 40 MB. Prints wall time, S3 requests (counted by the server) and
 * invalidation paths per scenario, the time ratios against the targets of issue 2, and writes
 * bench/results.json. Not part of `npm test`: one run takes about 40 seconds.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { generateBuilds } from './generate.ts';
import {
  combineRuns,
  formatDetails,
  formatTable,
  formatVerdicts,
  median,
  type ScenarioResult,
  TIME_TARGETS,
} from './report.ts';
import { type RunResult, runScenarios } from './scenarios.ts';

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));

const argsSchema = z.object({
  runs: z.coerce.number().int().min(1).max(20).default(1),
  concurrency: z.coerce.number().int().min(1).max(256).optional(),
});

function readArgs() {
  const { values } = parseArgs({
    options: { runs: { type: 'string' }, concurrency: { type: 'string' } },
    strict: true,
  });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    throw new Error(
      `Bad bench arguments: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}. Expected --runs <1-20> and optionally --concurrency <1-256>, e.g. npm run bench -- --runs 3.`,
    );
  }
  return parsed.data;
}

async function main(): Promise<void> {
  const args = readArgs();
  const tmp = await mkdtemp(join(tmpdir(), 'frontendops-bench-'));
  try {
    log('generating a Vite-like build and a rebuild with 5% of the assets changed…');
    const builds = await generateBuilds(join(tmp, 'builds'));
    log(
      `  ${builds.base.files} files, ${mb(builds.base.bytes)}; ${builds.changedAssets} assets changed in the rebuild`,
    );
    const runs: RunResult[] = [];
    for (let i = 1; i <= args.runs; i++) {
      const dir = join(tmp, `run-${i}`);
      // Odd runs measure FrontendOps first in each scenario, even runs the peer: order effects cancel.
      const peerFirst = i % 2 === 0;
      const first = peerFirst ? 'aws s3 sync' : 'FrontendOps';
      log(`run ${i} of ${args.runs}: fresh S3 server, both builds published untimed, ${first} first`);
      const concurrency = args.concurrency ? { concurrency: args.concurrency } : {};
      runs.push(await runScenarios(builds, { dir, peerFirst, ...concurrency }));
      await rm(dir, { recursive: true, force: true });
    }
    const results: ScenarioResult[] =
      runs.length === 1 ? (runs[0]?.results ?? []) : combineRuns(runs.map((r) => r.results));
    const peer = runs[0]?.peer;
    const startup = runs.map((r) => r.peer.startupMs.toFixed(0)).join(', ');

    console.log('');
    console.log(
      `${builds.base.files} files, ${mb(builds.base.bytes)}; ${args.runs === 1 ? 'one run' : `median of ${args.runs} runs (ratio: median of the per-run ratios)`}; ${peer?.version ?? ''}`,
    );
    console.log('');
    console.log(formatTable(results));
    console.log('');
    console.log(
      'aws s3 sync invalidates nothing: the seed invalidated /* separately after each sync (not timed here).',
    );
    console.log(`Every aws time includes the CLI's start-up: a bare \`aws --version\` took ${startup} ms.`);
    console.log('');
    console.log(formatVerdicts(results));
    console.log('');
    console.log(formatDetails(results, median(runs.map((r) => r.peer.startupMs))));
    await writeFile(
      RESULTS_FILE,
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          build: { files: builds.base.files, bytes: builds.base.bytes, changedAssets: builds.changedAssets },
          options: args,
          peer: { version: peer?.version, startupMs: runs.map((r) => r.peer.startupMs) },
          targets: { time: TIME_TARGETS, requests: 'FrontendOps fewer than aws s3 sync' },
          results,
          runs: runs.map((r) => r.results),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nresults written to ${RESULTS_FILE}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const log = (line: string) => console.error(line);

// `npm run bench -- atomic`: atomic releases vs in-place vs aws s3 sync (bench/atomic.ts).
if (process.argv[2] === 'atomic') await import('./atomic.ts');
else await main();
