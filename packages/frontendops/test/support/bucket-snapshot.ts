/**
 * A copy of what some prefixes of some buckets hold, to put back later: tests that start each case
 * from the same deployed stack deploy it once, take a snapshot, and restore it before the next case
 * instead of deploying again. Restoring makes each prefix hold exactly the snapshot's objects, with
 * their bytes, content type, cache control and metadata: every object of the snapshot is written
 * again (a test may have changed an object's metadata and kept its bytes), and what the snapshot
 * lacks is deleted.
 */
import type { ObjectStore, StoredObject } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';

export interface BucketSnapshot {
  restore(): Promise<void>;
}

export async function snapshotBuckets(
  parts: ReadonlyArray<{ store: ObjectStore; prefix?: string }>,
): Promise<BucketSnapshot> {
  const saved = await Promise.all(
    parts.map(async ({ store, prefix = '' }) => {
      const objects = new Map<string, StoredObject>();
      for (const { key } of await store.list(prefix)) {
        const object = await store.get(key);
        if (!object) throw new Error(`${store.bucket}/${key} went away while it was being copied`);
        objects.set(key, object);
      }
      return { store, prefix, objects };
    }),
  );
  return {
    async restore() {
      for (const { store, prefix, objects } of saved) {
        const extra = (await store.list(prefix)).map((o) => o.key).filter((key) => !objects.has(key));
        if (extra.length > 0) await store.delete(extra);
        await Promise.all(
          [...objects].map(([key, object]) =>
            store.put(key, object.body, {
              ...(object.contentType ? { contentType: object.contentType } : {}),
              ...(object.cacheControl ? { cacheControl: object.cacheControl } : {}),
              metadata: object.metadata,
            }),
          ),
        );
      }
    },
  };
}

/**
 * What a change to a stack writes: its hosting bucket and its state prefix (records, audit chain, pin,
 * publish log). Not its artifacts bucket: a case that publishes a build adds one the others ignore.
 */
export const snapshotStack = (site: Pick<Site, 'hosting' | 'state' | 'target'>): Promise<BucketSnapshot> =>
  snapshotBuckets([{ store: site.hosting }, { store: site.state, prefix: site.target.statePrefix }]);

/**
 * The stack and the published builds: snapshotStack's buckets and the whole artifacts bucket, for
 * cases that publish builds or replace their files. Where the state is kept in the artifacts bucket
 * (deploy-env.ts), that bucket covers it.
 */
export const snapshotStackAndBuilds = (
  site: Pick<Site, 'hosting' | 'state' | 'artifacts' | 'target'>,
): Promise<BucketSnapshot> =>
  snapshotBuckets([
    { store: site.hosting },
    { store: site.artifacts },
    ...(site.state.bucket === site.artifacts.bucket
      ? []
      : [{ store: site.state, prefix: site.target.statePrefix }]),
  ]);
