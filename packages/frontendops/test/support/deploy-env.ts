/** A complete deploy environment for tests: embedded S3 (real protocol), CloudFront double, temp dirs. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditHead } from '../../src/contract/audit-head.ts';
import { applyDeploy } from '../../src/deploy/apply.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { inPlaceKeptPrefixes, readLiveState } from '../../src/deploy/live.ts';
import {
  type PublishInput,
  type PublishResult,
  publishBuild,
  readManifest,
} from '../../src/deploy/publish.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import { type DeployPlan, planDeploy } from '../../src/engine/plan.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import type { DeployTarget, Manifest } from '../../src/engine/types.ts';
import type { S3RequestRecord } from '../../src/local/s3-server.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { appendAudit } from '../../src/state/audit.ts';
import { markEnvironment, readEnvironmentMarker } from '../../src/state/environment.ts';
import { PUBLISH_LOG } from '../../src/state/names.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type CloudFrontDouble, DOUBLE_DISTRIBUTION_ID, startCloudFrontDouble } from './cloudfront-double.ts';
import { writeFixtureBuild } from './fixture-build.ts';
import { requestLog, startTestS3, type TestS3 } from './local-s3.ts';

export const STACK = 'dashboard-hosting-prod';
export const ARTIFACTS = 'sophia-dashboard-build-artifacts';
export const HOSTING = 'sophia-dashboard-hosting-prod';

export interface TestDeployEnv {
  s3: TestS3;
  cdn: CloudFrontDouble;
  site: Site;
  target: DeployTarget;
  /**
   * What a CLI or server reading this environment's outputs file needs in its environment: the
   * embedded server's key through the standard AWS SDK variables, and the CloudFront double's endpoint.
   */
  cliEnv(): Record<string, string>;
  tmp: string;
  /** Every request the S3 server finished since the mark (as AtomicEnv's). */
  requestsSince(mark: number): Promise<S3RequestRecord[]>;
  mark(): Promise<number>;
  /**
   * Writes this environment's stack outputs as a `--stack` file (`<tmp>/<stack>.json`), as a CLI or
   * spawned server reads them; `cdn` adds the distribution id (then set AWS_ENDPOINT_URL_CLOUDFRONT).
   */
  writeOutputs(options?: { stack?: string; cdn?: boolean; hostingBucket?: string }): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Publishes a fixture build (writeFixtureBuild) of each commit as `app`'s, in order: version `v<from>`,
 * `v<from + 1>`… (from 1 unless said), as a test does before it deploys them. What was published, for
 * publishToStack.
 */
export async function publishFixtureBuilds(
  t: Pick<TestDeployEnv, 'site' | 'tmp'>,
  app: string,
  commits: readonly string[],
  options: { from?: number } = {},
): Promise<Array<Pick<PublishInput, 'dir' | 'app' | 'commit'>>> {
  const published = [];
  for (const [i, commit] of commits.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `build-${commit}`), {
      version: `v${i + (options.from ?? 1)}`,
    });
    await publishAsCi(t.site, { dir: build.dir, app, commit });
    published.push({ dir: build.dir, app, commit });
  }
  return published;
}

/**
 * Publishes a build as CI does (publishBuild): into the artifacts bucket and the stack's publish log,
 * the record a deploy takes a build only with.
 */
export const publishAsCi = (
  site: Site,
  input: Pick<PublishInput, 'dir' | 'app' | 'commit'>,
): Promise<PublishResult> => publishBuild(site, input, requestBy('publish', 'ci'));

/**
 * Publishes builds as CI does to another stack of this environment's buckets (its state under its
 * default prefix, as an outputs file naming it reaches it): `stack`'s publish log records them.
 */
export async function publishToStack(
  t: Pick<TestDeployEnv, 'target' | 's3'>,
  of: { stack: string; hostingBucket: string; stateBucket?: string },
  builds: readonly Pick<PublishInput, 'dir' | 'app' | 'commit'>[],
): Promise<void> {
  const site = await connectSite(
    { ...t.target, ...of, statePrefix: defaultStatePrefix(of.stack) },
    { access: { credentials: t.s3.credentials }, onNotice: () => undefined },
  );
  try {
    for (const build of builds) await publishAsCi(site, build);
  } finally {
    site.close();
  }
}

/**
 * A build made live as a deploy before publish records were checked made it: planned from the live
 * state and applied (its environment marked first, as a deploy does), whatever any publish log
 * says. What a history written then holds.
 */
export async function deployUnchecked(
  site: Site,
  app: string,
  commit: string,
  request: RequestInfo,
  /**
   * The heads its entry names as a version that did not check head records could: `publishHead` (the
   * own log's, as read), `publishedIn` and `publishedInHead` (another stack's log's).
   */
  named: { publishHead?: AuditHead } & Pick<DeployPlan, 'publishedIn' | 'publishedInHead'> = {},
) {
  const manifest = await readManifest(site.artifacts, app, commit);
  if (!manifest) throw new Error(`${app}@${commit} is not in the artifacts bucket`);
  const plan = planDeploy({
    stack: site.target.stack,
    kind: 'deploy',
    manifest,
    artifactDigest: artifactDigest(manifest),
    live: await readLiveState(site, null),
    retain: site.retain,
    prune: site.target.prune,
    keepPrefixes: inPlaceKeptPrefixes(site),
  });
  await markEnvironment(site, await readEnvironmentMarker(site.hosting));
  const { publishHead, ...from } = named;
  return applyDeploy(site, { ...plan, ...from }, { request, ...(publishHead ? { publishHead } : {}) });
}

