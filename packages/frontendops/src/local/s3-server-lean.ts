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
  /** "<bucket>" → its lookup, "<bucket>/<type>" → its configuration: the reads under way or done. */
  const known = new Map<string, Promise<unknown>>();
  /**
   * The read is remembered from the moment it starts, so a change that begins later forgets it; it
   * is dropped when it fails or `keep` refuses its answer (a bucket that does not exist is asked again).
   */
  const remember = (
    id: string,
    read: () => Promise<unknown>,
    keep: (value: unknown) => boolean = () => true,
  ) => {
    const seen = known.get(id);
    if (seen) return seen;
    const reading = read();
    known.set(id, reading);
    const drop = () => {
      if (known.get(id) === reading) known.delete(id);
    };
    reading.then((value) => {
      if (!keep(value)) drop();
    }, drop);
    return reading;
  };
  /** Runs a change, forgetting what it changes both before (reads to come) and after (reads meanwhile). */
  const changing = async <T>(forget: () => void, change: () => Promise<T>): Promise<T> => {
    forget();
    try {
      return await change();
    } finally {
      forget();
    }
  };
  const forgetBucket = (bucket: string) => {
    for (const id of known.keys()) if (id === bucket || id.startsWith(`${bucket}/`)) known.delete(id);
  };
  const forgetConfig = (bucket: string, type: string) => known.delete(`${bucket}/${type}`);

  const { getBucket, putBucket, deleteBucket, getSubresource, putSubresource, deleteSubresource } = store;
  store.getBucket = function (bucket) {
    return remember(bucket, () => getBucket.call(this, bucket), Boolean);
  };
  store.putBucket = function (bucket) {
    return changing(
      () => forgetBucket(bucket),
      () => putBucket.call(this, bucket),
    );
  };
  store.deleteBucket = function (bucket) {
    return changing(
      () => forgetBucket(bucket),
      () => deleteBucket.call(this, bucket),
    );
  };
  // Object-level subresources (ACLs and the like) go to s3rver as before: only the bucket's own are kept.
  store.getSubresource = function (bucket, key, type) {
    if (key !== undefined) return getSubresource.call(this, bucket, key, type);
    return remember(`${bucket}/${type}`, () => getSubresource.call(this, bucket, key, type));
  };
  store.putSubresource = function (bucket, key, resource) {
    if (key !== undefined) return putSubresource.call(this, bucket, key, resource);
    return changing(
      () => forgetConfig(bucket, resource.type),
      () => putSubresource.call(this, bucket, key, resource),
    );
  };
  store.deleteSubresource = function (bucket, key, type) {
    if (key !== undefined) return deleteSubresource.call(this, bucket, key, type);
    return changing(
      () => forgetConfig(bucket, type),
      () => deleteSubresource.call(this, bucket, key, type),
    );
  };

  // koa-logger's middleware (named "logger") formats every request and response line; s3rver is
  // silent, so the lines go nowhere.
  const at = app.middleware.findIndex((fn) => fn.name === 'logger');
  if (at !== -1) app.middleware.splice(at, 1);
  app.logger.level = 'warn';
}
