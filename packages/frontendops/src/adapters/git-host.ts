/**
 * Which git host a command talks to: GitHub (--github owner/repo, or GITHUB_REPOSITORY with a
 * GITHUB_TOKEN, as in Actions) or the local repository (--repo, else the working directory). In an
 * Actions run, "the latest" is looked for in the run's commit (GITHUB_SHA) on either.
 */
import { resolve } from 'node:path';
import { FULL_COMMIT } from '../engine/ids.ts';
import { badInput } from '../errors.ts';
import type { GitHost } from '../ports.ts';

export interface GitHostFlags {
  repo?: string;
  github?: string;
}

/** The GitHub repository (owner/repo) a command talks to, or undefined: the local repository. */
export const githubRepository = (flags: GitHostFlags, env: NodeJS.ProcessEnv): string | undefined =>
  flags.github ?? (!flags.repo && env.GITHUB_TOKEN ? env.GITHUB_REPOSITORY : undefined);

/** Where a command's git host is, for people: "GitHub repository acme/dashboard", "git repository /src/app". */
export function describeGitHost(flags: GitHostFlags, env: NodeJS.ProcessEnv, cwd: string): string {
  const github = githubRepository(flags, env);
  return github ? `GitHub repository ${github}` : `git repository ${resolve(cwd, flags.repo ?? '.')}`;
}

export async function selectGitHost(
  flags: GitHostFlags,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<GitHost> {
  if (flags.github && flags.repo)
    throw badInput('Pass either --repo <dir> or --github <owner/repo>, not both.');
  const github = githubRepository(flags, env);
  if (github) {
    const [owner, repo, ...extra] = github.split('/');
    if (!owner || !repo || extra.length > 0) {
      throw badInput(`Invalid --github "${github}": expected owner/repo, e.g. "acme/dashboard".`);
    }
    const { createGitHubHost } = await import('./github.ts');
    // In an Actions run of this repository, "the latest" is the app's newest commit in the run's
    // commit, as the local backend answers from the run's checkout: the environment's reviewers
    // approved the run GitHub showed them with that commit, not whatever was pushed since.
    const runCommit =
      env.GITHUB_ACTIONS === 'true' &&
      github === env.GITHUB_REPOSITORY &&
      FULL_COMMIT.test(env.GITHUB_SHA ?? '')
        ? env.GITHUB_SHA
        : undefined;
    return createGitHubHost({
      owner,
      repo,
      ...(env.GITHUB_TOKEN ? { token: env.GITHUB_TOKEN } : {}),
      ...(env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL } : {}),
      ...(runCommit ? { defaultBranch: runCommit } : {}),
    });
  }
  const { openLocalGit } = await import('./git-local.ts');
  return openLocalGit({ repoDir: resolve(cwd, flags.repo ?? '.') });
}
