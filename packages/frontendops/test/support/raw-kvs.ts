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
  GetKeyCommand,
  PutKeyCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { RELEASE_KEY } from '../../src/atomic/release-pointer.ts';
import type { AtomicEnv } from './atomic-env.ts';

export interface RawKvs {
  /** Writes the release key (a value of any text) or deletes it. */
  write(change: 'delete' | { value: string }): Promise<void>;
  /** What the store holds at `key` (null when it has no such key). */
  get(key: string): Promise<string | null>;
  /** Puts `value` at `key`, or deletes the key (null), over whatever the store holds now. */
  set(key: string, value: string | null): Promise<void>;
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
  const get = async (key: string): Promise<string | null> => {
    try {
      return (await raw.send(new GetKeyCommand({ KvsARN: arn, Key: key }))).Value ?? null;
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') return null;
      throw error;
    }
  };
  const set = async (key: string, value: string | null): Promise<void> => {
    const { ETag } = await raw.send(new DescribeKeyValueStoreCommand({ KvsARN: arn }));
    if (value !== null)
      await raw.send(new PutKeyCommand({ KvsARN: arn, Key: key, Value: value, IfMatch: ETag }));
    else if ((await get(key)) !== null)
      await raw.send(new DeleteKeyCommand({ KvsARN: arn, Key: key, IfMatch: ETag }));
  };
  return {
    write: (change) => set(RELEASE_KEY, change === 'delete' ? null : change.value),
    get,
    set,
    destroy: () => raw.destroy(),
  };
}
