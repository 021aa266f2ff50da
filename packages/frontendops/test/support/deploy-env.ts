/** A complete deploy environment for tests: embedded S3 (real protocol), CloudFront double, temp dirs. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishArtifact } from '../../src/deploy/publish.ts';
import type { DeployTarget } from '../../src/engine/types.ts';
import type { S3RequestRecord } from '../../src/local/s3-server.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
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
 * `v<from + 1>`… (from 1 unless said), as a test does before it deploys them.
 */
export async function publishFixtureBuilds(
  t: Pick<TestDeployEnv, 'site' | 'tmp'>,
  app: string,
  commits: readonly string[],
  options: { from?: number } = {},
): Promise<void> {
  for (const [i, commit] of commits.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `build-${commit}`), {
      version: `v${i + (options.from ?? 1)}`,
    });
    await publishArtifact(t.site.artifacts, { dir: build.dir, app, commit });
  }
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
  } = {},
): Promise<TestDeployEnv> {
  const s3 = await startTestS3([ARTIFACTS, HOSTING, ...(options.extraBuckets ?? [])]);
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
