/**
 * Turns the site paths whose cached copy is now wrong into CloudFront invalidation batches. Pure.
 *
 * Input paths are decoded site paths ("/index.html", "/", "/img/a b.png"); a path may end in "*"
 * (CloudFront's wildcard, only allowed as the last character), and one holding "*" before its end
 * (a file's name) is cut after that "*": the wildcard that covers it. Output paths are what a browser
 * sends and the CDN keys its cache on: the URL path percent-encode set (space " # < > ? ` { }),
 * "%" and non-ASCII are percent-encoded.
 *
 * The rule (CloudFront bills every path, a wildcard counts as one path; at most 3,000 paths and 15
 * wildcard paths may be in progress per distribution, so a second batch usually has to wait until
 * the first completes):
 * 1. Deduplicate, and drop every path a wildcard of the input already covers.
 * 2. Directory collapse, bottom-up (deepest directory first): a directory other than the root whose
 *    remaining paths (its files plus what its subdirectories collapsed to) number at least
 *    `collapseThreshold` is replaced by the single path "/dir/*". The root is never collapsed by
 *    this step, because "/*" also drops every immutable hashed asset from the cache.
 * 3. Root collapse: when what remains would still need more than one batch (more than
 *    `maxPathsPerBatch` paths or more than `maxWildcardsPerBatch` wildcards), the plan is the one
 *    path "/*": one invalidation now beats several that queue behind CloudFront's in-progress limits.
 * 4. Otherwise the paths are sorted (code-unit order) and cut into batches in that order, each within
 *    `maxPathsPerBatch` paths and `maxWildcardsPerBatch` wildcards.
 * `collapseThreshold: Infinity` turns steps 2 and 3 off (exact paths only, split into batches).
 */
import { createHash } from 'node:crypto';
import { badInput } from '../errors.ts';

export interface InvalidationLimits {
  /** CloudFront: at most 3,000 paths per invalidation (and in progress). */
  maxPathsPerBatch?: number;
  /** CloudFront: at most 15 wildcard paths in progress. */
  maxWildcardsPerBatch?: number;
  /** Paths under one directory at which "/dir/*" replaces them; Infinity disables collapsing. */
  collapseThreshold?: number;
}

export const CLOUDFRONT_INVALIDATION_LIMITS = {
  maxPathsPerBatch: 3000,
  maxWildcardsPerBatch: 15,
  collapseThreshold: 20,
} as const satisfies Required<InvalidationLimits>;

/** The batches to send, in order; [] when there is nothing to invalidate. Throws BAD_INPUT. */
export function planInvalidationBatches(
  paths: readonly string[],
  limits: InvalidationLimits = {},
): string[][] {
  const { maxPathsPerBatch, maxWildcardsPerBatch, collapseThreshold } = parseLimits(limits);
  if (!Array.isArray(paths)) throw badInput('Invalidation paths must be an array of site paths.');
  const encoded = [...new Set(paths.map(toInvalidationPath))];
  let entries = dropCoveredPaths(encoded);
  if (collapseThreshold !== Number.POSITIVE_INFINITY) {
    entries = collapseDirectories(entries, collapseThreshold);
    const wildcards = entries.filter(isWildcard).length;
    if (entries.length > maxPathsPerBatch || wildcards > maxWildcardsPerBatch) return [['/*']];
  }
  return splitIntoBatches(entries.sort(compareCodeUnits), maxPathsPerBatch, maxWildcardsPerBatch);
}

/**
 * The CallerReference for one batch of a deploy: the deploy id plus a digest of the batch's paths.
 * Re-running the same deploy sends the same batches, so CloudFront returns the invalidations it
 * already created; a batch with other paths gets another reference instead of a conflict.
 */
export function invalidationCallerReference(deployId: string, batch: readonly string[]): string {
  if (typeof deployId !== 'string' || deployId.trim() === '') {
    throw badInput('The deploy id for an invalidation CallerReference is empty; expected the deploy id.');
  }
  const digest = createHash('sha256').update(batch.join('\n')).digest('hex').slice(0, 16);
  return `${deployId}-${digest}`;
}

export const isWildcard = (path: string): boolean => path.endsWith('*');

/** Does the invalidation path `pattern` (exact or ending in "*") cover the request path `path`? */
export const matchesInvalidationPath = (pattern: string, path: string): boolean =>
  isWildcard(pattern) ? path.startsWith(pattern.slice(0, -1)) : path === pattern;

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

