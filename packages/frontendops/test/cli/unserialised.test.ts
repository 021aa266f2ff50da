/**
 * When nothing can serialise two operators — an S3 endpoint that ignores conditional writes and is
 * not on this machine, so deployers on other machines reach it too and a file lock here does not
 * stop them — changes are refused, saying what to do, unless the configuration opts in knowingly.
 * Read-only commands are unaffected. The endpoint is a proxy on this machine's network address (not
 * loopback), in front of the embedded server.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONDITIONAL_WRITE_PROBES } from '../../src/access.ts';
import { createS3Client } from '../../src/adapters/s3.ts';
import { isLoopbackEndpoint } from '../../src/stacks/serialisation.ts';
import {
  ARTIFACTS,
  HOSTING,
  publishAsCi,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { cli } from '../support/run-cli.ts';
import { type S3Proxy, startS3Proxy } from '../support/s3-proxy.ts';

const APP = 'sophia-dashboard';
const COMMIT = 'c0ffee00c0ffee00';
/** An address of this machine that other machines can reach (not loopback). */
const NETWORK_ADDRESS = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

let t: TestDeployEnv;
let proxy: S3Proxy;
let upstream: ReturnType<typeof createS3Client>;
let outputs: string;
let refusedDir: string;
let optedInDir: string;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-shared' });
  if (!NETWORK_ADDRESS) return;
  upstream = createS3Client({ endpoint: t.s3.endpoint, credentials: t.s3.credentials });
  proxy = await startS3Proxy(t.s3.endpoint, upstream, { conditional: false, host: NETWORK_ADDRESS });
  outputs = join(t.tmp, 'shared.json');
  await writeFile(
    outputs,
    JSON.stringify({
      stack: 'dashboard-shared',
      artifactsBucket: ARTIFACTS,
      hostingBucket: HOSTING,
      region: 'us-east-1',
      endpoint: proxy.endpoint,
    }),
  );
  refusedDir = join(t.tmp, 'refused');
  optedInDir = join(t.tmp, 'opted-in');
  await mkdir(refusedDir);
  await mkdir(optedInDir);
  await writeFile(
    join(optedInDir, 'frontendops.config.json'),
    JSON.stringify({ allowUnserialisedDeploys: true }),
  );
  const build = await writeFixtureBuild(join(t.tmp, 'build'), { version: 'v1' });
  await publishAsCi(t.site, { dir: build.dir, app: APP, commit: COMMIT });
});
afterAll(async () => {
  await proxy?.close();
  upstream?.destroy();
  await t.stop();
});

const env = () => ({ ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'shared-test' });
const run = (argv: string[], cwd: string) => cli(argv, { env: env(), cwd });
/**
 * Writes that reached the endpoint, apart from the conditional-write probe: the PUTs of the probe
 * object under the state prefix's `probe/` (src/access.ts).
 */
function writes(from: number) {
  const all = proxy.seen.slice(from).filter((r) => !['GET', 'HEAD'].includes(r.method));
  return all.filter(
    (r) =>
      r.method !== 'PUT' ||
      !r.path.startsWith(`/${ARTIFACTS}/${t.target.statePrefix}${CONDITIONAL_WRITE_PROBES}`),
  );
}

describe('an endpoint without conditional writes that other machines can reach', () => {
  it('is recognised: loopback addresses and names are local, network addresses are not', async () => {
    expect(await isLoopbackEndpoint('http://127.0.0.1:9000')).toBe(true);
    expect(await isLoopbackEndpoint('http://127.8.9.10:9000')).toBe(true);
    expect(await isLoopbackEndpoint('http://[::1]:9000')).toBe(true);
    expect(await isLoopbackEndpoint('http://localhost:9000')).toBe(true);
    expect(await isLoopbackEndpoint('http://192.0.2.10:9000')).toBe(false);
    expect(await isLoopbackEndpoint('https://minio.invalid')).toBe(false);
    expect(await isLoopbackEndpoint(undefined)).toBe(false);
  });

  it.skipIf(!NETWORK_ADDRESS)(
    'refuses deploy and publish before writing anything, saying what to do',
    async () => {
      const from = proxy.seen.length;
      const deploy = await run(['deploy', '--stack', outputs, '--commit', COMMIT, '--json'], refusedDir);
      expect(deploy.code, deploy.stderr).toBe(2);
      expect(deploy.stderr).toMatch(/ignores conditional writes and other machines can reach it/);
      expect(deploy.stderr).toMatch(/"allowUnserialisedDeploys": true/);
      expect(deploy.stderr).toMatch(/Nothing was changed/);
      expect(deploy.stderr).not.toContain(proxy.endpoint);
      expect(deploy.stderr).not.toMatch(/at .*\.ts:\d+/);

      const build = await writeFixtureBuild(join(t.tmp, 'build-2'), { version: 'v2' });
      const publish = await run(
        ['publish', build.dir, '--app', APP, '--commit', 'dd00dd00'.repeat(5), '--stack', outputs],
        refusedDir,
      );
      expect(publish.code, publish.stderr).toBe(2);
      expect(publish.stderr).toMatch(/"allowUnserialisedDeploys": true/);

      expect(writes(from)).toEqual([]);
      expect(await t.site.records.readPointer()).toBeNull();
    },
  );

  it.skipIf(!NETWORK_ADDRESS)('read-only commands work as before', async () => {
    const from = proxy.seen.length;
    const status = await run(['status', '--stack', outputs, '--json'], refusedDir);
    expect(status.code, status.stderr).toBe(0);
    const history = await run(['history', '--stack', outputs, '--json'], refusedDir);
    expect(history.code, history.stderr).toBe(0);
    expect(proxy.seen.slice(from).filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
  });

  it.skipIf(!NETWORK_ADDRESS)(
    'deploys when the configuration opts in knowingly, and says what it risks',
    async () => {
      const deploy = await run(['deploy', '--stack', outputs, '--commit', COMMIT, '--json'], optedInDir);
      expect(deploy.code, deploy.stderr).toBe(0);
      expect(JSON.parse(deploy.stdout)).toMatchObject({ commit: COMMIT, outcome: 'succeeded' });
      expect(deploy.stderr).toMatch(
        /note: .*allowUnserialisedDeploys.*another machine can run at the same time/,
      );
      expect((await t.site.records.readPointer())?.value.commit).toBe(COMMIT);
    },
  );
});
