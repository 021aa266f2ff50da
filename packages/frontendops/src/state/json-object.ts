/**
 * How FrontendOps writes its own JSON objects (state objects, approvals, a build's manifest): pretty
 * printed, as JSON, and never cached, so whoever reads one next reads what was written last.
 */
import type { ObjectStore, WriteCondition } from '../ports.ts';

export const putJsonObject = (
  store: Pick<ObjectStore, 'put'>,
  key: string,
  value: unknown,
  condition?: WriteCondition,
) =>
  store.put(
    key,
    JSON.stringify(value, null, 2),
    { contentType: 'application/json', cacheControl: 'no-cache' },
    condition,
  );

/**
 * Deletes `key` only while it is the version read (`etag`: PRECONDITION_FAILED once another writer put
 * another since), where the store honours conditional writes. Elsewhere, or with no version read, a
 * plain delete, as that store's writes are plain: the deploy lock is all that orders them there.
 */
export async function deleteAsRead(store: ObjectStore, key: string, etag: string | undefined): Promise<void> {
  if (etag && (await store.supportsConditionalWrites())) return store.deleteIf(key, etag);
  return store.delete([key]);
}
