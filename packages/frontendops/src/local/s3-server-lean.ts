/**
 * Takes work off every request of the embedded s3rver that it repeats for nothing. Profiled under
 * the test suite, a fifth of its CPU went to:
 * - reading the bucket's CORS and website configurations from disk (two failed file opens per
 *   request: our buckets have neither);
 * - checking the bucket's directory exists (a stat per request);
 * - formatting a coloured log line per request and response, which `silent` then discards.
 * Bucket lookups and bucket-level configurations are remembered until a call that changes them;
 * the logging middleware is dropped and the (silent) logger skips below warnings.
 *
 * And per object (rememberObjectMetadata): every GET and HEAD read the object's metadata from disk
 * (a stat and two file reads, a JSON parse); it is remembered until the object is written, copied
 * onto, deleted, or its bucket goes. This process is the only writer of its directory.
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

/**
 * Reads remembered until a change: the read is remembered from the moment it starts, so a change that
 * begins later forgets it; it is dropped when it fails or `keep` refuses its answer. A change forgets
 * what it changes both before it runs (reads to come) and after (reads that ran meanwhile).
 */
function createMemo() {
  const known = new Map<string, Promise<unknown>>();
  const remember = <T>(id: string, read: () => Promise<T>, keep: (value: T) => boolean = () => true) => {
    const seen = known.get(id);
    if (seen) return seen as Promise<T>;
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
  const changing = async <T>(forget: () => void, change: () => Promise<T>): Promise<T> => {
    forget();
    try {
      return await change();
    } finally {
      forget();
    }
  };
  const forget = (id: string) => known.delete(id);
  const forgetUnder = (prefix: string) => {
    for (const id of known.keys()) if (id.startsWith(prefix)) known.delete(id);
  };
  return { remember, changing, forget, forgetUnder };
}

export function makeS3rverLean(app: LeanApp): void {
  const { store } = app;
  /** "<bucket>" → its lookup, "<bucket>/<type>" → its configuration: the reads under way or done. */
  const { remember, changing, forget, forgetUnder } = createMemo();
  const forgetBucket = (bucket: string) => {
    forget(bucket);
    forgetUnder(`${bucket}/`);
  };
  const forgetConfig = (bucket: string, type: string) => forget(`${bucket}/${type}`);

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

/** The object-level calls of s3rver's FilesystemStore this touches. */
export interface ObjectMetadataStore {
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
  putObject(object: { bucket: string; key: string }): Promise<unknown>;
  putObjectMultipart(bucket: string, uploadId: string, parts: unknown): Promise<unknown>;
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

/**
 * Remembers each object's metadata (what getMetadata reads from disk for every GET, HEAD and listed
 * key) until a call changes the object. Apply it after every other wrapper that replaces a write
 * (makePutObjectAtomic), so that its forgetting wraps what really writes.
 */
export function rememberObjectMetadata(store: ObjectMetadataStore): void {
  const { remember, changing, forget, forgetUnder } = createMemo();
  const id = (bucket: string, key: string) => `${bucket}/${key}`;
  const { getMetadata, putObject, putObjectMultipart, copyObject, deleteObject, putBucket, deleteBucket } =
    store;
  store.getMetadata = function (bucket, key) {
    // A copy each time: what a caller does to its answer never reaches the next one.
    return remember(id(bucket, key), () => getMetadata.call(this, bucket, key)).then((metadata) => ({
      ...metadata,
    }));
  };
  store.putObject = function (object) {
    return changing(
      () => forget(id(object.bucket, object.key)),
      () => putObject.call(this, object),
    );
  };
  // The key of a multipart upload is read from disk inside: forget the whole bucket's.
  store.putObjectMultipart = function (bucket, uploadId, parts) {
    return changing(
      () => forgetUnder(`${bucket}/`),
      () => putObjectMultipart.call(this, bucket, uploadId, parts),
    );
  };
  store.copyObject = function (srcBucket, srcKey, destBucket, destKey, ...rest) {
    return changing(
      () => forget(id(destBucket, destKey)),
      () => copyObject.call(this, srcBucket, srcKey, destBucket, destKey, ...rest),
    );
  };
  store.deleteObject = function (bucket, key) {
    return changing(
      () => forget(id(bucket, key)),
      () => deleteObject.call(this, bucket, key),
    );
  };
  store.putBucket = function (bucket) {
    return changing(
      () => forgetUnder(`${bucket}/`),
      () => putBucket.call(this, bucket),
    );
  };
  store.deleteBucket = function (bucket) {
    return changing(
      () => forgetUnder(`${bucket}/`),
      () => deleteBucket.call(this, bucket),
    );
  };
}
