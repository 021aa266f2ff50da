/**
 * Reads the stack outputs out of a Pulumi deployment (apitype DeploymentV3, the `latest` of a checkpoint or
 * the `deployment` of a stack export): the outputs of the one `pulumi:pulumi:Stack` resource.
 */
import { z } from 'zod';
import { FrontendOpsError } from '../errors.ts';
import { type SeparatedOutputs, separateSecretOutputs } from './secret-outputs.ts';

/** apitype.DeploymentSchemaVersionCurrent: newer deployments may mean things we cannot read safely. */
export const DEPLOYMENT_VERSION_CURRENT = 3;

const resourceSchema = z.object({
  type: z.string(),
  outputs: z.record(z.string(), z.unknown()).nullish(),
  delete: z.boolean().optional(),
});

export const deploymentSchema = z.object({
  resources: z.array(resourceSchema).nullish(),
});

/** The Stack resource's outputs with secrets reduced to names. A never-updated stack has no outputs. */
export function extractStackOutputs(deployment: unknown, where: string): SeparatedOutputs {
  if (deployment === null || deployment === undefined) return { outputs: {}, secretNames: [] };
  const parsed = deploymentSchema.safeParse(deployment);
  if (!parsed.success) {
    throw new FrontendOpsError(
      'UPSTREAM',
      `${where} is not a Pulumi deployment: its resources are not a list of {type, outputs}. ` +
        'Check that the backend holds Pulumi state (checkpoint version 3).',
    );
  }
  const stackResource = (parsed.data.resources ?? []).find(
    (resource) => resource.type === 'pulumi:pulumi:Stack' && resource.delete !== true,
  );
  return separateSecretOutputs(stackResource?.outputs ?? {});
}

/** Pulumi refuses deployments newer than it knows; so do we. Versions 1 and 2 share the fields we read. */
export function checkDeploymentVersion(version: unknown, where: string): void {
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new FrontendOpsError('UPSTREAM', `${where} has no valid deployment version; expected version 3.`);
  }
  if (version > DEPLOYMENT_VERSION_CURRENT) {
    throw new FrontendOpsError(
      'UPSTREAM',
      `${where} is deployment version ${version}, newer than the supported version ${DEPLOYMENT_VERSION_CURRENT}. ` +
        'Upgrade FrontendOps, or export the outputs to a JSON file (pulumi stack output --json).',
    );
  }
}

/** Pulumi stack and project names: letters, digits, '-', '_', '.' (also keeps paths inside the backend). */
export function checkPulumiName(name: string, what: string): string {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name) || name === '.' || name === '..') {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `${what} "${name.slice(0, 100)}" is not a valid Pulumi name; use letters, digits, '-', '_' and '.'.`,
    );
  }
  return name;
}
