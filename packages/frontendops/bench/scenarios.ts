/**
 * One run of the sync section: a fresh embedded S3 server (artifacts bucket and one hosting bucket
 * per tool) and CloudFront double; both builds published (not timed); then full deploy,
 * incremental deploy and rollback, each by
 * - FrontendOps as a user runs it: `node bin/frontendops.js deploy|rollback --stack <outputs.json> … --json`,
 *   a spawned process, start-up included;
 * - FrontendOps in process (the engine alone: deployArtifact / rollbackRelease);
 * - the peer `aws s3 sync s3://<artifacts>/<app>/<commit>/files s3://<hosting> --delete`, spawned.
 *
 * With `latencyMs`, the three reach S3 through a proxy that holds each request that long
 * (bench/fault-proxy.ts): what a round trip to a bucket in a region adds, which rewards requests
 * sent together and punishes requests sent one after another. With `conditionalWrites`, through the
 * test suite's proxy that honours conditional writes (so FrontendOps locks and appends as on S3).
 *
 * The tools run one after the other, never at once, so a tool's requests are exactly the requests
 * the server finished between its start and its end. Their order rotates from run to run.
 */
import { join } from 'node:path';
import type { DeployEvent } from '../src/deploy/apply.ts';
import { type DeploySummary, deployArtifact, rollbackRelease } from '../src/deploy/deploy.ts';
import { publishBuild } from '../src/deploy/publish.ts';
import { artifactFileKey } from '../src/engine/manifest.ts';
import type { DeployTarget } from '../src/engine/types.ts';
import { connectSite } from '../src/stacks/open.ts';
import type { RequestInfo } from '../src/state/records.ts';
import { checkHosting } from './check.ts';
import { deployArgs, mustSucceed, prepareCli, publishWithCli, rollbackArgs } from './cli.ts';
import { startFaultProxy } from './fault-proxy.ts';
import type { GeneratedPair } from './generate.ts';
import { prepareAwsCli } from './peer.ts';
import {
  type CliRun,
  type InProcessRun,
  judgeScenario,
  type ScenarioName,
  type ScenarioResult,
  type ToolRun,
} from './report.ts';
import { APP, ARTIFACTS, COMMIT_A, COMMIT_B, startServers } from './servers.ts';

const HOSTING = 'bench-hosting-frontendops';
const CLI_HOSTING = 'bench-hosting-frontendops-cli';
const PEER_HOSTING = 'bench-hosting-aws-sync';

export type Tool = 'cli' | 'inProcess' | 'peer';
const TOOLS: Tool[] = ['cli', 'inProcess', 'peer'];

export interface RunOptions {
  /** Scratch directory of this run (server data, CLI config, locks). */
  dir: string;
  /** Which tool goes first in each scenario: the order rotates between runs against order effects. */
  rotation: number;
  /** FrontendOps in-process copy concurrency; the engine's default when absent. */
  concurrency?: number;
  /**
   * Milliseconds every S3 request is held before it reaches the server (0: none): all three tools
   * then reach S3 through a proxy, as a client reaches a bucket in a region over the network.
   */
  latencyMs?: number;
  /**
   * Whether the embedded server honours If-None-Match / If-Match (default true, as the local
   * environment runs it): FrontendOps then takes the S3 lock and appends to the audit log as on AWS;
   * false, it falls back to the file lock it takes where an endpoint ignores them.
   */
  conditionalWrites?: boolean;
}

export interface RunResult {
  results: ScenarioResult[];
  order: Tool[];
  peer: { version: string; startupMs: number };
}

const request = (text: string): RequestInfo => ({
  text,
  actor: 'bench',
  planner: 'cli',
  at: new Date().toISOString(),
});

