/**
 * Which calls of s3rver's FilesystemStore change what it stores, said once. The caches in front of
 * s3rver — the bucket memo (s3-server-lean.ts), the object-metadata memo (same file) and the listing
 * index (s3-server-listing.ts) — learn of each write here: as it begins (so reads to come do not
 * use what it changes) and once it has ended (so nothing read meanwhile is kept).
 *
 * - putObject, copyObject (its destination) and deleteObject write one object. A multipart upload
 *   completes through putObject, and DeleteObjects deletes through deleteObject.
 * - putBucket and deleteBucket change a whole bucket.
 * Wrap after anything that replaces one of these methods (makePutObjectAtomic), so the watchers hear
 * of the write that really happens.
 */

/** What a write changes: one object, or (no key) a whole bucket. */
export interface WriteTarget {
  bucket: string;
  key?: string;
}

export interface WriteWatcher {
  begin(target: WriteTarget): void;
  end(target: WriteTarget): void;
}

/** The writing calls of s3rver's FilesystemStore. */
export interface WritingStore {
  putObject(object: { bucket: string; key: string }): Promise<unknown>;
  copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    ...rest: unknown[]
  ): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<unknown>;
  putBucket(bucket: string): Promise<unknown>;
  deleteBucket(bucket: string): Promise<unknown>;
}

export function watchWrites(store: WritingStore, watchers: readonly WriteWatcher[]): void {
  const writing = async <T>(target: WriteTarget, write: () => Promise<T>): Promise<T> => {
    for (const watcher of watchers) watcher.begin(target);
    try {
      return await write();
    } finally {
      for (const watcher of watchers) watcher.end(target);
    }
  };
  const { putObject, copyObject, deleteObject, putBucket, deleteBucket } = store;
  store.putObject = function (object) {
    return writing({ bucket: object.bucket, key: object.key }, () => putObject.call(this, object));
  };
  store.copyObject = function (srcBucket, srcKey, destBucket, destKey, ...rest) {
    return writing({ bucket: destBucket, key: destKey }, () =>
      copyObject.call(this, srcBucket, srcKey, destBucket, destKey, ...rest),
    );
  };
  store.deleteObject = function (bucket, key) {
    return writing({ bucket, key }, () => deleteObject.call(this, bucket, key));
  };
  store.putBucket = function (bucket) {
    return writing({ bucket }, () => putBucket.call(this, bucket));
  };
  store.deleteBucket = function (bucket) {
    return writing({ bucket }, () => deleteBucket.call(this, bucket));
  };
}