/**
 * Records in the stack's publish log, as publishBuild records a build it published, a build whose
 * manifest a test wrote into the artifacts bucket itself (headers no publish would give, say).
 */
export async function recordPublished(
  site: Site,
  manifest: Manifest,
  /** The commit the entry names, where it is not the manifest's (a build claimed for another commit). */
  as: { commit?: string } = {},
): Promise<void> {
  const files = Object.values(manifest.files);
  await appendAudit(site.state, `${site.target.statePrefix}${PUBLISH_LOG}`, site.locker, {
    type: 'publish',
    data: {
      app: manifest.app,
      commit: as.commit ?? manifest.commit,
      artifactDigest: artifactDigest(manifest),
      files: files.length,
      bytes: files.reduce((sum, f) => sum + f.size, 0),
      uploaded: files.length,
      published: true,
      request: requestBy('publish', 'ci'),
    },
  });
}

/**
 * Deletes the stack's history (chain, records, pointer, pin…) but not its publish log: a fresh
 * history whose builds are still published, as a test starts a case from.
 */
export async function clearHistory(site: Site): Promise<void> {
  const published = `${site.target.statePrefix}${PUBLISH_LOG}`;
  const keys = (await site.state.list(site.target.statePrefix)).map((o) => o.key);
  const history = keys.filter((key) => !key.startsWith(published));
  if (history.length > 0) await site.state.delete(history);
}

/** A request as someone asks for a change at the CLI, by ada unless said: forged rows change who asked. */
export const requestBy = (text: string, actor = 'ada'): RequestInfo => ({
  text,
  actor,
  planner: 'cli',
  at: new Date().toISOString(),
});

/**
 * startDeployEnv, then `publish` published (publishFixtureBuilds) and the first `ship` of them deployed
 * in turn, the n-th asked as `ship v<n>` (requestBy): the genuine history the read tests hold to the
 * audit log. Stopped again if any of that fails (the caller, holding nothing yet, could not).
 */
export async function startShippedDeployEnv(options: {
  stack: string;
  app: string;
  publish: readonly string[];
  ship: number;
}): Promise<TestDeployEnv> {
  const t = await startDeployEnv({ stack: options.stack });
  try {
    await publishFixtureBuilds(t, options.app, options.publish);
    for (const [i, commit] of options.publish.slice(0, options.ship).entries())
      await deployArtifact(t.site, { app: options.app, commit, request: requestBy(`ship v${i + 1}`) });
    return t;
  } catch (error) {
    await t.stop();
    throw error;
  }
}

/**
 * The site as a visitor sees it: an HTTP server on loopback answering each path with what the hosting
 * bucket holds there (`/` is index.html), where a deploy's verification reads. Close it when done.
 */
export async function serveHostingBucket(
  t: Pick<TestDeployEnv, 'site'>,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const key = (req.url ?? '/').slice(1).split('?')[0] || 'index.html';
    t.site.hosting.get(key).then((object) => {
      res.writeHead(object ? 200 : 404, { 'content-type': object?.contentType ?? 'text/plain' });
      res.end(object?.body ?? 'not found');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

export async function startDeployEnv(
  overrides: Partial<DeployTarget> = {},
  options: {
    protected?: boolean;
    extraBuckets?: string[];
    /** How many releases the live pointer keeps (default: connectSite's, 3). */
    retain?: number;
    /** The S3 server honours conditional writes (startTestS3): the deploy lock is then the S3 one. */
    conditionalWrites?: boolean;
  } = {},
): Promise<TestDeployEnv> {
  const s3 = await startTestS3([ARTIFACTS, HOSTING, ...(options.extraBuckets ?? [])], {
    conditionalWrites: options.conditionalWrites ?? false,
  });
  const cdn = await startCloudFrontDouble();
  const tmp = await mkdtemp(join(tmpdir(), 'frontendops-deploy-'));
  const stack = overrides.stack ?? STACK;
  const target: DeployTarget = {
    stack,
    artifactsBucket: ARTIFACTS,
    hostingBucket: HOSTING,
    stateBucket: ARTIFACTS,
    statePrefix: `.frontendops/state/${stack}/`,
    distributionId: DOUBLE_DISTRIBUTION_ID,
    region: 'us-east-1',
    endpoint: s3.endpoint,
    prune: true,
    ...overrides,
  };
  const site = await connectSite(target, {
    access: { credentials: s3.credentials, cdnEndpoint: cdn.endpoint },
    protected: options.protected ?? false,
    onNotice: () => undefined,
    ...(options.retain !== undefined ? { retain: options.retain } : {}),
  });
  return {
    s3,
    cdn,
    site,
    cliEnv: () => ({
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_CLOUDFRONT: cdn.endpoint,
    }),
    target,
    tmp,
    ...requestLog(s3),
    async writeOutputs({ stack: name = stack, cdn = false, hostingBucket = HOSTING } = {}) {
      const file = join(tmp, `${name}.json`);
      const outputs = {
        stack: name,
        artifactsBucket: ARTIFACTS,
        hostingBucket,
        ...(cdn ? { distributionId: target.distributionId } : {}),
        region: 'us-east-1',
        endpoint: s3.endpoint,
      };
      await writeFile(file, JSON.stringify(outputs));
      return file;
    },
    async stop() {
      site.close();
      await cdn.close();
      await s3.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
