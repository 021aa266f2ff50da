/**
 * `npm run bench`: FrontendOps against the seed's `aws s3 sync … --delete` on the same embedded S3
 * server — full deploy, incremental deploy (5% of assets changed) and rollback of a Vite-like build
 * of about 800 files / 40 MB. Prints wall time, S3 requests (counted by the server) and
 * invalidation paths per scenario, the ratios against the targets of issue 2, and writes
 * bench/results.json. Not part of `npm test`: it takes about a minute.
 *
 * The tools run one after the other, never at once, so each run's requests are the server's
 * requests between its start and end.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createS3Client, createS3Store } from '../src/adapters/s3.ts';
import { type DeploySummary, deployArtifact, rollbackRelease } from '../src/deploy/deploy.ts';
import { publishArtifact, readManifest } from '../src/deploy/publish.ts';
import { artifactFileKey, keyOf } from '../src/engine/manifest.ts';
import type { DeployTarget } from '../src/engine/types.ts';
import { openEnvironment } from '../src/environment.ts';
import { LOCAL_S3_CREDENTIALS } from '../src/local/env-file.ts';
import { type S3RequestRecord, startLocalS3 } from '../src/local/s3-server.ts';
import type { ObjectStore } from '../src/ports.ts';
import type { RequestInfo } from '../src/state/records.ts';
import { startCloudFrontDouble } from '../test/support/cloudfront-double.ts';
import { generateBuilds } from './generate.ts';
import { type AwsCli, prepareAwsCli } from './peer.ts';
import {
  countOperations,
  formatDetails,
  formatTable,
  formatVerdicts,
  judgeScenario,
  type ScenarioName,
  type ScenarioResult,
  TIME_TARGETS,
  type ToolRun,
} from './report.ts';

const APP = 'sophia-dashboard';
const COMMIT_A = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const COMMIT_B = 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2';
const ARTIFACTS = 'bench-artifacts';
const HOSTING = 'bench-hosting-frontendops';
const PEER_HOSTING = 'bench-hosting-aws-sync';
const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));

const request = (text: string): RequestInfo => ({
  text,
  actor: 'bench',
  planner: 'cli',
  at: new Date().toISOString(),
});

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'frontendops-bench-'));
  const cleanups: Array<() => unknown> = [async () => rm(tmp, { recursive: true, force: true })];
  try {
    log('generating a Vite-like build and a rebuild with 5% of the assets changed…');
    const builds = await generateBuilds(join(tmp, 'builds'));
    log(
      `  build: ${builds.base.files} files, ${mb(builds.base.bytes)}; rebuild: ${builds.changedAssets} assets changed`,
    );

    const records: S3RequestRecord[] = [];
    const s3 = await startLocalS3({
      directory: join(tmp, 's3'),
      buckets: [ARTIFACTS, HOSTING, PEER_HOSTING],
      onRequest: (record) => records.push(record),
    });
    cleanups.unshift(() => s3.close());
    const cdn = await startCloudFrontDouble();
    cleanups.unshift(() => cdn.close());
    const target: DeployTarget = {
      stack: 'bench',
      artifactsBucket: ARTIFACTS,
      hostingBucket: HOSTING,
      stateBucket: ARTIFACTS,
      statePrefix: '.frontendops/state/bench/',
      distributionId: cdn.distributionId,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      prune: true,
    };
    const env = await openEnvironment(target, {
      credentials: LOCAL_S3_CREDENTIALS,
      cdnEndpoint: cdn.endpoint,
      lockDir: join(tmp, 'locks'),
    });
    cleanups.unshift(() => env.close());
    const peerStore = storeFor(s3.endpoint, PEER_HOSTING);
    cleanups.unshift(() => peerStore.close());

    log('publishing both builds as artifacts (not timed)…');
    await publishArtifact(env.artifacts, { dir: builds.base.dir, app: APP, commit: COMMIT_A });
    await publishArtifact(env.artifacts, { dir: builds.rebuild.dir, app: APP, commit: COMMIT_B });

    const aws = await prepareAwsCli(join(tmp, 'aws'), s3.endpoint);
    const awsStartupMs = await aws.measureStartup();
    log(`peer: ${aws.version} (start-up ${awsStartupMs.toFixed(0)} ms per invocation)`);

    const measure = async <T>(work: () => Promise<T>) => {
      await s3.flush();
      const from = records.length;
      const started = performance.now();
      const value = await work();
      const ms = performance.now() - started;
      await s3.flush();
      const mine = records.slice(from);
      return { value, ms, requests: mine.length, operations: countOperations(mine) };
    };

    const scenarios: Array<{
      name: ScenarioName;
      commit: string;
      frontendops: () => Promise<DeploySummary>;
    }> = [
      {
        name: 'full',
        commit: COMMIT_A,
        frontendops: () =>
          deployArtifact(env, { app: APP, commit: COMMIT_A, request: request('bench full') }),
      },
      {
        name: 'incremental',
        commit: COMMIT_B,
        frontendops: () =>
          deployArtifact(env, { app: APP, commit: COMMIT_B, request: request('bench incr') }),
      },
      {
        name: 'rollback',
        commit: COMMIT_A,
        frontendops: () => rollbackRelease(env, { request: request('bench rollback') }),
      },
    ];

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      log(`${scenario.name}: FrontendOps…`);
      const fo = await measure(scenario.frontendops);
      if (fo.value.outcome !== 'succeeded') {
        throw new Error(
          `FrontendOps ${scenario.name} ended ${fo.value.outcome}: ${fo.value.error?.message ?? ''}`,
        );
      }
      const foCheck = await checkHosting(env.artifacts, env.hosting, scenario.commit, { exact: false });
      log(`${scenario.name}: aws s3 sync…`);
      const peer = await measure(() => syncPeer(aws, scenario.commit));
      const peerCheck = await checkHosting(env.artifacts, peerStore.store, scenario.commit, { exact: true });
      const frontendops: ScenarioResult['frontendops'] = {
        ms: fo.ms,
        requests: fo.requests,
        operations: fo.operations,
        copied: fo.value.copied,
        deleted: fo.value.pruned,
        ...foCheck,
        invalidationPaths: fo.value.invalidation?.paths ?? [],
      };
      const peerRun: ToolRun = {
        ms: peer.ms,
        requests: peer.requests,
        operations: peer.operations,
        copied: peer.value.copied,
        deleted: peer.value.deleted,
        ...peerCheck,
      };
      results.push(judgeScenario(scenario.name, frontendops, peerRun));
    }

    console.log('');
    console.log(formatTable(results));
    console.log('');
    console.log(
      'aws s3 sync invalidates nothing: the seed invalidated /* separately after each sync (not timed here).',
    );
    console.log(
      `Each aws invocation includes the CLI's start-up, measured alone at ${awsStartupMs.toFixed(0)} ms.`,
    );
    console.log('');
    console.log(formatVerdicts(results));
    console.log('');
    console.log(formatDetails(results));
    await writeFile(
      RESULTS_FILE,
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          build: {
            files: builds.base.files,
            bytes: builds.base.bytes,
            changedAssets: builds.changedAssets,
          },
          peer: { version: aws.version, startupMs: awsStartupMs },
          targets: { time: TIME_TARGETS, requests: 'FrontendOps fewer than aws s3 sync' },
          results,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nresults written to ${RESULTS_FILE}`);
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

/** The seed's command, from the artifact's files to the peer's hosting bucket. */
function syncPeer(aws: AwsCli, commit: string) {
  const source = `s3://${ARTIFACTS}/${artifactFileKey(APP, commit, '/')}`;
  return aws.sync(source, `s3://${PEER_HOSTING}`);
}

