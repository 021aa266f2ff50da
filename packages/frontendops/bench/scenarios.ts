/**
 * One benchmark run: a fresh embedded S3 server (artifacts bucket, FrontendOps hosting bucket, the
 * peer's hosting bucket) and CloudFront double; both builds published (not timed); then full
 * deploy, incremental deploy and rollback, each by FrontendOps and then by the peer.
 *
 * The tools run one after the other, never at once, so a run's requests are exactly the requests
 * the server finished between its start and its end.
 */
import { join } from 'node:path';
import { createS3Client, createS3Store } from '../src/adapters/s3.ts';
import type { DeployEvent } from '../src/deploy/apply.ts';
import { type DeploySummary, deployArtifact, rollbackRelease } from '../src/deploy/deploy.ts';
import { publishArtifact } from '../src/deploy/publish.ts';
import { artifactFileKey } from '../src/engine/manifest.ts';
import type { DeployTarget } from '../src/engine/types.ts';
import { type S3RequestRecord, startLocalS3 } from '../src/local/s3-server.ts';
import { createLocalCredentials } from '../src/stacks/local-env-file.ts';
import { connectSite } from '../src/stacks/open.ts';
import type { RequestInfo } from '../src/state/records.ts';
import { startCloudFrontDouble } from '../test/support/cloudfront-double.ts';
import { checkHosting } from './check.ts';
import type { GeneratedPair } from './generate.ts';
import { prepareAwsCli } from './peer.ts';
import {
  countOperations,
  judgeScenario,
  type ScenarioName,
  type ScenarioResult,
  type ToolRun,
} from './report.ts';

export const APP = 'sophia-dashboard';
const COMMIT_A = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const COMMIT_B = 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2';
const ARTIFACTS = 'bench-artifacts';
const HOSTING = 'bench-hosting-frontendops';
const PEER_HOSTING = 'bench-hosting-aws-sync';

export interface RunOptions {
  /** Scratch directory of this run (server data, CLI config, locks). */
  dir: string;
  /** FrontendOps copy concurrency; the engine's default when absent. */
  concurrency?: number;
  /** Run the peer before FrontendOps in each scenario (alternated between runs against order effects). */
  peerFirst?: boolean;
}

export interface RunResult {
  results: ScenarioResult[];
  peer: { version: string; startupMs: number };
}

const request = (text: string): RequestInfo => ({
  text,
  actor: 'bench',
  planner: 'cli',
  at: new Date().toISOString(),
});

export async function runScenarios(builds: GeneratedPair, options: RunOptions): Promise<RunResult> {
  const cleanups: Array<() => unknown> = [];
  try {
    const records: S3RequestRecord[] = [];
    const credentials = createLocalCredentials();
    const s3 = await startLocalS3({
      credentials,
      directory: join(options.dir, 's3'),
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
    const env = await connectSite(target, {
      access: { credentials, cdnEndpoint: cdn.endpoint },
      lockDir: join(options.dir, 'locks'),
    });
    cleanups.unshift(() => env.close());
    const checkClient = createS3Client({ endpoint: s3.endpoint, credentials });
    cleanups.unshift(() => checkClient.destroy());
    const peerHosting = createS3Store({ bucket: PEER_HOSTING, client: checkClient });

    await publishArtifact(env.artifacts, { dir: builds.base.dir, app: APP, commit: COMMIT_A });
    await publishArtifact(env.artifacts, { dir: builds.rebuild.dir, app: APP, commit: COMMIT_B });

    const aws = await prepareAwsCli(join(options.dir, 'aws'), s3.endpoint, credentials);
    const startupMs = await aws.measureStartup();

    const measure = async <T>(work: () => Promise<T>) => {
      await s3.flush();
      const from = records.length;
      const started = performance.now();
      const value = await work();
      const ms = performance.now() - started;
      await s3.flush();
      const mine = records.slice(from);
      return { value, ms, started, requests: mine.length, operations: countOperations(mine) };
    };

    const apply = { ...(options.concurrency ? { concurrency: options.concurrency } : {}) };
    const scenarios: Array<{
      name: ScenarioName;
      commit: string;
      frontendops: (onEvent: (e: DeployEvent) => void) => Promise<DeploySummary>;
    }> = [
      {
        name: 'full',
        commit: COMMIT_A,
        frontendops: (onEvent) =>
          deployArtifact(env, { ...apply, app: APP, commit: COMMIT_A, request: request('full'), onEvent }),
      },
      {
        name: 'incremental',
        commit: COMMIT_B,
        frontendops: (onEvent) =>
          deployArtifact(env, { ...apply, app: APP, commit: COMMIT_B, request: request('incr'), onEvent }),
      },
      {
        name: 'rollback',
        commit: COMMIT_A,
        frontendops: (onEvent) => rollbackRelease(env, { ...apply, request: request('rollback'), onEvent }),
      },
    ];

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      const artifact = { app: APP, commit: scenario.commit };
      const runFrontendOps = async () => {
        log(`  ${scenario.name}: FrontendOps…`);
        const phases: Record<string, number> = {};
        let t0 = 0;
        const fo = await measure(() => {
          t0 = performance.now();
          return scenario.frontendops((event) => {
            const name =
              event.type === 'copy'
                ? `copied ${event.group}`
                : event.type === 'plan'
                  ? 'planned'
                  : event.step;
            phases[name] = Math.round(performance.now() - t0);
          });
        });
        if (fo.value.outcome !== 'succeeded') {
          throw new Error(
            `FrontendOps ${scenario.name} ended ${fo.value.outcome}: ${fo.value.error?.message ?? ''}`,
          );
        }
        return {
          ...fo,
          phases,
          check: await checkHosting(env.artifacts, env.hosting, artifact, { exact: false }),
        };
      };
      const runPeer = async () => {
        log(`  ${scenario.name}: aws s3 sync…`);
        const source = `s3://${ARTIFACTS}/${artifactFileKey(APP, scenario.commit, '/')}`;
        const peer = await measure(() => aws.sync(source, `s3://${PEER_HOSTING}`));
        return { ...peer, check: await checkHosting(env.artifacts, peerHosting, artifact, { exact: true }) };
      };
      const peer = options.peerFirst ? await runPeer() : undefined;
      const fo = await runFrontendOps();
      const peerDone = peer ?? (await runPeer());
      const frontendops: ScenarioResult['frontendops'] = {
        ms: fo.ms,
        requests: fo.requests,
        operations: fo.operations,
        copied: fo.value.copied,
        deleted: fo.value.pruned,
        ...fo.check,
        invalidationPaths: fo.value.invalidation?.paths ?? [],
        phases: fo.phases,
      };
      const peerRun: ToolRun = {
        ms: peerDone.ms,
        requests: peerDone.requests,
        operations: peerDone.operations,
        copied: peerDone.value.copied,
        deleted: peerDone.value.deleted,
        ...peerDone.check,
      };
      results.push(judgeScenario(scenario.name, frontendops, peerRun));
    }
    return { results, peer: { version: aws.version, startupMs } };
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

const log = (line: string) => console.error(line);
