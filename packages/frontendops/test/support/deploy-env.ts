/** A complete deploy environment for tests: embedded S3 (real protocol), CloudFront double, temp dirs. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeployTarget } from '../../src/engine/types.ts';
import { type Environment, openEnvironment } from '../../src/environment.ts';
import { LOCAL_S3_CREDENTIALS } from '../../src/local/env-file.ts';
import { type CloudFrontDouble, DOUBLE_DISTRIBUTION_ID, startCloudFrontDouble } from './cloudfront-double.ts';
import { startTestS3, type TestS3 } from './local-s3.ts';

export const STACK = 'dashboard-hosting-prod';
export const ARTIFACTS = 'sophia-dashboard-build-artifacts';
export const HOSTING = 'sophia-dashboard-hosting-prod';

export interface TestDeployEnv {
  s3: TestS3;
  cdn: CloudFrontDouble;
  env: Environment;
  target: DeployTarget;
  tmp: string;
  /**
   * Writes this environment's stack outputs as a `--stack` file (`<tmp>/<stack>.json`), as a CLI or
   * spawned server reads them; `cdn` adds the distribution id (then set AWS_ENDPOINT_URL_CLOUDFRONT).
   */
  writeOutputs(options?: { stack?: string; cdn?: boolean }): Promise<string>;
  stop(): Promise<void>;
}

export async function startDeployEnv(overrides: Partial<DeployTarget> = {}): Promise<TestDeployEnv> {
  const s3 = await startTestS3([ARTIFACTS, HOSTING]);
  const cdn = await startCloudFrontDouble();
  const tmp = await mkdtemp(join(tmpdir(), 'frontendops-deploy-'));
  const stack = overrides.stack ?? STACK;
  const target: DeployTarget = {
    stack,
    artifactsBucket: ARTIFACTS,
    hostingBucket: HOSTING,
    stateBucket: ARTIFACTS,
    statePrefix: `.frontendops/state/${stack}/`,
    distributionId: DOUBLE_DISTRIBUTION_ID,
    region: 'us-east-1',
    endpoint: s3.endpoint,
    prune: true,
    ...overrides,
  };
  const env = await openEnvironment(target, {
    credentials: LOCAL_S3_CREDENTIALS,
    cdnEndpoint: cdn.endpoint,
    lockDir: join(tmp, 'locks'),
  });
  return {
    s3,
    cdn,
    env,
    target,
    tmp,
    async writeOutputs({ stack: name = stack, cdn = false } = {}) {
      const file = join(tmp, `${name}.json`);
      const outputs = {
        stack: name,
        artifactsBucket: ARTIFACTS,
        hostingBucket: HOSTING,
        ...(cdn ? { distributionId: target.distributionId } : {}),
        region: 'us-east-1',
        endpoint: s3.endpoint,
      };
      await writeFile(file, JSON.stringify(outputs));
      return file;
    },
    async stop() {
      env.close();
      await cdn.close();
      await s3.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
