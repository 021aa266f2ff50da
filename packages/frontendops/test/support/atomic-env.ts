/**
 * A test environment for atomic releases: the embedded S3 server (real protocol, every request
 * recorded), the local edge in atomic mode in front of the hosting bucket (the viewer-request
 * function in its sandbox, the KeyValueStore API verifying SigV4A, a propagation delay), and a Site
 * on it opened by connectSite as any stack is: the release store through the production adapter.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createCloudFrontReleaseStore } from '../../src/adapters/cloudfront-kvs.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { DeployTarget } from '../../src/engine/types.ts';
import { type LocalEdge, startLocalEdge } from '../../src/local/edge.ts';
import type { S3RequestRecord } from '../../src/local/s3-server.ts';
import type { ReleaseStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { type ConnectSiteOptions, connectSite } from '../../src/stacks/open.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { publishAsCi } from './deploy-env.ts';
import { heldPoint } from './held-point.ts';
import { requestLog, startTestS3, type TestS3 } from './local-s3.ts';

export const APP = 'sophia-dashboard';
/**
 * Two commits (the same first 7 hex) whose builds, published by `publish(commit, 'kept')` and
 * `publish(commit, 'ground')` as `APP`'s, get the same release id: its 48 bits of a hash of each
 * build's digest agree (found by a birthday search over the commits' last hex digits). The builds an
 * artifacts-bucket writer could grind to a kept release's id, without grinding in the test.
 */
export const COLLIDING_COMMITS = [
  'c0111deaaaaaaaaaaaaaaaaaaaaa000000fdaa7e',
  'c0111debbbbbbbbbbbbbbbbbbbbb000000eb3e85',
] as const;
export const ARTIFACTS = 'atomic-artifacts';
export const HOSTING = 'atomic-hosting';
const DISTRIBUTION = 'EATOMICTEST01';

export const request = (text = 'test'): RequestInfo => ({
  text,
  actor: 'test',
  planner: 'cli',
  at: new Date().toISOString(),
});

export interface AtomicEnv {
  s3: TestS3;
  edge: LocalEdge;
  site: Site;
  target: DeployTarget;
  tmp: string;
  /** Another Site on the same stack (e.g. in-place, or with a wrapped release store). */
  open(options?: ConnectSiteOptions & { inPlace?: boolean; releases?: ReleaseStore }): Promise<Site>;
  /** The stack as a process killed just before its key write sees it: the write never lands. */
  openKilledBeforeKeyWrite(): Promise<Site>;
  /** The release store as an operator outside FrontendOps would reach it (the production adapter). */
  store(): ReleaseStore;
  /** Writes a release build for `version` and publishes it as app@commit. */
  publish(commit: string, version: string, options?: ReleaseBuildOptions): Promise<ReleaseBuild>;
  /** Publishes each commit in turn as version `v<first>`, `v<first + 1>`, … (first: 1). */
  publishVersions(commits: readonly string[], first?: number): Promise<void>;
  /** Every request the S3 server finished since the mark. */
  requestsSince(mark: number): Promise<S3RequestRecord[]>;
  mark(): Promise<number>;
  /** Environment for a CLI reading `writeOutputs()`: credentials and both endpoints, the SDK's way. */
  cliEnv(): Record<string, string>;
  writeOutputs(): Promise<string>;
  stop(): Promise<void>;
}

