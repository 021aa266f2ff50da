/**
 * Pulumi Cloud REST API, read-only: the stack export (`GET /api/stacks/{org}/{project}/{stack}/export`,
 * an apitype.UntypedDeployment). Only this one GET is ever sent, so an unknown stack can never be created.
 * Secrets in an export are ciphertext (we never ask for --show-secrets); they are reduced to names.
 */
import { FrontendOpsError } from '../errors.ts';
import type { StackOutputs, StackSource } from '../ports.ts';
import { checkDeploymentVersion, checkPulumiName, extractStackOutputs } from './pulumi-deployment.ts';

export const PULUMI_CLOUD_URL = 'https://api.pulumi.com';

export interface PulumiCloudOptions {
  organization: string;
  project: string;
  /** Default: PULUMI_ACCESS_TOKEN from `env`. */
  token?: string;
  /**
   * Where PULUMI_ACCESS_TOKEN is read (default process.env): the environment an `apiUrl` was held
   * to (stacks/resolve.ts trustedApiUrl), so the token goes only where that environment says.
   */
  env?: NodeJS.ProcessEnv;
  /** Default: https://api.pulumi.com (set it for a self-hosted Pulumi Cloud). */
  apiUrl?: string;
  fetch?: typeof fetch;
}

export function createPulumiCloudSource(options: PulumiCloudOptions): StackSource {
  const organization = checkPulumiName(options.organization, 'Pulumi organization');
  const project = checkPulumiName(options.project, 'Pulumi project');
  const apiUrl = (options.apiUrl ?? PULUMI_CLOUD_URL).replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  return {
    async readOutputs(stackName: string): Promise<StackOutputs> {
      const stack = checkPulumiName(stackName, 'Stack');
      const token = options.token ?? (options.env ?? process.env).PULUMI_ACCESS_TOKEN;
      if (!token) {
        throw new FrontendOpsError(
          'BAD_INPUT',
          'PULUMI_ACCESS_TOKEN is not set, so Pulumi Cloud cannot be read. Create a token at ' +
            'https://app.pulumi.com/account/tokens and export it as PULUMI_ACCESS_TOKEN.',
        );
      }
      const path = [organization, project, stack].map(encodeURIComponent).join('/');
      let response: Response;
      try {
        response = await doFetch(`${apiUrl}/api/stacks/${path}/export`, {
          method: 'GET',
          headers: {
            Authorization: `token ${token}`,
            Accept: 'application/vnd.pulumi+8',
            'Content-Type': 'application/json',
          },
          signal: AbortSignal.timeout(30_000),
        });
      } catch (error) {
        throw new FrontendOpsError(
          'UPSTREAM',
          'Pulumi Cloud could not be reached; check the network and retry.',
          {
            cause: error,
          },
        );
      }
      if (response.status === 404) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `Stack ${organization}/${project}/${stack} does not exist in Pulumi Cloud, or the token cannot see it. ` +
            'Nothing was created. Check the organization, project and stack names.',
        );
      }
      if (response.status === 401 || response.status === 403) {
        throw new FrontendOpsError(
          'UPSTREAM',
          `Pulumi Cloud refused the token (HTTP ${response.status}). Check PULUMI_ACCESS_TOKEN and its access ` +
            'to the stack.',
        );
      }
      if (!response.ok) {
        throw new FrontendOpsError(
          'UPSTREAM',
          `Pulumi Cloud answered HTTP ${response.status} to the stack export.`,
        );
      }
      const where = `the Pulumi Cloud export of ${organization}/${project}/${stack}`;
      let body: { version?: unknown; deployment?: unknown };
      try {
        body = (await response.json()) as typeof body;
      } catch (error) {
        throw new FrontendOpsError('UPSTREAM', `${where} is not JSON.`, { cause: error });
      }
      if (body === null || typeof body !== 'object') {
        throw new FrontendOpsError('UPSTREAM', `${where} is not an UntypedDeployment {version, deployment}.`);
      }
      checkDeploymentVersion(body.version, where);
      const { outputs, secretNames } = extractStackOutputs(body.deployment, where);
      return { stack, outputs, secretNames, source: 'pulumi cloud' };
    },
  };
}
