/**
 * A deploy environment's S3 server behind the test proxy (test/support/s3-proxy.ts), and stack
 * outputs files that send a CLI through it: for tests that hold a request at an exact point, or need
 * conditional writes honoured as S3 honours them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createS3Client } from '../../src/adapters/s3.ts';
import { ARTIFACTS, HOSTING, type TestDeployEnv } from './deploy-env.ts';
import { type S3Proxy, startS3Proxy } from './s3-proxy.ts';

export interface DeployProxy {
  proxy: S3Proxy;
  /**
   * Writes `<tmp>/<file>.json`: the environment's target under its own stack name or `stack`, its S3
   * endpoint the proxy; `cdn` adds the distribution id (the CloudFront double, in `t.cliEnv()`).
   */
  writeOutputs(file: string, options?: { stack?: string; cdn?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function startDeployProxy(
  t: TestDeployEnv,
  options: { conditional: boolean },
): Promise<DeployProxy> {
  const upstream = createS3Client({ endpoint: t.s3.endpoint, credentials: t.s3.credentials });
  const proxy = await startS3Proxy(t.s3.endpoint, upstream, options);
  return {
    proxy,
    async writeOutputs(file, { stack = t.target.stack, cdn = false } = {}) {
      const path = join(t.tmp, `${file}.json`);
      const outputs = {
        stack,
        artifactsBucket: ARTIFACTS,
        hostingBucket: HOSTING,
        ...(cdn ? { distributionId: t.target.distributionId } : {}),
        statePrefix: t.target.statePrefix,
        region: 'us-east-1',
        endpoint: proxy.endpoint,
      };
      await writeFile(path, JSON.stringify(outputs));
      return path;
    },
    async close() {
      await proxy.close();
      upstream.destroy();
    },
  };
}
