/** Manifest rules: site paths, object keys, the artifact digest. Pure. */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Manifest } from './types.ts';

/** S3's limit on key length, in UTF-8 bytes (not characters: "é" is two bytes, "€" three). */
export const MAX_KEY_BYTES = 1024;

/**
 * The most FrontendOps appends to a state prefix: a lock, `locks/<name of at most 100 bytes>.json`
 * (see lockFileName); history, deployment, approval and audit keys are shorter.
 */
export const MAX_STATE_KEY_SUFFIX_BYTES = 111;

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

/**
 * FrontendOps' own objects in a hosting bucket: never pruned, and never served (the edge answers 404
 * below it; infra's bucket policy denies CloudFront reading it).
 */
export const HOSTING_OWN = '.frontendops/';
/** Where an atomic release's non-asset files live: `_releases/<id>/<path>` (the function's RELEASES layout). */
export const RELEASES_KEY_PREFIX = '_releases/';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Why a parsed manifest.json is not one publish writes (an object naming its app and commit, with an
 * object of file entries, each a SHA-256, a size and the two headers), or null when it is. What the
 * artifacts bucket holds is anyone's who can create builds there: nothing past this is read from it
 * unchecked.
 */
export function manifestProblem(value: unknown): string | null {
  if (!isObject(value)) return 'it is not a JSON object';
  if (typeof value.app !== 'string' || typeof value.commit !== 'string')
    return 'its "app" or "commit" is not text';
  const files = value.files;
  if (!isObject(files)) return 'its "files" is not an object of files';
  for (const [path, entry] of Object.entries(files)) {
    const ok =
      isObject(entry) &&
      typeof entry.sha256 === 'string' &&
      SHA256_HEX.test(entry.sha256) &&
      Number.isSafeInteger(entry.size) &&
      (entry.size as number) >= 0 &&
      typeof entry.contentType === 'string' &&
      typeof entry.cacheControl === 'string';
    if (!ok)
      return `the entry of ${shortened(path)} is not a file's (sha256: 64 hex digits, size: a whole number of bytes, contentType and cacheControl: text)`;
  }
  return null;
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
  // A build's file at these keys would overwrite what FrontendOps keeps there: the environment
  // marker (a stack's protection), or another atomic release's files.
  const key = keyOf(sitePath);
  if (key.startsWith(HOSTING_OWN))
    return `it is under /${HOSTING_OWN}, where FrontendOps keeps its own objects in the hosting bucket (the environment marker)`;
  if (key.startsWith(RELEASES_KEY_PREFIX))
    return `it is under /${RELEASES_KEY_PREFIX}, where an atomic stack keeps its releases' files`;
  const tooLong = keyBytesProblem(key);
  return tooLong && `its key would be ${tooLong}`;
}

/** Why a site path cannot be published as app@commit: its key in the artifacts bucket is too long. */
export function artifactKeyProblem(app: string, commit: string, sitePath: string): string | null {
  const tooLong = keyBytesProblem(artifactFileKey(app, commit, sitePath));
  return (
    tooLong && `its key in the artifacts bucket (${artifactPrefix(app, commit)}files/…) would be ${tooLong}`
  );
}

/** How a key overshoots S3's limit, in words and numbers; null when it fits. */
export function keyBytesProblem(key: string): string | null {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes <= MAX_KEY_BYTES) return null;
  return (
    `${bytes.toLocaleString('en')} bytes in UTF-8 (${[...key].length} characters; one that is not ASCII takes 2 to 4 bytes), ` +
    `over S3's ${MAX_KEY_BYTES.toLocaleString('en')}-byte key limit by ${bytes - MAX_KEY_BYTES}`
  );
}

/** A long path or key, shortened for a message. */
export const shortened = (text: string, max = 80) =>
  [...text].length > max ? `${[...text].slice(0, max).join('')}…` : text;
