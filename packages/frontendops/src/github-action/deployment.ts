/**
 * A GitHub Deployment for the run (REST: create a deployment, then its statuses), so the repository's
 * Environments page shows what went live where, with the site's URL and a link to the run's log.
 * Reporting never decides the deploy: a refused report is a warning in the log, not a failure.
 */
import { Octokit } from '@octokit/rest';

export interface DeploymentReporter {
  /** Sets the deployment's state; environmentUrl on success. Never throws. */
  status(
    state: 'in_progress' | 'success' | 'failure' | 'error',
    details: { description: string; environmentUrl?: string | null },
  ): Promise<void>;
}

export interface DeploymentInput {
  token: string;
  repository: string;
  apiUrl: string | null;
  ref: string;
  environment: string;
  description: string;
  logUrl: string | null;
  /** Where problems go (the job log), as ::warning:: lines. */
  warn: (message: string) => void;
}

/** Creates the deployment (no required status checks, no auto-merge: the build is already chosen). */
export async function startDeployment(input: DeploymentInput): Promise<DeploymentReporter | null> {
  const [owner, repo] = input.repository.split('/');
  if (!owner || !repo) return null;
  const octokit = new Octokit({
    auth: input.token,
    userAgent: 'frontendops-action',
    ...(input.apiUrl ? { baseUrl: input.apiUrl.replace(/\/+$/, '') } : {}),
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  let id: number;
  try {
    const { data } = await octokit.rest.repos.createDeployment({
      owner,
      repo,
      ref: input.ref,
      environment: input.environment,
      description: input.description.slice(0, 140),
      auto_merge: false,
      required_contexts: [],
      transient_environment: false,
    });
    if (!('id' in data)) throw new Error(data.message ?? 'no deployment was created');
    id = data.id;
  } catch (error) {
    input.warn(
      `Could not create a GitHub Deployment (${describe(error)}); the deploy goes on without one. The job needs "permissions: deployments: write".`,
    );
    return null;
  }
  return {
    async status(state, details) {
      try {
        await octokit.rest.repos.createDeploymentStatus({
          owner,
          repo,
          deployment_id: id,
          state,
          description: details.description.slice(0, 140),
          ...(details.environmentUrl ? { environment_url: details.environmentUrl } : {}),
          ...(input.logUrl ? { log_url: input.logUrl } : {}),
          auto_inactive: state === 'success',
        });
      } catch (error) {
        input.warn(`Could not set the GitHub Deployment's status to ${state} (${describe(error)}).`);
      }
    },
  };
}

function describe(error: unknown): string {
  const status = (error as { status?: unknown }).status;
  const message = (error as { response?: { data?: { message?: unknown } } }).response?.data?.message;
  return (
    [typeof status === 'number' ? `HTTP ${status}` : '', typeof message === 'string' ? message : '']
      .filter(Boolean)
      .join(': ') || (error as Error).message
  );
}
