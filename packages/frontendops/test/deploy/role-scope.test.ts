/**
 * The two CI roles' S3 scopes (src/access.ts), from which infra/ builds their IAM policies, hold on
 * the S3 protocol. Each role is a proxy that refuses everything outside its scope with S3's 403
 * AccessDenied, as S3 answers a role whose policy does not grant a request, and honours conditional
 * writes as S3 does. Through it:
 * - the tool does each role's whole job: the publisher publishes, the deployer deploys, rolls back,
 *   pins and verifies the audit. (Before the scopes were said once, a process probed for conditional
 *   writes under `.frontendops/probe/`, outside both roles' state prefix: every command failed on
 *   AWS with AccessDenied.)
 * - the publisher, as an attacker (a compromised build step holds its credentials), can write none
 *   of the state the deployer acts on.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployerScope, publisherScope, type RoleScope } from '../../src/access.ts';
import { createS3Client } from '../../src/adapters/s3.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { readAudit } from '../../src/state/audit.ts';
import { ARTIFACTS, HOSTING, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { scopeCheck } from '../support/role-scope.ts';
import { cli } from '../support/run-cli.ts';
import { type S3Proxy, startS3Proxy } from '../support/s3-proxy.ts';

const APP = 'sophia-dashboard';
const COMMITS = ['5c0be'.repeat(8), '6d1cf'.repeat(8)];
const NAMES = { artifacts: ARTIFACTS, hosting: HOSTING, state: ARTIFACTS };
let t: TestDeployEnv;
let upstream: S3Client;
let env: Record<string, string>;
const proxies: S3Proxy[] = [];
let publisher: { proxy: S3Proxy; outputs: string };
let deployer: { proxy: S3Proxy; outputs: string };

async function role(name: string, scope: RoleScope) {
  const proxy = await startS3Proxy(t.s3.endpoint, upstream, {
    conditional: true,
    scope: scopeCheck(scope, NAMES),
  });
  proxies.push(proxy);
  const outputs = join(t.tmp, `${name}.json`);
  await writeFile(
    outputs,
    JSON.stringify({
      stack: t.target.stack,
      artifactsBucket: ARTIFACTS,
      hostingBucket: HOSTING,
      distributionId: t.target.distributionId,
      statePrefix: t.target.statePrefix,
      region: 'us-east-1',
      endpoint: proxy.endpoint,
    }),
  );
  return { proxy, outputs };
}

beforeAll(async () => {
  t = await startDeployEnv();
  upstream = createS3Client({ endpoint: t.s3.endpoint, credentials: t.s3.credentials });
  const config = join(t.tmp, 'frontendops.config.json');
  await writeFile(config, JSON.stringify({ app: APP, protected: [] }));
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_CONFIG: config, FRONTENDOPS_ACTOR: 'ci' };
  publisher = await role('publisher', publisherScope(APP, t.target.statePrefix));
  deployer = await role('deployer', deployerScope(t.target.statePrefix));
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  upstream?.destroy();
  await t?.stop();
});

const run = (argv: string[]) => cli(argv, { env, cwd: t.tmp });
const refused = (proxy: S3Proxy) => proxy.seen.filter((r) => r.status === 403);

describe('each CI role does its whole job inside its scope', () => {
  it('the publisher publishes: this app’s artifacts and its audit entry', async () => {
    for (const [i, commit] of COMMITS.entries()) {
      const build = await writeFixtureBuild(join(t.tmp, `build-${i}`), { version: `v${i}` });
      const published = await run(['publish', build.dir, '--commit', commit, '--stack', publisher.outputs]);
      expect(published.code, published.stderr).toBe(0);
      expect(await readManifest(t.site.artifacts, APP, commit)).not.toBeNull();
    }
    expect(refused(publisher.proxy)).toEqual([]);
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    expect(entries.filter((e) => e.type === 'publish')).toHaveLength(2);
  });

  it('the deployer deploys, rolls back, pins and verifies the audit', async () => {
    for (const argv of [
      ['deploy', '--commit', COMMITS[0] as string, '--yes', '--no-tag'],
      ['deploy', '--commit', COMMITS[1] as string, '--yes', '--no-tag'],
      ['rollback', '--yes', '--no-tag'],
      ['pin', '--message', 'freeze'],
      ['unpin'],
      ['audit', 'verify'],
    ]) {
      const result = await run([...argv, '--stack', deployer.outputs]);
      expect(result.code, `${argv.join(' ')}\n${result.stderr}${result.stdout}`).toBe(0);
    }
    expect(refused(deployer.proxy)).toEqual([]);
  });
});

describe('the publisher as an attacker', () => {
  it('can write none of the state the deployer acts on; nothing changes', async () => {
    const attacker = new S3Client({
      region: 'us-east-1',
      endpoint: publisher.proxy.endpoint,
      forcePathStyle: true,
      credentials: t.s3.credentials,
    });
    const prefix = t.target.statePrefix;
    const before = (await t.site.state.list(prefix)).map((o) => `${o.key} ${o.etag}`);
    const hostingBefore = (await t.site.hosting.list()).map((o) => `${o.key} ${o.etag}`);
    const writes = [
      'live.json',
      'pending.json',
      'pin.json',
      `deployments/0000000-0000000001.json`,
      'atomic/pending.json',
      'atomic/state.json',
      'locks/deploy.json',
    ].map((name) => new PutObjectCommand({ Bucket: ARTIFACTS, Key: `${prefix}${name}`, Body: '{}' }));
    const deletes = ['approvals/used/nonce.json', 'locks/deploy.json'].map(
      (name) => new DeleteObjectCommand({ Bucket: ARTIFACTS, Key: `${prefix}${name}` }),
    );
    const hosting = [
      new PutObjectCommand({ Bucket: HOSTING, Key: 'index.html', Body: 'defaced' }),
      new PutObjectCommand({ Bucket: HOSTING, Key: '.frontendops/environment.json', Body: '{}' }),
    ];
    for (const command of [...writes, ...deletes, ...hosting]) {
      // biome-ignore lint/suspicious/noExplicitAny: one loop over several command types
      const error = await attacker.send(command as any).catch((e: unknown) => e);
      expect((error as { name?: string }).name, String((command.input as { Key: string }).Key)).toBe(
        'AccessDenied',
      );
    }
    attacker.destroy();
    expect((await t.site.state.list(prefix)).map((o) => `${o.key} ${o.etag}`)).toEqual(before);
    expect((await t.site.hosting.list()).map((o) => `${o.key} ${o.etag}`)).toEqual(hostingBefore);
  });
});