/**
 * Does the hosting bucket hold every file of the commit, with the commit's index.html? With
 * `exact`, nothing else may be there (the peer's --delete); FrontendOps retains older releases.
 */
async function checkHosting(
  artifacts: ObjectStore,
  hosting: ObjectStore,
  commit: string,
  { exact }: { exact: boolean },
): Promise<{ correct: boolean; problems: string[] }> {
  const manifest = await readManifest(artifacts, APP, commit);
  if (!manifest) return { correct: false, problems: [`no manifest for ${commit}`] };
  const wanted = Object.keys(manifest.files).map(keyOf);
  const present = new Set((await hosting.list()).map((o) => o.key));
  const problems: string[] = [];
  const missing = wanted.filter((k) => !present.has(k));
  if (missing.length) problems.push(`${missing.length} files missing (e.g. ${missing[0]})`);
  if (exact) {
    const wantedSet = new Set(wanted);
    const extra = [...present].filter((k) => !wantedSet.has(k));
    if (extra.length) problems.push(`${extra.length} stale files left (e.g. ${extra[0]})`);
  }
  const served = await hosting.get('index.html');
  const expected = await artifacts.get(artifactFileKey(APP, commit, '/index.html'));
  if (!served || !expected || !served.body.equals(expected.body)) {
    problems.push(`index.html is not the one of ${commit.slice(0, 7)}`);
  }
  return { correct: problems.length === 0, problems };
}

/** A store on the peer's hosting bucket, for the correctness check only. */
function storeFor(endpoint: string, bucket: string) {
  const client = createS3Client({ endpoint, credentials: LOCAL_S3_CREDENTIALS });
  return { store: createS3Store({ bucket, client }), close: () => client.destroy() };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const log = (line: string) => console.error(line);

await main();