function parseLimits(limits: InvalidationLimits): Required<InvalidationLimits> {
  const merged = { ...CLOUDFRONT_INVALIDATION_LIMITS, ...limits };
  for (const name of ['maxPathsPerBatch', 'maxWildcardsPerBatch'] as const) {
    if (!Number.isSafeInteger(merged[name]) || merged[name] < 1) {
      throw badInput(
        `Invalidation limit ${name} is ${String(merged[name])}; expected a whole number of at least 1. ` +
          'Leave it out to use the CloudFront limit.',
      );
    }
  }
  const threshold = merged.collapseThreshold;
  if (threshold !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(threshold) || threshold < 1)) {
    throw badInput(
      `Invalidation collapseThreshold is ${String(threshold)}; expected a whole number of at least 1, ` +
        'or Infinity to never collapse paths into wildcards.',
    );
  }
  return merged;
}

/** C0 controls, DEL and C1 controls. */
const isControlCharacter = (code: number): boolean => code < 0x20 || (code >= 0x7f && code <= 0x9f);
/** Characters a browser percent-encodes in a URL path, plus "%" (input paths are decoded). */
const ENCODED_ASCII = new Set([' ', '"', '#', '<', '>', '?', '`', '{', '}', '%']);

function toInvalidationPath(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw badInput(
      `Invalidation path ${JSON.stringify(path)} is not a site path; expected a string starting with "/" ` +
        '(e.g. "/index.html"). Pass paths relative to the site root.',
    );
  }
  if ([...path].some((char) => isControlCharacter(char.codePointAt(0) ?? 0))) {
    throw badInput(
      `Invalidation path ${JSON.stringify(path)} contains a control character; expected printable ` +
        'characters only. Remove the control character from the path.',
    );
  }
  // A file's name may hold "*" (a build's files are named by whoever can change them), which
  // CloudFront reads as its wildcard and allows only last: such a path is covered by the wildcard
  // ending at its first "*" (more than the file, never less), not refused after the release went live.
  const star = path.indexOf('*');
  const covering = star === -1 ? path : path.slice(0, star + 1);
  let encoded = '';
  for (const char of covering) {
    const ascii = char.length === 1 && char.charCodeAt(0) < 0x80;
    encoded += ascii && !ENCODED_ASCII.has(char) ? char : encodeCharacter(char, path);
  }
  return encoded;
}

function encodeCharacter(char: string, path: string): string {
  try {
    return encodeURIComponent(char);
  } catch {
    throw badInput(
      `Invalidation path ${JSON.stringify(path)} is not valid Unicode (a lone surrogate); expected a ` +
        'well-formed string. Fix the file name.',
    );
  }
}

const prefixOf = (path: string): string => (isWildcard(path) ? path.slice(0, -1) : path);

/**
 * Strings sharing a prefix are contiguous in sorted order, so one pass over the paths sorted by
 * prefix (a wildcard before an exact path with the same prefix) drops everything a wildcard covers.
 */
function dropCoveredPaths(paths: readonly string[]): string[] {
  const sorted = [...paths].sort(
    (a, b) => compareCodeUnits(prefixOf(a), prefixOf(b)) || Number(isWildcard(b)) - Number(isWildcard(a)),
  );
  const kept: string[] = [];
  let cover: string | null = null;
  for (const path of sorted) {
    if (cover !== null && prefixOf(path).startsWith(cover)) continue;
    kept.push(path);
    cover = isWildcard(path) ? prefixOf(path) : null;
  }
  return kept;
}

/** "/a/b/c.js" → "/a/b/", "/a/b/" → "/a/b/", "/a/b*" → "/a/". */
const directoryOf = (path: string): string => {
  const prefix = prefixOf(path);
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
};

const parentOf = (directory: string): string => directoryOf(directory.slice(0, -1));

function collapseDirectories(paths: readonly string[], threshold: number): string[] {
  const inDirectory = new Map<string, string[]>();
  const add = (directory: string, items: readonly string[]) => {
    const list = inDirectory.get(directory);
    if (list) list.push(...items);
    else inDirectory.set(directory, [...items]);
  };
  for (const path of paths) {
    add(directoryOf(path), [path]);
    for (let dir = directoryOf(path); dir !== '/'; dir = parentOf(dir)) add(parentOf(dir), []);
  }
  const depth = (dir: string) => dir.split('/').length;
  const deepestFirst = [...inDirectory.keys()]
    .filter((dir) => dir !== '/')
    .sort((a, b) => depth(b) - depth(a) || compareCodeUnits(a, b));
  for (const dir of deepestFirst) {
    const items = inDirectory.get(dir) ?? [];
    add(parentOf(dir), items.length >= threshold ? [`${dir}*`] : items);
  }
  return inDirectory.get('/') ?? [];
}

function splitIntoBatches(paths: readonly string[], maxPaths: number, maxWildcards: number): string[][] {
  const batches: string[][] = [];
  let batch: string[] = [];
  let wildcards = 0;
  for (const path of paths) {
    const wildcard = isWildcard(path);
    if (batch.length === maxPaths || (wildcard && wildcards === maxWildcards)) {
      batches.push(batch);
      batch = [];
      wildcards = 0;
    }
    batch.push(path);
    if (wildcard) wildcards += 1;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

const compareCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
