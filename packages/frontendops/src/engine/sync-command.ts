/**
 * The seed stack describes its deploy as one `syncCommand` output
 * (`aws s3 sync s3://SRC s3://DST --delete`). We read it as DATA: it is tokenised and checked against
 * the one command shape we understand, and never handed to a shell or any process (the README's "Secure" promise).
 * Errors name the rule that was broken, never the command text, so no bucket name leaks through them.
 */
import { badInput } from '../errors.ts';

export interface SyncCommand {
  sourceBucket: string;
  /** '' or a key prefix ending in '/', e.g. 'latest/'. */
  sourcePrefix: string;
  destinationBucket: string;
  destinationPrefix: string;
  /** `--delete`: objects missing from the source are removed from the destination. */
  delete: boolean;
  region?: string;
  endpoint?: string;
}

export const SYNC_COMMAND_SHAPE =
  'aws s3 sync s3://<source-bucket>[/prefix] s3://<destination-bucket>[/prefix] [--delete] [--region <region>] ' +
  '[--endpoint-url <http(s) url>] [--exact-timestamps] [--size-only] [--no-progress] [--quiet] [--only-show-errors]';

const AS_DATA =
  'The stack output syncCommand is parsed as data and never executed, so it must be exactly: ' +
  `${SYNC_COMMAND_SHAPE}.`;

/** Flags that change nothing for us: we compare sha256 manifests and print our own progress. */
const IGNORED_FLAGS = new Set([
  '--exact-timestamps',
  '--size-only',
  '--no-progress',
  '--quiet',
  '--only-show-errors',
]);
const VALUE_FLAGS = new Set(['--region', '--endpoint-url']);

/** Why some flags the AWS CLI knows are refused rather than ignored. */
const REFUSED_FLAGS: Record<string, string> = {
  '--cache-control':
    'FrontendOps sets Cache-Control per file by its cache policy; one header for every file would break it',
  '--profile': 'credentials come only from the standard AWS SDK chain, never from the stack',
  '--exclude': 'filters would make the deployed site differ from the built artifact',
  '--include': 'filters would make the deployed site differ from the built artifact',
  '--dryrun': 'use `frontendops deploy --dry-run` instead',
};

/** Parses `text` as an `aws s3 sync` bucket-to-bucket command. Throws BAD_INPUT for anything else. */
export function parseSyncCommand(text: string): SyncCommand {
  if (typeof text !== 'string' || text.trim() === '') throw badInput(`syncCommand is empty. ${AS_DATA}`);
  if (text.length > 2048) throw badInput(`syncCommand is longer than 2048 characters. ${AS_DATA}`);
  refuseUnsafeCharacters(text);
  const tokens = text.trim().split(/[ \t]+/);
  if (tokens[0] !== 'aws' || tokens[1] !== 's3' || tokens[2] !== 'sync') {
    throw badInput(`syncCommand does not start with "aws s3 sync". ${AS_DATA}`);
  }
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 3; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (!token.startsWith('-')) {
      positional.push(token);
      continue;
    }
    const [name, inline] = splitFlag(token);
    if (flags.has(name)) throw badInput(`syncCommand repeats the flag ${name}. ${AS_DATA}`);
    if (VALUE_FLAGS.has(name)) {
      const value = inline ?? tokens[++i];
      if (value === undefined || value.startsWith('-'))
        throw badInput(`syncCommand flag ${name} has no value. ${AS_DATA}`);
      flags.set(name, value);
    } else if (name === '--delete' || IGNORED_FLAGS.has(name)) {
      if (inline !== undefined) throw badInput(`syncCommand flag ${name} takes no value. ${AS_DATA}`);
      flags.set(name, true);
    } else {
      const why = REFUSED_FLAGS[name];
      throw badInput(`syncCommand flag ${name} is not supported${why ? `: ${why}` : ''}. ${AS_DATA}`);
    }
  }
  if (positional.length !== 2) {
    throw badInput(
      `syncCommand needs exactly a source and a destination, found ${positional.length}. ${AS_DATA}`,
    );
  }
  const source = parseS3Uri(positional[0] as string, 'source');
  const destination = parseS3Uri(positional[1] as string, 'destination');
  const command: SyncCommand = {
    sourceBucket: source.bucket,
    sourcePrefix: source.prefix,
    destinationBucket: destination.bucket,
    destinationPrefix: destination.prefix,
    delete: flags.has('--delete'),
  };
  const region = flags.get('--region');
  if (typeof region === 'string') command.region = checkRegion(region, 'syncCommand --region');
  const endpoint = flags.get('--endpoint-url');
  if (typeof endpoint === 'string') command.endpoint = checkEndpoint(endpoint, 'syncCommand --endpoint-url');
  return command;
}

