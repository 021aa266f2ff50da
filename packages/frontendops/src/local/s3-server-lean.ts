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
 *
 * What a write changes reaches both memos through s3-server-writes.ts, the one list of writing calls.
 */
import type { WriteTarget, WriteWatcher } from './s3-server-writes.ts';

/** The parts of s3rver's FilesystemStore this touches. */
export interface LeanStore {
  getBucket(bucket: string): Promise<unknown>;
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

/** Lightens `app`; the returned watcher forgets a bucket's lookup and configurations when it is created or deleted. */
export function makeS3rverLean(app: LeanApp): WriteWatcher {
  const { store } = app;
  /** "<bucket>" → its lookup, "<bucket>/<type>" → its configuration: the reads under way or done. */
  const { remember, changing, forget, forgetUnder } = createMemo();
  const forgetBucket = (bucket: string) => {
    forget(bucket);
    forgetUnder(`${bucket}/`);
  };
  const forgetConfig = (bucket: string, type: string) => forget(`${bucket}/${type}`);

  const { getBucket, getSubresource, putSubresource, deleteSubresource } = store;
  store.getBucket = function (bucket) {
    return remember(bucket, () => getBucket.call(this, bucket), Boolean);
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

  // Object writes change neither a bucket's existence nor its configurations.
  const onBucketWrite = ({ bucket, key }: WriteTarget) => {
    if (key === undefined) forgetBucket(bucket);
  };
  return { begin: onBucketWrite, end: onBucketWrite };
}

/** The call of s3rver's FilesystemStore this remembers. */
export interface ObjectMetadataStore {
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
}

/**
 * Remembers each object's metadata (what getMetadata reads from disk for every GET, HEAD and listed
 * key); the returned watcher forgets an object's when it is written, and a bucket's when it goes.
 */
export function rememberObjectMetadata(store: ObjectMetadataStore): WriteWatcher {
  const { remember, forget, forgetUnder } = createMemo();
  const id = (bucket: string, key: string) => `${bucket}/${key}`;
  const { getMetadata } = store;
  store.getMetadata = function (bucket, key) {
    // A copy each time: what a caller does to its answer never reaches the next one.
    return remember(id(bucket, key), () => getMetadata.call(this, bucket, key)).then((metadata) => ({
      ...metadata,
    }));
  };
  const onWrite = ({ bucket, key }: WriteTarget) => {
    if (key === undefined) forgetUnder(`${bucket}/`);
    else forget(id(bucket, key));
  };
  return { begin: onWrite, end: onWrite };
}
