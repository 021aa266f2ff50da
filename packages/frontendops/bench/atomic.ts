/**
 * Section `atomic` of `npm run bench` (`-- --only atomic [--atomic-sizes 800,20000]`; the older
 * `npm run bench -- atomic [--sizes 800,20000]` still works): atomic releases against in-place
 * deploys and the seed's `aws s3 sync s3://<artifacts>/<app>/<commit>/files s3://<hosting> --delete`,
 * on one embedded S3 server (three hosting buckets) and a Vite-like build of each size with a
 * rebuild where 5% of the assets changed. Per size: full deploy, incremental deploy and rollback by
 * each tool — wall time, S3 requests (counted by the server), copies, invalidation paths — then how
 * rollback time grows from the smallest size to the largest. The atomic KeyValueStore is the local
 * edge's (its API over HTTP, signed with SigV4A); the in-place invalidations go to the CloudFront
 * double. Neither FrontendOps mode verifies through a CDN here (no site URL): the same work for both.
 * Both FrontendOps modes run in process. Results go into bench/results.json under "atomic".
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createS3Client, createS3Store } from '../src/adapters/s3.ts';
import { type DeploySummary, deployArtifact, rollbackRelease } from '../src/deploy/deploy.ts';
import { publishBuild, readManifest } from '../src/deploy/publish.ts';
import { releaseIdFor } from '../src/engine/atomic-plan.ts';
import { artifactDigest, artifactFileKey } from '../src/engine/manifest.ts';
import type { DeployTarget } from '../src/engine/types.ts';
import { startLocalEdge } from '../src/local/edge.ts';
import { type S3RequestRecord, startLocalS3 } from '../src/local/s3-server.ts';
import type { Site } from '../src/site.ts';
import { createLocalCredentials } from '../src/stacks/local-env-file.ts';
import { connectSite } from '../src/stacks/open.ts';
import type { RequestInfo } from '../src/state/records.ts';
import { startCloudFrontDouble } from '../test/support/cloudfront-double.ts';
import { checkHosting } from './check.ts';
import { DEFAULT_SHAPE, type GeneratedPair, generateBuilds } from './generate.ts';
import { prepareAwsCli } from './peer.ts';

const APP = 'sophia-dashboard';
const COMMIT_A = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const COMMIT_B = 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2';
const ARTIFACTS = 'bench-artifacts';
const BUCKETS = {
  atomic: 'bench-hosting-atomic',
  'in-place': 'bench-hosting-in-place',
  aws: 'bench-hosting-aws',
};
const TOOLS = ['atomic', 'in-place', 'aws'] as const;
type Tool = (typeof TOOLS)[number];
const SCENARIOS = ['full', 'incremental', 'rollback'] as const;
type Scenario = (typeof SCENARIOS)[number];

export interface AtomicMeasured {
  tool: Tool;
  scenario: Scenario;
  ms: number;
  requests: number;
  copies: number;
  deletes: number;
  /** Paths invalidated (aws: the seed invalidated /* separately, not counted). */
  invalidationPaths: number;
  correct: boolean;
  problems: string[];
}

export interface AtomicSize {
  files: number;
  bytes: number;
  changedAssets: number;
  runs: AtomicMeasured[];
}

const request = (text: string): RequestInfo => ({
  text,
  actor: 'bench',
  planner: 'cli',
  at: new Date().toISOString(),
});

/** One embedded server per size; the builds are generated under `dir` and removed after their size. */
export async function runAtomic(dir: string, sizes: readonly number[]): Promise<AtomicSize[]> {
  const results: AtomicSize[] = [];
  for (const files of sizes) {
    // About 50 KB a file on average (the 800-file build is the main bench's 40 MiB).
    const shape = { ...DEFAULT_SHAPE, files, bytes: Math.round(files * 52_000) };
    log(
      `  atomic: generating ${files} files (${mb(shape.bytes)}) and a rebuild with 5% of the assets changed…`,
    );
    const builds = await generateBuilds(join(dir, `builds-${files}`), shape);
    try {
      results.push(await runSize(builds, join(dir, `run-${files}`)));
    } finally {
      await rm(join(dir, `builds-${files}`), { recursive: true, force: true });
      await rm(join(dir, `run-${files}`), { recursive: true, force: true });
    }
  }
  return results;
}

