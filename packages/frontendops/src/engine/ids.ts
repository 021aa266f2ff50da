/**
 * Deterministic ids (DESIGN §1.5): the same deploy, interrupted and run again, gets the same id, so
 * its CloudFront CallerReferences match and nothing is done twice.
 */
import { createHash } from 'node:crypto';

export interface DeployIdInput {
  stack: string;
  app: string;
  commit: string;
  artifactDigest: string;
  /** The deployment live when this one was planned; a redeploy after it differs. */
  fromDeployId: string | null;
}

export function deployIdFor(input: DeployIdInput): string {
  const hash = createHash('sha256')
    .update(
      [input.stack, input.app, input.commit, input.artifactDigest, input.fromDeployId ?? '-'].join('\n'),
    )
    .digest('hex');
  return `${input.commit.slice(0, 7)}-${hash.slice(0, 10)}`;
}
