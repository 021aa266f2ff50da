/**
 * What the console's tests start from: a stack, the test repository's two dashboard commits published
 * (builds "v1" and "v2"), and the first of them live.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { loadConfig } from '../../src/config.ts';
import { type ConsoleOptions, type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishAsCi, STACK, startDeployEnv, type TestDeployEnv } from './deploy-env.ts';
import { writeFixtureBuild } from './fixture-build.ts';
import { createTestRepo, type TestRepo } from './git-repo.ts';

export const APP = 'sophia-dashboard';

export interface ConsoleTestEnv {
  t: TestDeployEnv;
  repo: TestRepo;
  /** The live commit. */
  C1: string;
  /** The latest commit of apps/sophia-dashboard, published, not live. */
  C2: string;
}

export async function startConsoleEnv(options: { protected?: boolean } = {}): Promise<ConsoleTestEnv> {
  const t = await startDeployEnv({}, options);
  const repo = await createTestRepo();
  const C1 = repo.commits.dashboard1;
  const C2 = repo.commits.dashboard2;
  for (const [i, commit] of [C1, C2].entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `build-${i}`), { version: `v${i + 1}` });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }
  await deployArtifact(t.site, {
    app: APP,
    commit: C1,
    request: { text: 'first deploy', actor: 'alice', planner: 'cli', at: new Date().toISOString() },
  });
  return { t, repo, C1, C2 };
}

/**
 * The console on that stack, reading the test repository, with a stand-in page (these tests are
 * about the API; the browser tests build and drive the real UI); `options` adds to or replaces these.
 */
export async function startConsoleOn(
  { t, repo }: ConsoleTestEnv,
  options: Partial<ConsoleOptions> = {},
): Promise<ConsoleServer> {
  const uiDir = join(t.tmp, 'ui');
  await mkdir(uiDir, { recursive: true });
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  return startConsole({
    config: await loadConfig(t.tmp),
    stacks: [STACK],
    openSite: async () => t.site,
    git: createLocalGit({ repoDir: repo.dir }),
    uiDir,
    actor: 'ada (console)',
    ...options,
  });
}
