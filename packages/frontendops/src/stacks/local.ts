/**
 * The embedded local environment (`frontendops dev`) as a stack source: its stack is always called
 * `local`, its outputs name the embedded S3 server and local edge, and — unlike any real stack — it
 * also says how to reach them: the key the embedded server was started with and the edge's
 * CloudFront-API endpoint. Everything else about opening a stack is the same as for production.
 */
import { FrontendOpsError } from '../errors.ts';
import type { StackOutputs, StackSource } from '../ports.ts';
import { findLocalEnv } from './local-env-file.ts';

/** The reserved stack name of the embedded environment. */
export const LOCAL_STACK = 'local';

/** The distribution id of the embedded environment's CDN edge (no CloudFront distribution has it). */
export const LOCAL_DISTRIBUTION_ID = 'E1LOCALEDGE';

export function createLocalStackSource(cwd: string): StackSource {
  return {
    async readOutputs(stack: string): Promise<StackOutputs> {
      if (stack !== LOCAL_STACK) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `The local environment has one stack, ${LOCAL_STACK}, not "${stack.slice(0, 100)}". Nothing was created. ` +
            `Pass --stack ${LOCAL_STACK} for it, or the name of a configured stack.`,
        );
      }
      const local = await findLocalEnv(cwd);
      if (!local) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          'No local environment is running here (in the project of the working directory, or of -C <dir>). Nothing was created. ' +
            'Start it with `npx frontendops dev` in that repository (`npm start` in the FrontendOps repository), or point at its directory with -C <dir>: ' +
            'FRONTENDOPS_CONFIG names a configuration file, not where the environment runs.',
        );
      }
      return {
        stack: LOCAL_STACK,
        outputs: {
          artifactsBucket: local.buckets.artifacts,
          hostingBucket: local.buckets.hosting,
          distributionId: local.distributionId,
          region: 'us-east-1',
          endpoint: local.s3Endpoint,
          siteUrl: local.edgeUrl,
          ...(local.releaseStore ? { releaseStoreArn: local.releaseStore.arn } : {}),
        },
        secretNames: [],
        source: 'the local environment',
        access: {
          credentials: local.credentials,
          cdnEndpoint: local.cdnEndpoint,
          ...(local.releaseStore
            ? { kvsEndpoint: local.releaseStore.endpoint, propagationMs: local.releaseStore.propagationMs }
            : {}),
        },
      };
    },
  };
}
