/**
 * Which git host a command talks to: GitHub (--github owner/repo, or GITHUB_REPOSITORY with a
 * GITHUB_TOKEN, as in Actions) or the local repository (--repo, else the working directory).
 */
import { resolve } from 'node:path';
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
    return createGitHubHost({
      owner,
      repo,
      ...(env.GITHUB_TOKEN ? { token: env.GITHUB_TOKEN } : {}),
      ...(env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL } : {}),
    });
  }
  const { openLocalGit } = await import('./git-local.ts');
  return openLocalGit({ repoDir: resolve(cwd, flags.repo ?? '.') });
}