/**
 * Why `name` is not a valid S3 general purpose bucket name (AWS "Bucket naming rules"), or undefined when
 * it is valid. Only ever says which rule failed, never echoes the name.
 */
export function explainBucketName(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may contain only lowercase letters, digits, dots and hyphens';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a letter or digit';
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'must not be formatted as an IP address';
  for (const prefix of ['xn--', 'sthree-', 'amzn-s3-demo-']) {
    if (name.startsWith(prefix)) return `must not start with the reserved prefix ${prefix}`;
  }
  for (const suffix of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) {
    if (name.endsWith(suffix)) return `must not end with the reserved suffix ${suffix}`;
  }
  return undefined;
}

/** An AWS region code such as us-east-1 or us-gov-west-1. */
export function checkRegion(region: string, what: string): string {
  if (!/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region)) {
    throw badInput(`${what} is not an AWS region code; expected something like us-east-1.`);
  }
  return region;
}

/** An http(s) endpoint without credentials, query or fragment; returned without a trailing slash. */
export function checkEndpoint(endpoint: string, what: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw badInput(
      `${what} is not a URL; expected an http(s) URL such as https://s3.us-east-1.amazonaws.com.`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw badInput(`${what} must be an http or https URL.`);
  if (url.username || url.password) {
    throw badInput(`${what} must not carry credentials; they come only from the standard AWS SDK chain.`);
  }
  if (url.search || url.hash) throw badInput(`${what} must not have a query string or fragment.`);
  return url.href.replace(/\/$/, '');
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

/**
 * Everything a shell would interpret is refused outright, even where it would be harmless to us: the
 * command is data, and data that only makes sense to a shell is a sign of tampering.
 */
function refuseUnsafeCharacters(text: string): void {
  const match = /[^A-Za-z0-9 \t._\-/:=,+@]/.exec(text);
  if (!match) return;
  const char = match[0];
  const named: Record<string, string> = {
    '\n': 'a newline',
    '\r': 'a carriage return',
    '\0': 'a NUL byte',
  };
  const shown =
    named[char] ??
    (/[\x21-\x7e]/.test(char) ? `'${char}'` : `U+${char.codePointAt(0)?.toString(16).padStart(4, '0')}`);
  throw badInput(
    `syncCommand contains ${shown} at position ${match.index + 1}, which a shell would interpret ` +
      `(command separators, pipes, redirections, substitutions, quotes and escapes are all refused). ${AS_DATA}`,
  );
}

function splitFlag(token: string): [string, string | undefined] {
  const eq = token.indexOf('=');
  return eq === -1 ? [token, undefined] : [token.slice(0, eq), token.slice(eq + 1)];
}

function parseS3Uri(text: string, role: 'source' | 'destination'): { bucket: string; prefix: string } {
  if (!text.startsWith('s3://')) {
    throw badInput(
      `syncCommand ${role} is not an s3:// URI; FrontendOps copies bucket to bucket. ${AS_DATA}`,
    );
  }
  const rest = text.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const why = explainBucketName(bucket);
  if (why) throw badInput(`syncCommand ${role} bucket name is invalid: a bucket name ${why}.`);
  const rawPrefix = slash === -1 ? '' : rest.slice(slash + 1);
  const segments = rawPrefix.split('/');
  if (
    rawPrefix.startsWith('/') ||
    rawPrefix.includes('//') ||
    segments.some((s) => s === '.' || s === '..')
  ) {
    throw badInput(`syncCommand ${role} prefix has an empty, '.' or '..' path segment.`);
  }
  const prefix = rawPrefix === '' ? '' : rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
  return { bucket, prefix };
}
