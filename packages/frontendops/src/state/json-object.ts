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
