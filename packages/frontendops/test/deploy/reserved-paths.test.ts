/**
 * Keys of the hosting bucket FrontendOps keeps for itself: a build's file may not land on them. A
 * build whose manifest names /.frontendops/environment.json (written by hand by whoever can create
 * builds in the artifacts bucket: publish never writes one) would otherwise overwrite the
 * environment marker right after a deploy wrote it, and an alias of a protected stack would then
 * read as an unprotected environment of its own. Files under /_releases/ would overwrite an atomic
 * release's files.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { artifactFileKey, artifactManifestKey } from '../../src/engine/manifest.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'deploy', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
const GOOD = '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'reserved-paths' }, { protected: true });
  const build = await writeFixtureBuild(join(t.tmp, 'good'), { version: 'v1' });
  await publishAsCi(t.site, { dir: build.dir, app: APP, commit: GOOD });
  await deployArtifact(t.site, { app: APP, commit: GOOD, request });
});
afterAll(() => t?.stop());

/** A build of `commit` made by hand: the good build's files, plus one more at `path`. */
async function handMadeBuild(commit: string, path: string, body: string) {
  const good = (await readManifest(t.site.artifacts, APP, GOOD)) as Manifest;
  for (const sitePath of Object.keys(good.files)) {
    const copy = await t.site.artifacts.get(artifactFileKey(APP, GOOD, sitePath));
    await t.site.artifacts.put(artifactFileKey(APP, commit, sitePath), copy?.body ?? '');
  }
  await t.site.artifacts.put(artifactFileKey(APP, commit, path), body);
  const files: Manifest['files'] = {
    ...good.files,
    [path]: {
      sha256: createHash('sha256').update(body).digest('hex'),
      size: Buffer.byteLength(body),
      contentType: 'application/json',
      cacheControl: 'no-cache',
    },
  };
  const manifest: Manifest = { app: APP, commit, createdAt: new Date().toISOString(), files };
  await t.site.artifacts.put(artifactManifestKey(APP, commit), JSON.stringify(manifest));
}

const hostingKeys = async () => (await t.site.hosting.list('')).map((o) => `${o.key} ${o.etag ?? ''}`).sort();

describe('a build naming a key FrontendOps keeps for itself', () => {
  it.each([
    [
      '/.frontendops/environment.json',
      'eeeeeee1',
      /under \/\.frontendops\/, where FrontendOps keeps its own objects/,
    ],
    [
      '/_releases/x/index.html',
      'eeeeeee2',
      /under \/_releases\/, where an atomic stack keeps its releases' files/,
    ],
  ])(
    '%s: the deploy is refused before anything is copied; the marker still says protected',
    async (path, short, why) => {
      const commit = short.padEnd(40, 'e');
      const forged = JSON.stringify({ v: 1, stack: 'alias', protected: false });
      await handMadeBuild(commit, path, forged);
      const marker = (await t.site.hosting.get(ENVIRONMENT_MARKER))?.body.toString('utf8');
      expect(JSON.parse(marker ?? '{}')).toMatchObject({ protected: true });
      const before = await hostingKeys();

      const deploy = deployArtifact(t.site, { app: APP, commit, request });
      await expect(deploy).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(deploy).rejects.toThrow(why);
      await expect(deploy).rejects.toThrow(/Nothing was copied/);

      expect(await hostingKeys()).toEqual(before);
      expect((await t.site.hosting.get(ENVIRONMENT_MARKER))?.body.toString('utf8')).toBe(marker);
      expect((await t.site.records.readPointer())?.value.commit).toBe(GOOD);
    },
  );

  it('publish refuses a build with a top-level _releases directory, naming it', async () => {
    const dir = join(t.tmp, 'with-releases');
    await mkdir(join(dir, '_releases', 'x'), { recursive: true });
    await writeFile(join(dir, 'index.html'), '<!doctype html><p>hi</p>');
    await writeFile(join(dir, '_releases', 'x', 'index.html'), '<p>not ours</p>');
    const publish = publishAsCi(t.site, { dir, app: APP, commit: '3333333'.padEnd(40, 'c') });
    await expect(publish).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(publish).rejects.toThrow(
      /The path _releases\/x in the build directory cannot be published: it is under \/_releases\//,
    );
    expect(await readManifest(t.site.artifacts, APP, '3333333'.padEnd(40, 'c'))).toBeNull();
  });
});

/**
 * What whoever can create builds in the artifacts bucket can put at a commit's manifest key: anything.
 * Every command that reads it refuses it in words, TAMPERED, nothing changed. Before, a manifest
 * that is not JSON, or whose files are not an object, was read as one and failed deep inside as a bug
 * (a SyntaxError, a TypeError: "this looks like a bug").
 */
describe('a manifest that is no manifest publish writes', () => {
  const of = (commit: string, files: unknown) =>
    JSON.stringify({ app: APP, commit, createdAt: new Date().toISOString(), files });
  it.each([
    ['not JSON', 'f0f0f01', () => 'nope{', /it is not JSON/],
    ['no object of files', 'f0f0f02', (c: string) => of(c, null), /its "files" is not an object/],
    [
      'a file entry of another shape',
      'f0f0f03',
      (c: string) => of(c, { '/index.html': { sha256: 1, size: '2' } }),
      /the entry of \/index\.html is not/,
    ],
  ])(
    '%s: a deploy, its dry run and the publish of that commit refuse it, saying so',
    async (_what, short, body, why) => {
      const commit = short.padEnd(40, 'f');
      await t.site.artifacts.put(artifactManifestKey(APP, commit), body(commit));
      const before = await hostingKeys();
      for (const dryRun of [true, false]) {
        const deploy = deployArtifact(t.site, { app: APP, commit, request, dryRun });
        await expect(deploy).rejects.toMatchObject({ code: 'TAMPERED' });
        await expect(deploy).rejects.toThrow(why);
        await expect(deploy).rejects.toThrow(/Nothing was changed/);
      }
      const build = await writeFixtureBuild(join(t.tmp, `ci-${short}`), { version: short });
      const publish = publishAsCi(t.site, { dir: build.dir, app: APP, commit });
      await expect(publish).rejects.toMatchObject({ code: 'TAMPERED' });
      await expect(publish).rejects.toThrow(/removes it/);
      expect(await hostingKeys()).toEqual(before);
      expect((await t.site.records.readPointer())?.value.commit).toBe(GOOD);
    },
  );
});
