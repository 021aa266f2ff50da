/**
 * Cache policy and write-order groups. Content-hashed assets are immutable and never
 * invalidated; HTML and the few files browsers re-check (web manifest, service worker) are no-cache;
 * everything else gets a short max-age.
 */
import type { FileGroup } from './types.ts';

export interface CachePolicy {
  immutable: string;
  noCache: string;
  short: string;
  /** Basenames served no-cache besides *.html. */
  noCacheNames: readonly string[];
}

export const DEFAULT_CACHE_POLICY: CachePolicy = {
  immutable: 'public, max-age=31536000, immutable',
  noCache: 'no-cache',
  short: 'public, max-age=300',
  noCacheNames: ['manifest.webmanifest', 'sw.js', 'service-worker.js', 'registerSW.js'],
};

// Vite / Rollup / webpack name hashed files `name-<hash>.ext` or `name.<hash>.ext` with 8+ base64url or
// hex characters. Under Vite's assets/ directory every such suffix is a hash (a hash of only lower-case
// letters happens about once per thousand files); elsewhere a run of plain lower-case letters
// ("my-component.js") is a word, not a hash.
const HASHED = /[-.]([A-Za-z0-9_-]{8,})\.[A-Za-z0-9]+(?:\.map)?$/;

export function isContentHashed(path: string): boolean {
  const hash = HASHED.exec(basename(path))?.[1];
  if (hash === undefined) return false;
  return path.startsWith('/assets/') || path.startsWith('assets/') || /[0-9A-Z]/.test(hash);
}

export function groupOf(path: string): FileGroup {
  if (path.endsWith('.html')) return 'html';
  return isContentHashed(path) ? 'asset' : 'other';
}

export function cacheControlFor(path: string, policy: CachePolicy = DEFAULT_CACHE_POLICY): string {
  if (path.endsWith('.html') || policy.noCacheNames.includes(basename(path))) return policy.noCache;
  return isContentHashed(path) ? policy.immutable : policy.short;
}

const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1);
