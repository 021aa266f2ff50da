/**
 * `frontendops dev` in another team's repository, with the configuration mistakes adopters make: each
 * is refused (BAD_INPUT) naming the setting to fix, told apart from the others, and leaves no running
 * environment behind; what is refused before the environment starts leaves no `.frontendops/` either.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Config, defaultConfig } from '../../src/config.ts';
import { startLocalEnvironment } from '../../src/local/dev.ts';
import { findLocalEnv } from '../../src/stacks/local-env-file.ts';

let dir: string;
const git = (...args: string[]) => promisify(execFile)('git', args, { cwd: dir });
const config = (overrides: Partial<Config>): Config => ({
  ...defaultConfig(),
  app: 'brochure',
  ...overrides,
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-dev-mistakes-'));
  await mkdir(join(dir, 'public'));
  await writeFile(join(dir, 'public', 'index.html'), '<h1>hi</h1>\n');
  await writeFile(join(dir, '.gitignore'), '.frontendops/\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The refusal's message; `before`: refused before the environment starts, so nothing is made here. */
async function refusal(settings: Partial<Config>, options: { before?: boolean } = {}): Promise<string> {
  const started = startLocalEnvironment({ cwd: dir, config: config(settings) });
  const error = await started.then(
    async (env) => {
      await env.close();
      throw new Error('it started');
    },
    (e: unknown) => e as { code?: string; message: string },
  );
  expect(error.code).toBe('BAD_INPUT');
  expect(await findLocalEnv(dir)).toBeNull();
  if (options.before) expect(existsSync(join(dir, '.frontendops'))).toBe(false);
  return error.message;
}

async function commitAll() {
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('-c', 'user.name=Ada', '-c', 'user.email=ada@example.com', 'commit', '-qm', 'site');
}

describe('dev refuses a configuration that cannot work, saying which setting', () => {
  it('an appPath that does not exist: names it, not "not a git checkout"', async () => {
    await commitAll();
    const message = await refusal({ appPath: 'pubic' }, { before: true });
    expect(message).toMatch(/The app's directory pubic does not exist in this repository/);
    expect(message).toMatch(/Set "appPath" in frontendops\.config\.json/);
    expect(message).not.toMatch(/git checkout/);
  });

  it('a directory no commit touches, and a directory outside any git checkout: each said as it is', async () => {
    await commitAll();
    await mkdir(join(dir, 'blog'));
    await writeFile(join(dir, 'blog', 'index.html'), 'draft');
    expect(await refusal({ appPath: 'blog' }, { before: true })).toMatch(
      /^No commit touching blog is in the repository yet: .*Commit the app first/,
    );
    await rm(join(dir, '.git'), { recursive: true, force: true });
    expect(await refusal({ appPath: 'public' }, { before: true })).toMatch(
      /is not in a git checkout: .*Run it in a clone/,
    );
  });

  it('a build.output that is not a directory: names "build.output", never a flag to pass', async () => {
    await commitAll();
    const asItIs = await refusal({ appPath: 'public', build: { output: 'dist' } });
    expect(asItIs).toMatch(/public\/dist, the site "build\.output" \(dist, relative to "appPath" public\)/);
    expect(asItIs).toMatch(/Without "build\.command" the site is published as it is/);
    expect(asItIs).not.toMatch(/pass the directory/);
    const built = await refusal({
      appPath: 'public',
      build: { output: 'dist', command: [process.execPath, '-e', ''] },
    });
    expect(built).toMatch(
      /^The build ran, but .*public\/dist.* is not a directory\. Set "build\.output" to the directory the build writes\./,
    );
  });

  it('a build.output committed as a symlink out of the repository: refused, not published from there', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'frontendops-dev-elsewhere-'));
    try {
      await writeFile(join(elsewhere, 'index.html'), '<h1>not this repository</h1>\n');
      await symlink(elsewhere, join(dir, 'public', 'dist'));
      await commitAll();
      const message = await refusal({ appPath: 'public', build: { output: 'dist' } });
      expect(message).toContain(
        `The build directory ${join(dir, 'public', 'dist')} is in the repository ${dir}, but it is a symlink, or under one, to ${elsewhere}, outside it`,
      );
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
