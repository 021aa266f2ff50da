/**
 * A real git repository in a temporary directory, with a small history that touches the dashboard's
 * directory and others, so "latest commit of apps/sophia-dashboard" has a known, non-trivial answer.
 * The history is made by git once per test run (test/support/global-setup.ts) and each test gets a
 * copy of it: its commits have fixed authors and dates, so a copy is the repository git would make
 * again, shas and all, and the 23 git processes that make one run once, not once per repository.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestRepo {
  dir: string;
  /** Commit shas by step name, oldest first: init, dashboard1, infra, dashboard2, docs. */
  commits: Record<'init' | 'dashboard1' | 'infra' | 'dashboard2' | 'docs', string>;
  git(args: string[]): Promise<string>;
  cleanup(): Promise<void>;
}

/** Who commits in a test repository: the variables git reads, for tests that run git themselves. */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Ada Release',
  GIT_AUTHOR_EMAIL: 'ada@example.test',
  GIT_COMMITTER_NAME: 'Ada Release',
  GIT_COMMITTER_EMAIL: 'ada@example.test',
};

/** A directory holding the repository every test copies (`repo`) and its commits (`commits.json`). */
export const TEMPLATE_ENV = 'FRONTENDOPS_TEST_GIT_TEMPLATE';

/** Makes the repository that test repositories copy, in `dir` (see TEMPLATE_ENV); for the global setup. */
export async function makeTestRepoTemplate(dir: string): Promise<void> {
  const repo = join(dir, 'repo');
  await mkdir(repo);
  const commits = await makeHistory(repo);
  await writeFile(join(dir, 'commits.json'), JSON.stringify(commits));
}

/**
 * Writes what a `git fast-import` stream describes into the repository in `dir`, in one process: a
 * pile of commits or tags pushed at once, as someone who can push may.
 */
export async function fastImport(dir: string, stream: string): Promise<void> {
  const importing = run('git', ['fast-import', '--quiet'], { cwd: dir });
  importing.child.stdin?.end(stream);
  await importing;
}

export async function createTestRepo(): Promise<TestRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'frontendops-git-'));
  const template = process.env[TEMPLATE_ENV];
  // Without the global setup (a file run under another config), git makes the history here.
  const commits = template ? await copyTemplate(template, dir) : await makeHistory(dir);
  return {
    dir,
    commits,
    git: (args) => gitIn(dir, args),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** What a test repository's refs point at, to put back: see snapshotRepo. */
export interface RepoSnapshot {
  /** Whether every ref still names what it named. */
  unchanged(): Promise<boolean>;
  /** Deletes the refs made since, sets the others back, and checks out the head again. */
  restore(): Promise<void>;
}

/**
 * The repository's refs as they are now (its branch and head, its tags), to put back later: tests that
 * start each case from the same history (a commit a case adds, a deploy tag a case makes) take it once
 * and restore it before a case. Restoring deletes the refs made since, moves the others back, and
 * checks the head out again (index and work tree); what was committed since stays in the object store,
 * unreachable, as after `git reset --hard`.
 */
export async function snapshotRepo(repo: TestRepo): Promise<RepoSnapshot> {
  const refs = async () =>
    new Map(
      (await repo.git(['for-each-ref', '--format=%(refname) %(objectname)']))
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' ') as [string, string]),
    );
  const saved = await refs();
  const head = (await repo.git(['rev-parse', 'HEAD'])).trim();
  return {
    unchanged: async () => {
      const now = await refs();
      return now.size === saved.size && [...saved].every(([ref, sha]) => now.get(ref) === sha);
    },
    async restore() {
      const now = await refs();
      const changes = [
        ...[...now.keys()].filter((ref) => !saved.has(ref)).map((ref) => `delete ${ref}\n`),
        ...[...saved]
          .filter(([ref, sha]) => now.get(ref) !== sha)
          .map(([ref, sha]) => `update ${ref} ${sha}\n`),
      ];
      if (changes.length > 0) {
        const updating = run('git', ['update-ref', '--stdin'], { cwd: repo.dir });
        updating.child.stdin?.end(changes.join(''));
        await updating;
      }
      await repo.git(['reset', '-q', '--hard', head]);
    },
  };
}

async function copyTemplate(template: string, dir: string): Promise<TestRepo['commits']> {
  await cp(join(template, 'repo'), dir, { recursive: true, preserveTimestamps: true });
  return JSON.parse(await readFile(join(template, 'commits.json'), 'utf8'));
}

async function gitIn(dir: string, args: string[], date?: string): Promise<string> {
  const env = { ...process.env, ...GIT_IDENTITY, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
  if (date) Object.assign(env, { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
  const { stdout } = await run('git', args, { cwd: dir, env });
  return stdout;
}

/** Makes the repository's history in `dir` (an empty directory) with git; returns its commits. */
async function makeHistory(dir: string): Promise<TestRepo['commits']> {
  const git = (args: string[], date?: string) => gitIn(dir, args, date);
  await git(['init', '--quiet', '--initial-branch=main']);
  await git(['config', 'user.name', GIT_IDENTITY.GIT_AUTHOR_NAME]);
  await git(['config', 'user.email', GIT_IDENTITY.GIT_AUTHOR_EMAIL]);
  await git(['config', 'tag.gpgSign', 'false']);
  await git(['config', 'commit.gpgSign', 'false']);

  const commit = async (file: string, content: string, message: string, date: string) => {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), content);
    await git(['add', '--', file]);
    await git(['commit', '--quiet', '-m', message], date);
    return (await git(['rev-parse', 'HEAD'])).trim();
  };

  const commits = {
    init: await commit('README.md', '# repo\n', 'Initial commit', '2026-11-20T09:00:00Z'),
    dashboard1: await commit(
      'apps/sophia-dashboard/index.html',
      '<h1>v1</h1>\n',
      'dashboard: first page',
      '2026-11-21T09:00:00Z',
    ),
    infra: await commit('infra/index.ts', 'export {};\n', 'infra: bucket', '2026-11-22T09:00:00Z'),
    dashboard2: await commit(
      'apps/sophia-dashboard/src/App.tsx',
      'export const App = () => null;\n',
      'dashboard: add App\n\nLonger body line.',
      '2026-11-23T09:00:00Z',
    ),
    docs: await commit('docs/notes.md', 'notes\n', 'docs: notes', '2026-11-24T09:00:00Z'),
  };
  return commits;
}

/**
 * Another team's repository as the adopter tests use it: a plain site, app `brochure` in `public/`
 * published as it is, `.frontendops/` ignored, its files (paths under `public/`) committed.
 */
export async function createBrochureRepo(
  pages: Record<string, string>,
  message = 'brochure',
): Promise<TestRepo> {
  const repo = await createTestRepo();
  await writeFile(join(repo.dir, '.gitignore'), '.frontendops/\n');
  await writeFile(
    join(repo.dir, 'frontendops.config.json'),
    JSON.stringify({ app: 'brochure', appPath: 'public', build: { output: '.' } }),
  );
  for (const [path, text] of Object.entries(pages)) {
    await mkdir(dirname(join(repo.dir, 'public', path)), { recursive: true });
    await writeFile(join(repo.dir, 'public', path), text);
  }
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-q', '-m', message]);
  return repo;
}
