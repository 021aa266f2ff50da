/**
 * "The latest" means one thing everywhere (the agent, `deploy --latest`, the console's button): the
 * newest commit on the default branch that touches the app's directory (in a GitHub Actions run, in
 * the run's commit: adapters/git-host.ts). Its build must be published
 * (CI publishes every such commit); if it is not yet, deploying "the latest" is refused, naming the
 * commit, rather than silently deploying an older build.
 */
import { resolvePublishedCommit } from '../deploy/publish.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { CommitInfo, GitHost, ObjectStore } from '../ports.ts';

export interface LatestRelease {
  commit: CommitInfo;
  /** Whether a build of this commit is published (it can be deployed). */
  published: boolean;
}

export async function findLatest(input: {
  git: GitHost;
  artifacts: ObjectStore;
  app: string;
  appPath: string;
}): Promise<LatestRelease> {
  const commit = await input.git.latestCommit(input.appPath);
  if (!commit) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      `No commit on the default branch touches ${input.appPath}, so there is no latest ${input.app}. Check "appPath" in frontendops.config.json.`,
    );
  }
  try {
    await resolvePublishedCommit(input.artifacts, input.app, commit.sha);
    return { commit, published: true };
  } catch (error) {
    if (isFrontendOpsError(error, 'NOT_FOUND')) return { commit, published: false };
    throw error;
  }
}

/** The latest commit, refused (NOT_FOUND, saying why and what to do) when its build is not published. */
export async function requireLatestPublished(input: Parameters<typeof findLatest>[0]): Promise<CommitInfo> {
  const latest = await findLatest(input);
  if (!latest.published) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      `The latest commit of ${input.app}, ${latest.commit.shortSha} ("${latest.commit.message.split('\n')[0]}"), has no published build yet. CI publishes every commit: wait for it, or deploy a published commit with --commit.`,
    );
  }
  return latest.commit;
}
