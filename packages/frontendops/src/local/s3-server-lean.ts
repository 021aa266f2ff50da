/**
 * Takes work off every request of the embedded s3rver that it repeats for nothing. Profiled under
 * the test suite, a fifth of its CPU went to:
 * - reading the bucket's CORS and website configurations from disk (two failed file opens per
 *   request: our buckets have neither);
 * - checking the bucket's directory exists (a stat per request);
 * - formatting a coloured log line per request and response, which `silent` then discards.
 * Bucket lookups and bucket-level configurations are remembered until a call that changes them;
 * the logging middleware is dropped and the (silent) logger skips below warnings.
 */

/** The parts of s3rver's FilesystemStore this touches. */
export interface LeanStore {
  getBucket(bucket: string): Promise<unknown>;
  putBucket(bucket: string): Promise<unknown>;
  deleteBucket(bucket: string): Promise<unknown>;
  getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
  putSubresource(bucket: string, key: string | undefined, resource: { type: string }): Promise<unknown>;
  deleteSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
}

/** The parts of the s3rver app (a Koa application) this touches. */
export interface LeanApp {
  store: LeanStore;
  middleware: Array<(...args: never[]) => unknown>;
  logger: { level: string };
}

export function makeS3rverLean(app: LeanApp): void {
  const { store } = app;
  const buckets = new Map<string, Promise<unknown>>();
  const configs = new Map<string, Promise<unknown>>();
  const forgetBucket = (bucket: string) => {
    buckets.delete(bucket);
    for (const id of configs.keys()) if (id.startsWith(`${bucket}/`)) configs.delete(id);
  };

  const { getBucket, putBucket, deleteBucket, getSubresource, putSubresource, deleteSubresource } = store;
  store.getBucket = function (bucket) {
    const known = buckets.get(bucket);
    if (known) return known;
    const found = getBucket.call(this, bucket);
    // Only a bucket that exists is remembered; a failed or empty answer is asked again next time.
    void found.then(
      (value) => {
        if (value && !buckets.has(bucket)) buckets.set(bucket, found);
      },
      () => {},
    );
    return found;
  };
  store.putBucket = async function (bucket) {
    forgetBucket(bucket);
    try {
      return await putBucket.call(this, bucket);
    } finally {
      forgetBucket(bucket);
    }
  };
  store.deleteBucket = async function (bucket) {
    forgetBucket(bucket);
    try {
      return await deleteBucket.call(this, bucket);
    } finally {
      forgetBucket(bucket);
    }
  };
  // Object-level subresources (ACLs and the like) go to s3rver as before: only the bucket's own are kept.
  store.getSubresource = function (bucket, key, type) {
    if (key !== undefined) return getSubresource.call(this, bucket, key, type);
    const id = `${bucket}/${type}`;
    const known = configs.get(id);
    if (known) return known;
    const read = getSubresource.call(this, bucket, key, type);
    configs.set(id, read);
    read.catch(() => configs.delete(id));
    return read;
  };
  store.putSubresource = async function (bucket, key, resource) {
    if (key === undefined) configs.delete(`${bucket}/${resource.type}`);
    try {
      return await putSubresource.call(this, bucket, key, resource);
    } finally {
      if (key === undefined) configs.delete(`${bucket}/${resource.type}`);
    }
  };
  store.deleteSubresource = async function (bucket, key, type) {
    if (key === undefined) configs.delete(`${bucket}/${type}`);
    try {
      return await deleteSubresource.call(this, bucket, key, type);
    } finally {
      if (key === undefined) configs.delete(`${bucket}/${type}`);
    }
  };

  // koa-logger's middleware (named "logger") formats every request and response line; s3rver is
  // silent, so the lines go nowhere.
  const at = app.middleware.findIndex((fn) => fn.name === 'logger');
  if (at !== -1) app.middleware.splice(at, 1);
  app.logger.level = 'warn';
}
