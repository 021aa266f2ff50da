/**
 * What every GitHost backend (local git, GitHub) refuses alike when it makes a tag, in one wording:
 * `where` names the backend's repository ("this repository", "GitHub acme/dashboard").
 */
import { FrontendOpsError } from '../errors.ts';

/** A tag name already taken (CONFLICT: createDeployTag takes the next number). */
export const tagTaken = (name: string, where: string) =>
  new FrontendOpsError('CONFLICT', `Tag ${name} already exists in ${where}; choose another name.`);

/** A commit to tag that the repository does not have. */
export const untaggedCommit = (sha: string, where: string) =>
  new FrontendOpsError(
    'NOT_FOUND',
    `Commit ${sha} is not in ${where}, so it cannot be tagged. Pass a commit that is there (push it first).`,
  );
