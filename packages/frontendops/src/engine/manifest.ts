/** Manifest rules: site paths, object keys, the artifact digest. Pure. */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Manifest } from './types.ts';

/** S3's limit on key length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Object key of a site path in the hosting bucket: "/assets/a.js" → "assets/a.js". */
export const keyOf = (sitePath: string) => sitePath.slice(1);
export const sitePathOf = (key: string) => `/${key}`;

/** Where an artifact lives in the artifacts bucket. */
export const artifactPrefix = (app: string, commit: string) => `${app}/${commit}/`;
export const artifactManifestKey = (app: string, commit: string) =>
  `${artifactPrefix(app, commit)}manifest.json`;
export const artifactFileKey = (app: string, commit: string, sitePath: string) =>
  `${artifactPrefix(app, commit)}files/${keyOf(sitePath)}`;

/**
 * The digest names the content, not the upload: app, commit and every file's sha256, size and
 * headers. Publishing the same build again yields the same digest; createdAt does not count.
 */
export function artifactDigest(manifest: Pick<Manifest, 'app' | 'commit' | 'files'>): string {
  const canonical = canonicalize({ app: manifest.app, commit: manifest.commit, files: manifest.files }) ?? '';
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

/** Why a site path may not become an object key, or null when it may. */
export function sitePathProblem(sitePath: string): string | null {
  if (!sitePath.startsWith('/')) return 'it does not start with "/"';
  const segments = sitePath.slice(1).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    return 'it has an empty, "." or ".." segment';
  if ([...sitePath].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f' || c === '\\')) {
    return 'it contains a control character or a backslash';
  }
  if (Buffer.byteLength(keyOf(sitePath), 'utf8') > MAX_KEY_BYTES) {
    return `its key is longer than S3's ${MAX_KEY_BYTES}-byte limit`;
  }
  return null;
}
