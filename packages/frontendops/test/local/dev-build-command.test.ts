/**
 * `frontendops dev` runs the configuration's `build.command`: a file in the repository chooses a
 * program the developer's machine runs, as package.json's scripts do for `npm run build`. Whoever
 * can change that file runs what they like there (a documented limit: docs/security.md, "whoever can
 * change the files the tool reads"); what the tool holds to is that the command is shown before it
 * runs, and runs as the argument vector it is, in the app's directory, never through a shell.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config.ts';
import { startLocalEnvironment } from '../../src/local/dev.ts';

let dir: string;
const git = (...args: string[]) => promisify(execFile)('git', args, { cwd: dir });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-dev-build-'));
  await mkdir(join(dir, 'site'));
  await writeFile(join(dir, '.gitignore'), '.frontendops/\ndist/\nran*\n');
  await writeFile(join(dir, 'site', 'index.html'), '<h1>hi</h1>\n');
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('-c', 'user.name=Ada', '-c', 'user.email=ada@example.com', 'commit', '-qm', 'site');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a configuration's build command", () => {
  it('is shown before it runs, and runs as its argument vector in the app directory: no shell', async () => {
    // What it does: writes `ran` beside the app (the cwd is site/), and builds the site into dist/.
    // `; touch ran-by-shell` would run only through a shell.
    const script =
      "const fs = require('node:fs'); fs.writeFileSync('../ran', process.argv.slice(1).join(' ')); fs.mkdirSync('dist'); fs.copyFileSync('index.html', 'dist/index.html')";
    const command = ['node', '-e', script, 'x; touch ../ran-by-shell'];
    const shown: Array<{ line: string; ranYet: boolean }> = [];
    const local = await startLocalEnvironment({
      cwd: dir,
      config: { ...defaultConfig(), app: 'brochure', appPath: 'site', build: { command, output: 'dist' } },
      log: (line) => shown.push({ line, ranYet: existsSync(join(dir, 'ran')) }),
    });
    try {
      const building = shown.find(({ line }) => line.startsWith('building brochure'));
      expect(building?.line).toContain(command.join(' '));
      expect(building?.ranYet).toBe(false);
      expect(existsSync(join(dir, 'ran'))).toBe(true);
      expect(existsSync(join(dir, 'ran-by-shell'))).toBe(false);
      expect(local.published).toMatchObject({ app: 'brochure', published: true });
    } finally {
      await local.close();
    }
  });
});
