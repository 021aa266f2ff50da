/**
 * File names with characters URLs reserve (logo@2x.png, a=b, x+y, a&b, a,b, a;b, a:b, $x, #x) deploy
 * on the embedded S3 server as on S3. The client sends CopySource with encodeURIComponent, as S3
 * takes it; s3rver decodes the header with decodeURI, which leaves %40, %3D, … encoded, so it looked
 * for a key that does not exist (NoSuchKey). The embedded server's guard hands s3rver the header in
 * the form its decodeURI turns back into the key; S3's wire format stays what the client sends.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CopyObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { copySourceForS3rver } from '../../src/local/s3-server-guard.ts';
import { APP, type AtomicEnv, request as atomicRequest, startAtomicEnv } from '../support/atomic-env.ts';
import { HOSTING, publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

/** Site paths with every character decodeURI leaves encoded, and a few others for good measure. */
const NAMED: Record<string, string> = {
  '/img/logo@2x.png': 'logo at 2x',
  '/a=b.txt': 'equals',
  '/x+y.js': 'export const plus = 1;\n',
  '/q&a,list;v1:final$.txt': 'ampersand comma semicolon colon dollar',
  '/#hash.txt': 'hash',
  '/100% sure é.txt': 'percent space accent',
};

async function writeNamedBuild(dir: string, version: string): Promise<string> {
  const files: Record<string, string> = {
    '/index.html': `<!doctype html><title>${version}</title><img src="/img/logo@2x.png">\n`,
    ...NAMED,
  };
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  return dir;
}

/** A site path as a browser sends it: each segment percent-encoded. */
const urlPath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

describe('copySourceForS3rver', () => {
  it("gives s3rver's decodeURI back every key, whatever characters it holds", () => {
    const printable = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
    for (const key of [printable, 'img/logo@2x.png', 'é/日本/👩‍💻 %41 %zz', 'a%2Fb']) {
      const sdk = `bucket/${key.split('/').map(encodeURIComponent).join('/')}`;
      expect(decodeURI(copySourceForS3rver(sdk)), key).toBe(`bucket/${key}`);
    }
  });
});

describe('CopyObject on the embedded S3 server', () => {
  let s3: TestS3;
  let client: S3Client;
  beforeAll(async () => {
    s3 = await startTestS3(['names-src', 'names-dst']);
    client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials, maxAttempts: 1 });
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.stop();
  });

  it('copies a key with reserved characters, as S3 does, through the adapter and the SDK', async () => {
    for (const [path, content] of Object.entries(NAMED)) {
      const key = `files${path}`;
      await s3.store('names-src').put(key, content);
      await s3.store('names-dst').copyFrom({ bucket: 'names-src', key }, key, { contentType: 'text/plain' });
      expect((await s3.store('names-dst').get(key))?.body.toString(), key).toBe(content);
    }
    // The SDK's own encoding of CopySource (encodeURIComponent, slashes kept), unchanged.
    await client.send(
      new CopyObjectCommand({
        Bucket: 'names-dst',
        Key: 'sdk/logo@2x.png',
        CopySource: `names-src/${encodeURIComponent('files/img/logo@2x.png')}`,
      }),
    );
    expect((await s3.store('names-dst').get('sdk/logo@2x.png'))?.body.toString()).toBe('logo at 2x');
  });

  it('refuses a copy source with a "." or ".." segment, which would name a file outside its bucket', async () => {
    await s3.store('names-src').put('secret.txt', 'secret');
    for (const source of ['names-dst/../names-src/secret.txt', 'names-dst/%2E%2E/names-src/secret.txt']) {
      const error = (await client
        .send(new CopyObjectCommand({ Bucket: 'names-dst', Key: 'stolen.txt', CopySource: source }))
        .then(
          () => null,
          (e: unknown) => e,
        )) as { name?: string } | null;
      expect(error?.name, source).toBe('InvalidURI');
    }
    expect(await s3.store('names-dst').get('stolen.txt')).toBeNull();
  });
});

describe('a build whose file names have reserved characters deploys on the embedded environment', () => {
  let tmp: string;
  let inPlace: TestDeployEnv;
  let atomic: AtomicEnv;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'frontendops-names-'));
    [inPlace, atomic] = await Promise.all([startDeployEnv(), startAtomicEnv()]);
  });
  afterAll(async () => {
    await inPlace?.stop();
    await atomic?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('in place: every file is copied to the hosting bucket', async () => {
    const dir = await writeNamedBuild(join(tmp, 'in-place'), 'v1');
    const commit = 'a1'.repeat(20);
    await publishAsCi(inPlace.site, { dir, app: APP, commit });
    const deployed = await deployArtifact(inPlace.site, {
      app: APP,
      commit,
      request: { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() },
    });
    expect(deployed.error).toBeUndefined();
    expect(deployed.outcome).toBe('succeeded');
    for (const [path, content] of Object.entries(NAMED)) {
      expect((await inPlace.s3.store(HOSTING).get(path.slice(1)))?.body.toString(), path).toBe(content);
    }
  });

  it('atomic: the release is served by the edge, every file at its path', async () => {
    const dir = await writeNamedBuild(join(tmp, 'atomic'), 'v1');
    const commit = 'b2'.repeat(20);
    await publishAsCi(atomic.site, { dir, app: APP, commit });
    const deployed = await deployArtifact(atomic.site, {
      app: APP,
      commit,
      request: atomicRequest('deploy'),
    });
    expect(deployed.error).toBeUndefined();
    expect(deployed.outcome).toBe('succeeded');
    for (const [path, content] of Object.entries(NAMED)) {
      const response = await fetch(`${atomic.edge.url}${urlPath(path)}`);
      expect(response.status, path).toBe(200);
      expect(await response.text(), path).toBe(content);
    }
  });
});
