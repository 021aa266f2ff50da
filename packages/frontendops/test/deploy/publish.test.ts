/** publish: immutable artifacts, and every bad input refused with nothing uploaded. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishArtifact, readManifest } from '../../src/deploy/publish.ts';
import { artifactFileKey } from '../../src/engine/manifest.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import { ARTIFACTS } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';

let s3: TestS3;
let tmp: string;
beforeAll(async () => {
  s3 = await startTestS3([ARTIFACTS]);
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-publish-'));
});
afterAll(async () => {
  await s3.stop();
  await rm(tmp, { recursive: true, force: true });
});

const APP = 'sophia-dashboard';
let n = 0;
const commit = () => `${String(++n).padStart(2, '0')}${'ab'.repeat(19)}`;

async function expectRefused(dir: string, message: RegExp, repository?: string) {
  const store = s3.store(ARTIFACTS);
  await s3.settle();
  const before = s3.requests.length;
  const sha = commit();
  const error = await publishArtifact(store, {
    dir,
    app: APP,
    commit: sha,
    ...(repository ? { repository } : {}),
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FrontendOpsError);
  expect((error as FrontendOpsError).code).toBe('BAD_INPUT');
  expect((error as Error).message).toMatch(message);
  await s3.settle();
  expect(s3.requests.slice(before), 'nothing was sent to S3').toEqual([]);
}

describe('publish', () => {
  it('stops at the first failed upload: no further file is sent and no manifest is written', async () => {
    const dir = join(tmp, 'many');
    await mkdir(join(dir, 'assets'), { recursive: true });
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>many</title>');
    for (let i = 0; i < 200; i++)
      await writeFile(join(dir, 'assets', `f${i}.js`), `export const n = ${i};\n`);
    const real = s3.store(ARTIFACTS);
    let puts = 0;
    const failing = {
      ...real,
      put: async (...args: Parameters<typeof real.put>) => {
        puts += 1;
        if (puts === 10) throw new Error('injected upload failure');
        return real.put(...args);
      },
    };
    const sha = commit();
    const error = await publishArtifact(failing, { dir, app: APP, commit: sha, concurrency: 4 }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/injected upload failure/);
    // The uploads under way when it failed may finish; nothing after them starts.
    expect(puts).toBeLessThanOrEqual(10 + 4);
    expect(await readManifest(real, APP, sha)).toBeNull();
  });

  it('uploads files then the manifest with sha256, size, Content-Type and Cache-Control per file', async () => {
    const build = await writeFixtureBuild(join(tmp, 'ok'), { version: 'v1' });
    const sha = commit();
    const result = await publishArtifact(s3.store(ARTIFACTS), { dir: build.dir, app: APP, commit: sha });
    expect(result).toMatchObject({
      published: true,
      files: Object.keys(build.files).length,
      uploaded: Object.keys(build.files).length,
    });
    const manifest = await readManifest(s3.store(ARTIFACTS), APP, sha);
    const entry = manifest?.files[build.assets[0] as string];
    expect(entry).toMatchObject({
      contentType: 'text/javascript; charset=utf-8',
      cacheControl: 'public, max-age=31536000, immutable',
    });
    expect(entry?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest?.files['/index.html']).toMatchObject({
      contentType: 'text/html; charset=utf-8',
      cacheControl: 'no-cache',
    });
    expect(manifest?.files['/robots.txt']?.cacheControl).toBe('public, max-age=300');
    await s3.settle();
    const keys = s3.requests
      .filter((r) => r.method === 'PUT' && r.key.startsWith(`${APP}/${sha}/`))
      .map((r) => r.key);
    expect(keys.at(-1)).toBe(`${APP}/${sha}/manifest.json`);

    // The same build again is a no-op; another build for the same commit is refused, uploading nothing.
    await s3.settle();
    const before = s3.requests.length;
    expect(
      (await publishArtifact(s3.store(ARTIFACTS), { dir: build.dir, app: APP, commit: sha })).published,
    ).toBe(false);
    const other = await writeFixtureBuild(join(tmp, 'other'), { version: 'v2' });
    const conflict = await publishArtifact(s3.store(ARTIFACTS), {
      dir: other.dir,
      app: APP,
      commit: sha,
    }).catch((e: unknown) => e);
    expect((conflict as FrontendOpsError).code).toBe('CONFLICT');
    expect((conflict as Error).message).toMatch(/already published with different content/);
    await s3.settle();
    expect(s3.requests.slice(before).filter((r) => r.method === 'PUT')).toEqual([]);
  });

  it('refuses a missing directory', () =>
    expectRefused(join(tmp, 'missing'), /does not exist or is not a directory/));

  it('refuses an empty directory', async () => {
    await mkdir(join(tmp, 'empty'));
    await expectRefused(join(tmp, 'empty'), /is empty/);
  });

  it('refuses a build without index.html', async () => {
    await mkdir(join(tmp, 'noindex/assets'), { recursive: true });
    await writeFile(join(tmp, 'noindex/assets/app-1a2B3c4D.js'), '1');
    await expectRefused(join(tmp, 'noindex'), /has no index\.html/);
  });

  it("leaves a git repository's own files out, and refuses an environment file: the site is public", async () => {
    // A site kept at the top of its repository, or the project passed for its build: its .git and
    // .env would be served to anyone.
    const project = await writeFixtureBuild(join(tmp, 'project'), { version: 'v1' });
    await mkdir(join(project.dir, '.git'));
    await writeFile(
      join(project.dir, '.git/config'),
      '[remote "origin"]\n\turl = https://token@example.test/x\n',
    );
    const sha = commit();
    const published = await publishArtifact(s3.store(ARTIFACTS), { dir: project.dir, app: APP, commit: sha });
    expect(published.files).toBe(Object.keys(project.files).length);
    expect(await s3.store(ARTIFACTS).head(artifactFileKey(APP, sha, '/index.html'))).not.toBeNull();
    expect(await s3.store(ARTIFACTS).head(artifactFileKey(APP, sha, '/.git/config'))).toBeNull();
    const env = await writeFixtureBuild(join(tmp, 'env'), { version: 'v1' });
    await mkdir(join(env.dir, 'config'));
    await writeFile(join(env.dir, 'config/.env.production'), 'API_KEY=secret');
    // Named as the build directory holds it: relative to it, not as if at the root of the disk.
    await expectRefused(env.dir, /^The build directory holds config\/\.env\.production: an environment file/);
  });

  it("a site at the top of its repository leaves out the local environment's secrets and the installed packages", async () => {
    // appPath "." with no build: the project is the site. Its .frontendops/ holds the local S3
    // server's key and the preview secret; node_modules/ the packages (thousands of files).
    const project = await writeFixtureBuild(join(tmp, 'root-site'), { version: 'v1' });
    await mkdir(join(project.dir, '.frontendops'));
    await writeFile(join(project.dir, '.frontendops/env.json'), '{"secretAccessKey":"local-secret"}');
    await writeFile(join(project.dir, '.frontendops/preview-secret'), 'x'.repeat(64));
    await mkdir(join(project.dir, 'node_modules/frontendops'), { recursive: true });
    await writeFile(join(project.dir, 'node_modules/frontendops/package.json'), '{"name":"frontendops"}');
    await mkdir(join(project.dir, 'assets/node_modules'), { recursive: true });
    await writeFile(join(project.dir, 'assets/node_modules/x.js'), 'x');
    const sha = commit();
    const published = await publishArtifact(s3.store(ARTIFACTS), { dir: project.dir, app: APP, commit: sha });
    expect(published.files).toBe(Object.keys(project.files).length);
    for (const left of [
      '/.frontendops/env.json',
      '/.frontendops/preview-secret',
      '/node_modules/frontendops/package.json',
      '/assets/node_modules/x.js',
    ]) {
      expect(await s3.store(ARTIFACTS).head(artifactFileKey(APP, sha, left)), left).toBeNull();
    }
  });

  it('refuses a symlink that leaves the directory', async () => {
    const build = await writeFixtureBuild(join(tmp, 'link'), { version: 'v1' });
    await writeFile(join(tmp, 'secret.txt'), 'top secret');
    await symlink(join(tmp, 'secret.txt'), join(build.dir, 'leak.txt'));
    await expectRefused(build.dir, /^The symlink leak\.txt in the build directory points outside it/);
  });

  it('publishes a symlink to a name starting with ".." inside the build (a ..data directory)', async () => {
    // As a Kubernetes volume lays files out: `..data` a link to a dated directory, each file a link
    // through it. Each stays inside the build: `..data` is a name, not the way up.
    const build = await writeFixtureBuild(join(tmp, 'dotdot'), { version: 'v1' });
    await mkdir(join(build.dir, '..2026_12_07'));
    await writeFile(join(build.dir, '..2026_12_07', 'config.json'), '{"v":1}\n');
    await symlink('..2026_12_07', join(build.dir, '..data'));
    await symlink(join('..data', 'config.json'), join(build.dir, 'config.json'));
    const sha = commit();
    const result = await publishArtifact(s3.store(ARTIFACTS), { dir: build.dir, app: APP, commit: sha });
    expect(result.files).toBe(Object.keys(build.files).length + 3);
    const published = await s3.store(ARTIFACTS).get(artifactFileKey(APP, sha, '/config.json'));
    expect(published?.body.toString()).toBe('{"v":1}\n');
  });

  it('refuses a build directory of the repository that is a symlink (or under one) leaving it', async () => {
    // A symlink committed to the repository as the build's output (`dist`), or as a directory above
    // it, would publish wherever it points: another site, a home directory's files.
    const outside = await writeFixtureBuild(join(tmp, 'elsewhere'), { version: 'v1' });
    const repository = join(tmp, 'repo');
    await mkdir(join(repository, 'apps'), { recursive: true });
    await symlink(outside.dir, join(repository, 'dist'));
    await symlink(tmp, join(repository, 'apps', 'up'));
    for (const dir of [join(repository, 'dist'), join(repository, 'apps', 'up', 'elsewhere')]) {
      await expectRefused(
        dir,
        new RegExp(
          `^The build directory ${dir} is in the repository ${repository}, but it is a symlink, or under one, to ${outside.dir}, outside it: whoever changes the repository's files would choose what is published\\. Nothing was uploaded\\. Build into a directory of the repository, or name the directory itself \\(${outside.dir}\\) to publish it from there\\.$`,
        ),
        repository,
      );
    }
    // A symlink that stays in the repository, and a directory outside it named as it is, are published.
    const inside = await writeFixtureBuild(join(repository, 'build'), { version: 'v1' });
    await symlink(inside.dir, join(repository, 'out'));
    for (const dir of [join(repository, 'out'), outside.dir]) {
      const result = await publishArtifact(s3.store(ARTIFACTS), {
        dir,
        app: APP,
        commit: commit(),
        repository,
      });
      expect(result.files).toBe(Object.keys(inside.files).length);
    }
  });

  it("a symlinked build directory of a monorepo's project is bounded by the git repository, not the project", async () => {
    // The configuration in a subfolder (apps/site) and its build linked to another directory of the
    // same git repository: the repository's own files, published; a link out of the repository is not.
    const mono = join(tmp, 'mono');
    const project = join(mono, 'apps', 'site');
    await mkdir(project, { recursive: true });
    await promisify(execFile)('git', ['init', '--quiet', mono]);
    const shared = await writeFixtureBuild(join(mono, 'shared', 'build'), { version: 'v1' });
    await symlink(shared.dir, join(project, 'dist'));
    const result = await publishArtifact(s3.store(ARTIFACTS), {
      dir: join(project, 'dist'),
      app: APP,
      commit: commit(),
      repository: project,
    });
    expect(result.files).toBe(Object.keys(shared.files).length);
    const outside = await writeFixtureBuild(join(tmp, 'beyond-mono'), { version: 'v1' });
    await symlink(outside.dir, join(project, 'out'));
    await expectRefused(
      join(project, 'out'),
      new RegExp(
        `^The build directory ${join(project, 'out')} is in the repository ${mono}, but it is a symlink`,
      ),
      project,
    );
  });

  it('refuses path traversal through a symlinked directory', async () => {
    const build = await writeFixtureBuild(join(tmp, 'trav'), { version: 'v1' });
    await symlink('../..', join(build.dir, 'assets', 'up'));
    await expectRefused(
      build.dir,
      /The symlink assets\/up in the build directory points outside it \(path traversal\)/,
    );
  });

  it('refuses a symlink loop', async () => {
    const build = await writeFixtureBuild(join(tmp, 'loop'), { version: 'v1' });
    await symlink('..', join(build.dir, 'assets', 'loop'));
    await expectRefused(build.dir, /loops back to a directory above it/);
  });

  it('refuses a named pipe or a socket in the build, naming it, rather than leaving it out unsaid', async () => {
    const fifo = await writeFixtureBuild(join(tmp, 'fifo'), { version: 'v1' });
    await promisify(execFile)('mkfifo', [join(fifo.dir, 'assets', 'pipe')]);
    await expectRefused(
      fifo.dir,
      /^The build directory holds assets\/pipe, which is a named pipe \(FIFO\), not a file: only files and directories are published\. Nothing was uploaded\. Remove it from the build/,
    );
    const socketBuild = await writeFixtureBuild(join(tmp, 'socket'), { version: 'v1' });
    const server = createServer();
    await new Promise<void>((done) => server.listen(join(socketBuild.dir, 'app.sock'), done));
    try {
      await expectRefused(
        socketBuild.dir,
        /^The build directory holds app\.sock, which is a socket, not a file/,
      );
    } finally {
      await new Promise((done) => server.close(done));
    }
  });

  it('follows a symlink that stays inside the directory', async () => {
    const build = await writeFixtureBuild(join(tmp, 'inside'), { version: 'v1' });
    await symlink('index.html', join(build.dir, '200.html'));
    const result = await publishArtifact(s3.store(ARTIFACTS), { dir: build.dir, app: APP, commit: commit() });
    expect(result.files).toBe(Object.keys(build.files).length + 1);
  });

  it('refuses a key longer than 1,024 bytes', async () => {
    const build = await writeFixtureBuild(join(tmp, 'long'), { version: 'v1' });
    const deep = join(build.dir, ...Array.from({ length: 5 }, (_, i) => `${i}${'d'.repeat(220)}`));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'file.txt'), 'x');
    await expectRefused(
      build.dir,
      /its key would be 1,1\d\d bytes in UTF-8 .*over S3's 1,024-byte key limit/,
    );
  });

  it('refuses a file name that is not valid UTF-8, named as the build holds it', async () => {
    const build = await writeFixtureBuild(join(tmp, 'utf8'), { version: 'v1' });
    await mkdir(join(build.dir, 'media'), { recursive: true });
    await writeFile(
      Buffer.concat([Buffer.from(`${build.dir}/media/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]),
      'x',
    );
    // Relative to the build directory, as its other refusals name a path, not from the root of the disk.
    await expectRefused(
      build.dir,
      /^The file name "media\/bad-\u00ff\u00fe\.txt" in the build directory is not valid UTF-8\. S3 keys must be UTF-8: rename the file\.$/,
    );
  });

  it('refuses a malformed app name or commit before reading anything', async () => {
    const build = await writeFixtureBuild(join(tmp, 'ids'), { version: 'v1' });
    for (const [app, sha, message] of [
      ['Sophia Dashboard', commit(), /app name "Sophia Dashboard" is not valid/],
      [APP, 'HEAD~1', /is not a commit sha/],
      [APP, '$(rm -rf /)', /is not a commit sha/],
    ] as const) {
      const error = await publishArtifact(s3.store(ARTIFACTS), { dir: build.dir, app, commit: sha }).catch(
        (e: unknown) => e,
      );
      expect((error as FrontendOpsError).code).toBe('BAD_INPUT');
      expect((error as Error).message).toMatch(message);
    }
  });
});
