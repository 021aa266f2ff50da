/**
 * Raw KeyValueStore writes the release store adapter refuses to make (a value that is no release
 * pointer, or no key at all), as someone with the deployer role can make them outside FrontendOps.
 */
import { lookup } from 'node:dns';
import { Agent as HttpAgent } from 'node:http';
import {
  CloudFrontKeyValueStoreClient,
  DeleteKeyCommand,
  DescribeKeyValueStoreCommand,
  PutKeyCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { RELEASE_KEY } from '../../src/atomic/release-pointer.ts';
import type { AtomicEnv } from './atomic-env.ts';

export interface RawKvs {
  write(change: 'delete' | { value: string }): Promise<void>;
  destroy(): void;
}

export function rawKvs(t: AtomicEnv): RawKvs {
  const arn = t.target.releaseStoreArn as string;
  const raw = new CloudFrontKeyValueStoreClient({
    region: 'us-east-1',
    endpoint: t.edge.atomic?.kvsEndpoint as string,
    credentials: t.s3.credentials,
    maxAttempts: 1,
    requestHandler: {
      httpAgent: new HttpAgent({
        lookup: (host, options, callback) =>
          lookup(host.endsWith('.localhost') ? 'localhost' : host, options, callback),
      }),
    },
  });
  return {
    async write(change) {
      const { ETag } = await raw.send(new DescribeKeyValueStoreCommand({ KvsARN: arn }));
      if (change === 'delete') {
        await raw.send(new DeleteKeyCommand({ KvsARN: arn, Key: RELEASE_KEY, IfMatch: ETag }));
      } else {
        await raw.send(
          new PutKeyCommand({ KvsARN: arn, Key: RELEASE_KEY, Value: change.value, IfMatch: ETag }),
        );
      }
    },
    destroy: () => raw.destroy(),
  };
}