export async function startAtomicEnv(
  options: {
    propagationMs?: number;
    retain?: number;
    spa?: boolean;
    stack?: string;
    /** Honour If-Match / If-None-Match, as S3 does (the deploy lock is then S3's, not a file). */
    conditionalWrites?: boolean;
    /** More buckets on the same server (another stack's hosting bucket, say). */
    extraBuckets?: readonly string[];
  } = {},
): Promise<AtomicEnv> {
  const s3 = await startTestS3([ARTIFACTS, HOSTING, ...(options.extraBuckets ?? [])], {
    conditionalWrites: options.conditionalWrites ?? false,
  });
  const tmp = await mkdtemp(join(tmpdir(), 'frontendops-atomic-'));
  const edge = await startLocalEdge({
    origin: s3.store(HOSTING),
    distributionId: DISTRIBUTION,
    apiCredentials: s3.credentials,
    atomic: { credentials: [s3.credentials], propagationMs: options.propagationMs ?? 0 },
  });
  const stack = options.stack ?? 'dashboard-atomic';
  const target: DeployTarget = {
    stack,
    artifactsBucket: ARTIFACTS,
    hostingBucket: HOSTING,
    stateBucket: ARTIFACTS,
    statePrefix: `.frontendops/state/${stack}/`,
    distributionId: DISTRIBUTION,
    region: 'us-east-1',
    endpoint: s3.endpoint,
    siteUrl: `${edge.url}/`,
    prune: true,
    releaseStoreArn: edge.atomic?.kvsArn as string,
  };
  const sites: Site[] = [];
  const open: AtomicEnv['open'] = async (extra = {}) => {
    const { inPlace, releases, ...rest } = extra;
    const { releaseStoreArn: _arn, ...inPlaceTarget } = target;
    const site = await connectSite(inPlace ? inPlaceTarget : target, {
      access: {
        credentials: s3.credentials,
        cdnEndpoint: edge.cdnEndpoint,
        kvsEndpoint: edge.atomic?.kvsEndpoint as string,
        propagationMs: options.propagationMs ?? 0,
      },
      lockDir: join(tmp, 'locks'),
      onNotice: () => undefined,
      retain: options.retain ?? 3,
      spa: options.spa ?? false,
      ...rest,
    });
    sites.push(site);
    return releases ? { ...site, releases } : site;
  };
  const site = await open();
  const env: AtomicEnv = {
    s3,
    edge,
    site,
    target,
    tmp,
    open,
    openKilledBeforeKeyWrite: () => {
      const real = site.releases as ReleaseStore;
      return open({
        releases: {
          read: () => real.read(),
          previewSecret: () => real.previewSecret(),
          anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
          write: () => Promise.reject(new Error('killed before the key write')),
        },
      });
    },
    store: () =>
      createCloudFrontReleaseStore({
        kvsArn: target.releaseStoreArn as string,
        endpoint: edge.atomic?.kvsEndpoint as string,
        credentials: s3.credentials,
        maxAttempts: 1,
      }),
    async publish(commit, version, buildOptions = {}) {
      const build = await writeReleaseBuild(join(tmp, `build-${commit}`), version, buildOptions);
      await publishAsCi(site, { dir: build.dir, app: APP, commit });
      return build;
    },
    async publishVersions(commits, first = 1) {
      for (const [i, commit] of commits.entries()) await env.publish(commit, `v${first + i}`);
    },
    ...requestLog(s3),
    cliEnv: () => ({
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CLOUDFRONT: edge.cdnEndpoint,
      AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE: edge.atomic?.kvsEndpoint as string,
      FRONTENDOPS_ACTOR: 'cli-test',
    }),
    async writeOutputs() {
      const file = join(tmp, `${stack}.json`);
      await writeFile(
        file,
        JSON.stringify({
          stack,
          artifactsBucket: ARTIFACTS,
          hostingBucket: HOSTING,
          distributionId: DISTRIBUTION,
          region: 'us-east-1',
          endpoint: s3.endpoint,
          siteUrl: `${edge.url}/`,
          releaseStoreArn: target.releaseStoreArn,
        }),
      );
      return file;
    },
    async stop() {
      for (const s of sites) s.close();
      await edge.close();
      await s3.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
  return env;
}

/**
 * startAtomicEnv, then `commits` published (as v1, v2, …) and the first `deployed` of them deployed in
 * turn, each under request(): the history most attack tests start from. Stopped again if any of that
 * fails (the caller, holding nothing yet, could not).
 */
export async function startDeployedAtomicEnv(
  options: Parameters<typeof startAtomicEnv>[0],
  commits: readonly string[],
  deployed: number,
): Promise<AtomicEnv> {
  const t = await startAtomicEnv(options);
  try {
    await t.publishVersions(commits);
    for (const commit of commits.slice(0, deployed))
      await deployArtifact(t.site, { app: APP, commit, request: request() });
    return t;
  } catch (error) {
    await t.stop();
    throw error;
  }
}

/**
 * startDeployedAtomicEnv for the tests of the calling file or describe: started before them (given up
 * to three minutes on a loaded machine), stopped after them. The env, from the returned function,
 * once started.
 */
export function deployedAtomicEnvFor(
  options: Parameters<typeof startAtomicEnv>[0],
  commits: readonly string[],
  deployed: number,
): () => AtomicEnv {
  let t: AtomicEnv | undefined;
  beforeAll(async () => {
    t = await startDeployedAtomicEnv(options, commits, deployed);
  }, 180_000);
  afterAll(() => t?.stop());
  return () => {
    if (!t) throw new Error('the atomic env starts in beforeAll: ask for it inside a test');
    return t;
  };
}

/** atomic/pending.json as stored for `site`: the record an atomic operation stopped part-way left. */
export async function storedAtomicPending(site: Site): Promise<AtomicPending> {
  const object = await site.state.get(`${site.target.statePrefix}atomic/pending.json`);
  if (!object) throw new Error('no atomic/pending.json: no atomic operation stopped part-way');
  return JSON.parse(object.body.toString('utf8')) as AtomicPending;
}

export interface ReleaseBuildOptions {
  /** More content-hashed assets (to compare sizes); they do not depend on the version. */
  extraAssets?: number;
}

export interface ReleaseBuild {
  dir: string;
  version: string;
  files: Record<string, string>;
}

/**
 * A Vite-like build whose page says which release it is (`<meta name="release">`, read by the
 * prober) and whose own assets (app-*.js, style-*.css) carry that name too, beside a vendor chunk
 * shared by every version, favicon, robots.txt and a web manifest.
 */
export async function writeReleaseBuild(
  dir: string,
  version: string,
  options: ReleaseBuildOptions = {},
): Promise<ReleaseBuild> {
  const files: Record<string, string> = {};
  const asset = (name: string, ext: string, content: string) => {
    const path = `/assets/${name}-${hashName(content)}.${ext}`;
    files[path] = content;
    return path;
  };
  const app = asset('app', 'js', `console.log(${JSON.stringify(version)});\n`);
  const style = asset('style', 'css', `body { --release: "${version}"; }\n`);
  const vendor = asset('vendor', 'js', 'export const shared = true;\n');
  for (let i = 0; i < (options.extraAssets ?? 0); i++) asset(`chunk${i}`, 'js', `export const c = ${i};\n`);
  files['/index.html'] =
    `<!doctype html><html><head><meta name="release" content="${version}"><title>Sophia ${version}</title>` +
    `<link rel="stylesheet" href="${style}"><link rel="icon" href="/favicon.ico">` +
    `<link rel="manifest" href="/manifest.webmanifest"><script type="module" src="${app}"></script>` +
    `<script type="module" src="${vendor}"></script></head><body><div id="root"></div></body></html>\n`;
  files['/favicon.ico'] = `icon ${version}`;
  files['/robots.txt'] = 'User-agent: *\n';
  files['/manifest.webmanifest'] = `{"name":"Sophia ${version}"}`;
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  return { dir, version, files };
}

function hashName(content: string): string {
  return `${createHash('sha256').update(content).digest('base64url').slice(0, 7)}Z`;
}

/** S3 requests that changed the hosting bucket (copies, puts, deletes). */
export const hostingWrites = (requests: readonly S3RequestRecord[]) =>
  requests.filter((r) => r.bucket === HOSTING && r.method !== 'GET' && r.method !== 'HEAD');

export const hostingCopies = (requests: readonly S3RequestRecord[]) =>
  requests.filter((r) => r.bucket === HOSTING && r.copySource);

/**
 * A release store whose key writes wait until `release()` is called: an operation held at its switch
 * (its commit point), to see what another operator does meanwhile. `reached` resolves at the first
 * write.
 */
export function heldAtSwitch(real: ReleaseStore): {
  store: ReleaseStore;
  reached: Promise<void>;
  release: () => void;
} {
  const point = heldPoint();
  const store: ReleaseStore = {
    read: () => real.read(),
    previewSecret: () => real.previewSecret(),
    anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
    async write(value, etag, auditHead) {
      await point.arrive();
      return real.write(value, etag, auditHead);
    },
  };
  return { store, reached: point.reached, release: point.release };
}
