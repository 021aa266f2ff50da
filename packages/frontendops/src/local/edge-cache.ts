/**
 * The local edge's cache: how long a response may be reused (from Cache-Control, the way a
 * CloudFront cache policy reads it) and the entries themselves, purged by invalidation paths.
 */
import { matchesInvalidationPath } from '../engine/invalidation.ts';

export interface TtlPolicy {
  /** CloudFront MinTTL: a floor under max-age / s-maxage. */
  minTtlSeconds: number;
  /** CloudFront DefaultTTL: used when the origin sends no max-age / s-maxage. */
  defaultTtlSeconds: number;
  /** CloudFront MaxTTL: a ceiling. */
  maxTtlSeconds: number;
}

/**
 * Seconds a response may be served from cache; 0 means never reused. s-maxage wins over max-age
 * (it is meant for shared caches such as a CDN). no-store, no-cache and private are never reused:
 * HTML is published with no-cache, so the edge always fetches it fresh (as CloudFront does with a
 * MinTTL of 0).
 */
export function cacheTtlSeconds(cacheControl: string | undefined, policy: TtlPolicy): number {
  const directives = new Map<string, string | undefined>();
  for (const part of (cacheControl ?? '').split(',')) {
    const [name, value] = part.split('=', 2).map((s) => s.trim());
    if (name) directives.set(name.toLowerCase(), value?.replace(/^"|"$/g, ''));
  }
  if (['no-store', 'no-cache', 'private'].some((name) => directives.has(name))) return 0;
  const seconds = (name: string) => {
    const value = Number(directives.get(name));
    return directives.has(name) && Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  };
  const ttl = seconds('s-maxage') ?? seconds('max-age') ?? policy.defaultTtlSeconds;
  return Math.min(Math.max(ttl, policy.minTtlSeconds), policy.maxTtlSeconds);
}

export interface CachedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  etag: string | undefined;
  storedAt: number;
  expiresAt: number;
}

export interface EdgeCache {
  /** The fresh entry for a key, or null (an expired entry is dropped). */
  get(key: string): CachedResponse | null;
  set(key: string, response: CachedResponse): void;
  /** Drops the entries an invalidation path (exact or ending in "*") names; returns how many. */
  purge(paths: readonly string[]): number;
  keys(): string[];
}

export function createEdgeCache(now: () => number): EdgeCache {
  const entries = new Map<string, CachedResponse>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return null;
      if (now() < entry.expiresAt) return entry;
      entries.delete(key);
      return null;
    },
    set(key, response) {
      entries.set(key, response);
    },
    purge(paths) {
      let purged = 0;
      for (const key of [...entries.keys()]) {
        if (paths.some((path) => matchesInvalidationPath(path, key))) {
          entries.delete(key);
          purged += 1;
        }
      }
      return purged;
    },
    keys: () => [...entries.keys()].sort(),
  };
}