export async function runScenarios(builds: GeneratedPair, options: RunOptions): Promise<RunResult> {
  const servers = await startServers(options.dir, [HOSTING, CLI_HOSTING, PEER_HOSTING], {
    conditionalWrites: options.conditionalWrites ?? true,
  });
  const closeEnv: Array<() => void | Promise<void>> = [];
  try {
    const { cdn, credentials } = servers;
    let s3Endpoint = servers.s3.endpoint;
    if (options.latencyMs) {
      const proxy = await startFaultProxy(s3Endpoint, 0);
      closeEnv.push(proxy.close);
      proxy.setDelay(options.latencyMs);
      s3Endpoint = proxy.endpoint;
    }
    const target: DeployTarget = {
      stack: 'bench',
      artifactsBucket: ARTIFACTS,
      hostingBucket: HOSTING,
      stateBucket: ARTIFACTS,
      statePrefix: '.frontendops/state/bench/',
      distributionId: cdn.distributionId,
      region: 'us-east-1',
      endpoint: s3Endpoint,
      prune: true,
    };
    const env = await connectSite(target, {
      access: { credentials, cdnEndpoint: cdn.endpoint },
      lockDir: join(options.dir, 'locks'),
    });
    closeEnv.push(env.close);
    const cli = await prepareCli(
      join(options.dir, 'cli'),
      {
        stack: 'bench-cli',
        artifactsBucket: ARTIFACTS,
        hostingBucket: CLI_HOSTING,
        region: 'us-east-1',
        endpoint: s3Endpoint,
        distributionId: cdn.distributionId,
      },
      { credentials, cdnEndpoint: cdn.endpoint },
    );
    const cliHosting = servers.store(CLI_HOSTING);
    const peerHosting = servers.store(PEER_HOSTING);

    // Published as CI publishes: recorded in each stack's publish log, which a deploy takes a build from.
    const ci = { text: 'publish', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
    for (const [dir, commit] of [
      [builds.base.dir, COMMIT_A],
      [builds.rebuild.dir, COMMIT_B],
    ] as const) {
      await publishBuild(env, { dir, app: APP, commit }, ci);
    }
    await publishWithCli(cli, [
      [builds.base.dir, COMMIT_A],
      [builds.rebuild.dir, COMMIT_B],
    ]);

    const aws = await prepareAwsCli(join(options.dir, 'aws'), s3Endpoint, credentials);
    const startupMs = await aws.measureStartup();

    const apply = { ...(options.concurrency ? { concurrency: options.concurrency } : {}) };
    const scenarios: Array<{
      name: ScenarioName;
      commit: string;
      cliArgs: string[];
      inProcess: (onEvent: (e: DeployEvent) => void) => Promise<DeploySummary>;
    }> = [
      {
        name: 'full',
        commit: COMMIT_A,
        cliArgs: deployArgs(cli, COMMIT_A),
        inProcess: (onEvent) =>
          deployArtifact(env, { ...apply, app: APP, commit: COMMIT_A, request: request('full'), onEvent }),
      },
      {
        name: 'incremental',
        commit: COMMIT_B,
        cliArgs: deployArgs(cli, COMMIT_B),
        inProcess: (onEvent) =>
          deployArtifact(env, { ...apply, app: APP, commit: COMMIT_B, request: request('incr'), onEvent }),
      },
      {
        name: 'rollback',
        commit: COMMIT_A,
        cliArgs: rollbackArgs(cli),
        inProcess: (onEvent) => rollbackRelease(env, { ...apply, request: request('rollback'), onEvent }),
      },
    ];
    const order = TOOLS.map((_, i) => TOOLS[(i + options.rotation) % TOOLS.length] as Tool);

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      const artifact = { app: APP, commit: scenario.commit };
      const runCli = async (): Promise<CliRun> => {
        log(`  ${scenario.name}: FrontendOps CLI…`);
        const { value, ...counted } = await servers.counted(() =>
          mustSucceed(cli, scenario.cliArgs, scenario.name),
        );
        return {
          ...counted,
          copied: value.summary.copied,
          deleted: value.summary.pruned,
          invalidationPaths: invalidated(value.summary.invalidation),
          peakRssMb: value.run.peakRssMb,
          cpuMs: value.run.cpuMs,
          ...(await checkHosting(env.artifacts, cliHosting, artifact, { exact: false })),
        };
      };
      const runInProcess = async (): Promise<InProcessRun> => {
        log(`  ${scenario.name}: FrontendOps in process…`);
        const phases: Record<string, number> = {};
        let t0 = 0;
        const { value, ...counted } = await servers.counted(() => {
          t0 = performance.now();
          return scenario.inProcess((event) => {
            const name =
              event.type === 'copy'
                ? `copied ${event.group}`
                : event.type === 'plan'
                  ? 'planned'
                  : event.step;
            phases[name] = Math.round(performance.now() - t0);
          });
        });
        if (value.outcome !== 'succeeded') {
          throw new Error(
            `FrontendOps ${scenario.name} ended ${value.outcome}: ${value.error?.message ?? ''}`,
          );
        }
        return {
          ...counted,
          copied: value.copied,
          deleted: value.pruned,
          invalidationPaths: value.invalidation?.paths ?? [],
          phases,
          ...(await checkHosting(env.artifacts, env.hosting, artifact, { exact: false })),
        };
      };
      const runPeer = async (): Promise<ToolRun> => {
        log(`  ${scenario.name}: aws s3 sync…`);
        const source = `s3://${ARTIFACTS}/${artifactFileKey(APP, scenario.commit, '/')}`;
        const { value, ...counted } = await servers.counted(() => aws.sync(source, `s3://${PEER_HOSTING}`));
        return {
          ...counted,
          ...value,
          ...(await checkHosting(env.artifacts, peerHosting, artifact, { exact: true })),
        };
      };
      const runs: { cli?: CliRun; inProcess?: InProcessRun; peer?: ToolRun } = {};
      for (const tool of order) {
        if (tool === 'cli') runs.cli = await runCli();
        else if (tool === 'inProcess') runs.inProcess = await runInProcess();
        else runs.peer = await runPeer();
      }
      const { cli: c, inProcess: i, peer: p } = runs;
      if (!c || !i || !p) throw new Error('a tool did not run');
      results.push(judgeScenario(scenario.name, { cli: c, inProcess: i, peer: p }));
    }
    return { results, order, peer: { version: aws.version, startupMs } };
  } finally {
    for (const close of closeEnv.reverse()) await close();
    await servers.close();
  }
}

/** The paths the CLI invalidated; a plan's paths without an invalidation id mean the CDN was not reached. */
function invalidated(invalidation: { paths: string[]; ids: string[] }): string[] {
  if (invalidation.paths.length > 0 && invalidation.ids.length === 0)
    throw new Error('the CLI did not reach the CloudFront double (no invalidation id)');
  return invalidation.paths;
}

const log = (line: string) => console.error(line);
