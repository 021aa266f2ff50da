/**
 * Whether this process runs as a step of a GitHub Actions job, and which GitHub environment approves
 * a job's changes of a protected stack there. Kept light (types only): the CLI's context uses it.
 */
import type { ApprovalPolicy } from '../config.ts';
import type { PolicyInForce } from '../state/approval-policy.ts';

/** GitHub sets GITHUB_ACTIONS for every step of a job (the Action's included). */
export const inGitHubJob = (env: NodeJS.ProcessEnv): boolean => env.GITHUB_ACTIONS === 'true';

/**
 * The GitHub environment whose reviewers stand for a job's approval on a protected stack: the one
 * the configuration or the audit log's record names (approval-policy.ts); undefined outside a job
 * or where neither names one. There a job is approved by that environment, for the actions it
 * lists, and by nothing the job says itself: the CLI's --yes, or its agent's answer to the server.
 */
export const jobEnvironmentOf = (
  env: NodeJS.ProcessEnv,
  inForce: Pick<PolicyInForce, 'configured' | 'recorded'>,
): ApprovalPolicy['github'] =>
  inGitHubJob(env) ? (inForce.configured.github ?? inForce.recorded?.github) : undefined;
