/**
 * A Pulumi self-managed backend URL (`file://<dir>` or `s3://<bucket>[/prefix]`), read as Pulumi's
 * DIY backend reads it, and said once: the state reader (pulumi-state.ts) opens what this names, the
 * configuration makes its relative directories absolute (config.ts), and an MCP server hides it from
 * its answers (hidden-words.ts). No AWS SDK here: an MCP server reads this before it loads one.
 *
 * As Pulumi does: a `file://` URL's query (`?no_tmp_dir=true`) is no part of its directory; `~` and
 * `~/…` are the home directory; another relative directory is against the working directory (here: the
 * one given). An `s3://` URL's path is the prefix within the bucket, a folder; of its query, region and
 * endpoint are taken and the rest (awssdk, profile, …) says nothing of where the state is.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { FrontendOpsError } from '../errors.ts';

export type BackendLocation =
  | { kind: 'file'; directory: string }
  | { kind: 's3'; bucket: string; prefix: string; region?: string; endpoint?: string };

const FILE = 'file://';
const S3 = 's3://';

/** Whether `url` is meant as a self-managed backend (file:// or s3://), however well it is written. */
export const isStateBackendUrl = (url: string): boolean => url.startsWith(FILE) || url.startsWith(S3);

/** Whether `url` is a file:// URL with something after it, or an s3:// URL with a bucket. */
export const namesStateBackend = (url: string): boolean =>
  /^file:\/\/.+/.test(url) || /^s3:\/\/[^/?]+/.test(url);

/**
 * A stack's configured backend, `env:NAME` read from the environment (as the Pulumi CLI reads
 * PULUMI_BACKEND_URL), so a committed configuration works in CI and on laptops alike.
 */
export function configuredBackend(backend: string, env: NodeJS.ProcessEnv): string {
  if (!backend.startsWith('env:')) return backend;
  const name = backend.slice('env:'.length);
  const value = env[name]?.trim();
  if (!value || !namesStateBackend(value)) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `The stack's backend comes from the environment variable ${name}, which ${value ? 'does not hold a file:// or s3:// URL' : 'is not set'}. ` +
        `Set ${name}, e.g. to s3://<state-bucket> or file://<dir>, where the stack's Pulumi state lives.`,
    );
  }
  return value;
}

/**
 * Where `url` keeps the state: a `file://` directory made absolute against `cwd` (`~` is `home`), or
 * an `s3://` bucket, its prefix (`''` or ending in `/`) and its region and endpoint if given.
 */
export function parseBackendUrl(url: string, cwd: string, home: string = homedir()): BackendLocation {
  if (url.startsWith(FILE)) {
    const { path } = splitFileUrl(url);
    const decoded = unescaped(path, 'A file:// backend URL');
    if (decoded === '')
      throw new FrontendOpsError(
        'BAD_INPUT',
        'A file:// backend URL needs a directory, e.g. file://./state.',
      );
    if (isHomePath(decoded)) return { kind: 'file', directory: join(home, decoded.slice(1)) };
    return { kind: 'file', directory: resolve(cwd, decoded) };
  }
  if (url.startsWith(S3)) {
    const rest = url.slice(S3.length);
    const queryAt = rest.indexOf('?');
    const location = queryAt === -1 ? rest : rest.slice(0, queryAt);
    const slash = location.indexOf('/');
    const bucket = slash === -1 ? location : location.slice(0, slash);
    if (bucket === '')
      throw new FrontendOpsError('BAD_INPUT', 'An s3:// backend URL needs a bucket: s3://<bucket>.');
    const path = unescaped(slash === -1 ? '' : location.slice(slash + 1), 'An s3:// backend URL').replace(
      /^\/+/,
      '',
    );
    const params = new URLSearchParams(queryAt === -1 ? '' : rest.slice(queryAt + 1));
    const region = params.get('region');
    const endpoint = params.get('endpoint');
    return {
      kind: 's3',
      bucket,
      prefix: path === '' || path.endsWith('/') ? path : `${path}/`,
      ...(region ? { region } : {}),
      ...(endpoint ? { endpoint } : {}),
    };
  }
  throw new FrontendOpsError(
    'BAD_INPUT',
    'A Pulumi self-managed backend URL must start with file:// or s3:// (e.g. file://./state or s3://my-state-bucket).',
  );
}

/**
 * `url` with a relative `file://` directory made absolute against `base` (its query kept), as the
 * configuration file says it of its own directory; any other URL as it is.
 */
export function absoluteBackendUrl(url: string, base: string): string {
  if (!url.startsWith(FILE)) return url;
  const { path, query } = splitFileUrl(url);
  if (path === '' || isAbsolute(path) || isHomePath(path)) return url;
  return `${FILE}${resolve(base, path)}${query}`;
}

/** A file:// URL's directory as written (escapes kept) and its query (with its `?`, or ''). */
function splitFileUrl(url: string): { path: string; query: string } {
  const rest = url.slice(FILE.length);
  const queryAt = rest.indexOf('?');
  return queryAt === -1
    ? { path: rest, query: '' }
    : { path: rest.slice(0, queryAt), query: rest.slice(queryAt) };
}

const isHomePath = (path: string) => path === '~' || path.startsWith('~/');

function unescaped(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `${what} has a malformed %-escape: expected % and two hex digits (e.g. %20 for a space). Nothing was read: fix the URL.`,
    );
  }
}