async function runSize(builds: GeneratedPair, dir: string): Promise<AtomicSize> {
  const cleanups: Array<() => unknown> = [];
  try {
    const records: S3RequestRecord[] = [];
    const credentials = createLocalCredentials();
    const s3 = await startLocalS3({
      credentials,
      directory: join(dir, 's3'),
      buckets: [ARTIFACTS, ...Object.values(BUCKETS)],
      onRequest: (record) => records.push(record),
    });
    cleanups.unshift(() => s3.close());
    const client = createS3Client({ endpoint: s3.endpoint, credentials });
    cleanups.unshift(() => client.destroy());
    const cdn = await startCloudFrontDouble();
    cleanups.unshift(() => cdn.close());
    const edge = await startLocalEdge({
      origin: createS3Store({ bucket: BUCKETS.atomic, client }),
      distributionId: 'EBENCHATOMIC',
      apiCredentials: credentials,
      atomic: { credentials: [credentials], propagationMs: 0 },
    });
    cleanups.unshift(() => edge.close());

    const targetOf = (tool: 'atomic' | 'in-place'): DeployTarget => ({
      stack: `bench-${tool}`,
      artifactsBucket: ARTIFACTS,
      hostingBucket: BUCKETS[tool],
      stateBucket: ARTIFACTS,
      statePrefix: `.frontendops/state/bench-${tool}/`,
      ...(tool === 'in-place' ? { distributionId: cdn.distributionId } : {}),
      region: 'us-east-1',
      endpoint: s3.endpoint,
      prune: true,
      ...(tool === 'atomic' ? { releaseStoreArn: edge.atomic?.kvsArn as string } : {}),
    });
    const sites: Record<'atomic' | 'in-place', Site> = {
      atomic: await connectSite(targetOf('atomic'), {
        access: { credentials, kvsEndpoint: edge.atomic?.kvsEndpoint as string, propagationMs: 0 },
        lockDir: join(dir, 'locks'),
        onNotice: () => undefined,
      }),
      'in-place': await connectSite(targetOf('in-place'), {
        access: { credentials, cdnEndpoint: cdn.endpoint },
        lockDir: join(dir, 'locks'),
        onNotice: () => undefined,
      }),
    };
    for (const site of Object.values(sites)) cleanups.unshift(() => site.close());
    log('  publishing both builds (not timed)…');
    // Published as CI publishes them, to each stack's publish log (a deploy takes only builds it records).
    const ci = { text: 'publish', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
    for (const site of [sites.atomic, sites['in-place']]) {
      await publishBuild(site, { dir: builds.base.dir, app: APP, commit: COMMIT_A }, ci);
      await publishBuild(site, { dir: builds.rebuild.dir, app: APP, commit: COMMIT_B }, ci);
    }
    const aws = await prepareAwsCli(join(dir, 'aws'), s3.endpoint, credentials);

    const measure = async (
      tool: Tool,
      scenario: Scenario,
      work: () => Promise<
        Omit<AtomicMeasured, 'ms' | 'requests' | 'tool' | 'scenario' | 'correct' | 'problems'>
      >,
      commit: string,
    ) => {
      await s3.flush();
      const from = records.length;
      const started = performance.now();
      const value = await work();
      const ms = performance.now() - started;
      await s3.flush();
      const requests = records.length - from;
      const check = await checkTool(tool, commit);
      log(`  ${scenario} ${tool}: ${(ms / 1000).toFixed(2)} s, ${requests} requests`);
      return { tool, scenario, ms, requests, ...value, ...check };
    };
    const fromSummary = (summary: DeploySummary) => {
      if (summary.outcome !== 'succeeded')
        throw new Error(`${summary.kind} ended ${summary.outcome}: ${summary.error?.message ?? ''}`);
      return {
        copies: summary.copied,
        deletes: summary.pruned,
        invalidationPaths: summary.invalidation?.paths.length ?? 0,
      };
    };
    const checkTool = async (tool: Tool, commit: string) => {
      if (tool === 'aws') {
        return checkHosting(
          sites.atomic.artifacts,
          createS3Store({ bucket: BUCKETS.aws, client }),
          { app: APP, commit },
          { exact: true },
        );
      }
      if (tool === 'in-place') {
        return checkHosting(
          sites.atomic.artifacts,
          sites['in-place'].hosting,
          { app: APP, commit },
          { exact: false },
        );
      }
      // Atomic: the pointer names the release, and the edge serves its index.html (untimed).
      const manifest = await readManifest(sites.atomic.artifacts, APP, commit);
      const expected = await sites.atomic.artifacts.get(artifactFileKey(APP, commit, '/index.html'));
      const pointer = (await sites.atomic.releases?.read())?.value;
      const body = Buffer.from(await (await fetch(edge.url)).arrayBuffer());
      const problems: string[] = [];
      if (!manifest || pointer?.live !== releaseIdFor({ commit, artifactDigest: artifactDigest(manifest) }))
        problems.push('the pointer does not name the release');
      if (!expected || !body.equals(expected.body))
        problems.push(`the edge does not serve ${commit.slice(0, 7)}`);
      return { correct: problems.length === 0, problems };
    };
    const sync = (commit: string) => async () => {
      const done = await aws.sync(
        `s3://${ARTIFACTS}/${artifactFileKey(APP, commit, '/')}`,
        `s3://${BUCKETS.aws}`,
      );
      return { copies: done.copied, deletes: done.deleted, invalidationPaths: 0 };
    };

    const runs: AtomicMeasured[] = [];
    const plan: Array<
      [
        Scenario,
        string,
        Record<
          Tool,
          () => Promise<
            Omit<AtomicMeasured, 'ms' | 'requests' | 'tool' | 'scenario' | 'correct' | 'problems'>
          >
        >,
      ]
    > = [
      [
        'full',
        COMMIT_A,
        {
          atomic: async () =>
            fromSummary(
              await deployArtifact(sites.atomic, { app: APP, commit: COMMIT_A, request: request('full') }),
            ),
          'in-place': async () =>
            fromSummary(
              await deployArtifact(sites['in-place'], {
                app: APP,
                commit: COMMIT_A,
                request: request('full'),
              }),
            ),
          aws: sync(COMMIT_A),
        },
      ],
      [
        'incremental',
        COMMIT_B,
        {
          atomic: async () =>
            fromSummary(
              await deployArtifact(sites.atomic, { app: APP, commit: COMMIT_B, request: request('incr') }),
            ),
          'in-place': async () =>
            fromSummary(
              await deployArtifact(sites['in-place'], {
                app: APP,
                commit: COMMIT_B,
                request: request('incr'),
              }),
            ),
          aws: sync(COMMIT_B),
        },
      ],
      [
        'rollback',
        COMMIT_A,
        {
          atomic: async () =>
            fromSummary(await rollbackRelease(sites.atomic, { request: request('rollback') })),
          'in-place': async () =>
            fromSummary(await rollbackRelease(sites['in-place'], { request: request('rollback') })),
          aws: sync(COMMIT_A),
        },
      ],
    ];
    for (const [scenario, commit, tools] of plan) {
      for (const tool of TOOLS) runs.push(await measure(tool, scenario, tools[tool], commit));
    }
    if (edge.stats().invalidations.length > 0) throw new Error('the atomic site was invalidated');
    return { files: builds.base.files, bytes: builds.base.bytes, changedAssets: builds.changedAssets, runs };
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

export function formatAtomic(results: readonly AtomicSize[]): string {
  const lines: string[] = [];
  for (const size of results) {
    lines.push(`${size.files} files, ${mb(size.bytes)} (rebuild: ${size.changedAssets} assets changed)`, '');
    const rows = SCENARIOS.flatMap((scenario) =>
      TOOLS.map((tool) => {
        const r = size.runs.find((m) => m.tool === tool && m.scenario === scenario) as AtomicMeasured;
        const inPlace = size.runs.find(
          (m) => m.tool === 'in-place' && m.scenario === scenario,
        ) as AtomicMeasured;
        const aws = size.runs.find((m) => m.tool === 'aws' && m.scenario === scenario) as AtomicMeasured;
        return [
          scenario,
          tool === 'aws' ? 'aws s3 sync' : tool,
          `${(r.ms / 1000).toFixed(2)} s`,
          tool === 'atomic' ? `${ratio(r.ms, inPlace.ms)} / ${ratio(r.ms, aws.ms)}` : '',
          String(r.requests),
          String(r.copies),
          String(r.deletes),
          tool === 'aws' ? '(/* separately)' : String(r.invalidationPaths),
          r.correct ? 'yes' : `NO: ${r.problems.join('; ')}`,
        ];
      }),
    );
    lines.push(
      table(
        [
          'scenario',
          'tool',
          'time',
          'atomic vs in-place / aws',
          'S3 requests',
          'copied',
          'deleted',
          'invalidation paths',
          'correct',
        ],
        rows,
      ),
      '',
    );
  }
  if (results.length > 1) {
    const small = results[0] as AtomicSize;
    const large = results.at(-1) as AtomicSize;
    const rollback = (size: AtomicSize, tool: Tool) =>
      size.runs.find((m) => m.tool === tool && m.scenario === 'rollback') as AtomicMeasured;
    lines.push(`rollback, ${small.files} → ${large.files} files:`, '');
    lines.push(
      table(
        [
          'tool',
          `time at ${small.files}`,
          `time at ${large.files}`,
          'growth',
          `requests at ${small.files}`,
          `requests at ${large.files}`,
        ],
        TOOLS.map((tool) => {
          const a = rollback(small, tool);
          const b = rollback(large, tool);
          return [
            tool === 'aws' ? 'aws s3 sync' : tool,
            `${(a.ms / 1000).toFixed(2)} s`,
            `${(b.ms / 1000).toFixed(2)} s`,
            ratio(b.ms, a.ms),
            String(a.requests),
            String(b.requests),
          ];
        }),
      ),
    );
  }
  return lines.join('\n');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const ratio = (a: number, b: number) => `${a / b < 0.1 ? (a / b).toPrecision(2) : (a / b).toFixed(2)}x`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const log = (line: string) => console.error(line);
