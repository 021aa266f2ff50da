/**
 * Turns a stack's outputs into the deploy target. Pure. Error messages name outputs and rules, never
 * output values: they may reach the agent, which must not learn bucket names or secrets (the README's "Secure" promise).
 */
import { badInput } from '../errors.ts';
import type { StackOutputs } from '../ports.ts';
import { MAX_KEY_BYTES, MAX_STATE_KEY_SUFFIX_BYTES } from './manifest.ts';
import { checkEndpoint, checkRegion, explainBucketName, parseSyncCommand } from './sync-command.ts';
import type { DeployTarget } from './types.ts';

/** Every output name the target is built from. */
export const TARGET_OUTPUT_NAMES = [
  'artifactsBucket',
  'hostingBucket',
  'stateBucket',
  'statePrefix',
  'distributionId',
  'region',
  'endpoint',
  'siteUrl',
  'syncCommand',
  'releaseStoreArn',
] as const;

export const DEFAULT_REGION = 'us-east-1';

const RELEASE_STORE_ARN = /^arn:aws[\w-]*:cloudfront::\d{12}:key-value-store\/[\w-]+$/;

const EXPECTED =
  'Expected the stack outputs artifactsBucket and hostingBucket (optional: stateBucket, statePrefix, ' +
  'distributionId, region, endpoint, siteUrl, releaseStoreArn), or a single syncCommand output ' +
  '"aws s3 sync s3://<artifacts> s3://<hosting> [--delete]".';

export const defaultStatePrefix = (stack: string) => `.frontendops/state/${stack}/`;

export function resolveDeployTarget(stack: StackOutputs): DeployTarget {
  const secret = TARGET_OUTPUT_NAMES.filter((name) => stack.secretNames.includes(name));
  if (secret.length > 0) {
    throw badInput(
      `Stack ${stack.stack}: the output(s) ${secret.join(', ')} are secret, and FrontendOps never decrypts ` +
        'secret outputs. Export them as plain outputs (they name resources, not credentials), or remove ' +
        `the secret wrapper in the stack program. ${EXPECTED}`,
    );
  }
  const read = (name: (typeof TARGET_OUTPUT_NAMES)[number]) => readString(stack, name);
  const artifacts = read('artifactsBucket');
  const hosting = read('hostingBucket');
  const syncText = read('syncCommand');

  let base: Pick<DeployTarget, 'artifactsBucket' | 'hostingBucket' | 'prune'> & {
    region?: string;
    endpoint?: string;
  };
  if (artifacts !== undefined || hosting !== undefined) {
    const missing = [
      artifacts === undefined && 'artifactsBucket',
      hosting === undefined && 'hostingBucket',
    ].filter(Boolean);
    if (missing.length > 0)
      throw badInput(`Stack ${stack.stack} is missing the output ${missing.join(', ')}. ${EXPECTED}`);
    base = { artifactsBucket: artifacts as string, hostingBucket: hosting as string, prune: true };
  } else if (syncText !== undefined) {
    const sync = parseSyncCommand(syncText);
    if (sync.destinationPrefix !== '') {
      throw badInput(
        `Stack ${stack.stack}: the syncCommand destination has a key prefix, but the site is served from the ` +
          'root of the hosting bucket. Point the destination at the bucket itself (s3://<hosting>).',
      );
    }
    // The source prefix (the seed's "latest/") is ignored: artifacts live at <app>/<commit>/ by design.
    base = { artifactsBucket: sync.sourceBucket, hostingBucket: sync.destinationBucket, prune: sync.delete };
    if (sync.region) base.region = sync.region;
    if (sync.endpoint) base.endpoint = sync.endpoint;
  } else {
    const present = Object.keys(stack.outputs);
    throw badInput(
      `Stack ${stack.stack} (${stack.source}) names no deploy target: it has no artifactsBucket, hostingBucket ` +
        `or syncCommand output (outputs present: ${present.length ? present.join(', ') : 'none'}). ${EXPECTED}`,
    );
  }
  checkBucket(stack, 'artifactsBucket', base.artifactsBucket);
  checkBucket(stack, 'hostingBucket', base.hostingBucket);
  if (base.artifactsBucket === base.hostingBucket) {
    throw badInput(
      `Stack ${stack.stack}: the artifacts bucket and the hosting bucket are the same bucket; they must differ, ` +
        'or a deploy could prune its own artifacts.',
    );
  }
  const stateBucket = read('stateBucket') ?? base.artifactsBucket;
  checkBucket(stack, 'stateBucket', stateBucket);
  if (stateBucket === base.hostingBucket) {
    throw badInput(
      `Stack ${stack.stack}: the state bucket is the hosting bucket; they must differ, or the site could serve its ` +
        'own history (records, audit entries, approvals) to any visitor. Set the stateBucket output to another bucket, ' +
        'or leave it out to keep the state in the artifacts bucket.',
    );
  }

  const region = read('region') ?? base.region ?? DEFAULT_REGION;
  const endpoint = read('endpoint') ?? base.endpoint;
  const distributionId = read('distributionId');
  const siteUrl = read('siteUrl');
  const target: DeployTarget = {
    stack: stack.stack,
    artifactsBucket: base.artifactsBucket,
    hostingBucket: base.hostingBucket,
    stateBucket,
    statePrefix: normalisePrefix(stack, read('statePrefix') ?? defaultStatePrefix(stack.stack)),
    region: checkRegion(region, `Stack ${stack.stack} output region`),
    prune: base.prune,
  };
  if (endpoint !== undefined)
    target.endpoint = checkEndpoint(endpoint, `Stack ${stack.stack} output endpoint`);
  if (distributionId !== undefined) {
    // CloudFront ids are upper-case letters and digits (E2QWRUHAPOMQZL); a local edge may name itself more
    // freely. Either way the id ends up in an API path, so path and shell characters are refused.
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(distributionId)) {
      throw badInput(
        `Stack ${stack.stack} output distributionId is not a distribution id (letters, digits, '-', '_'; ` +
          'e.g. E2QWRUHAPOMQZL).',
      );
    }
    target.distributionId = distributionId;
  }
  if (siteUrl !== undefined) target.siteUrl = checkSiteUrl(stack, siteUrl);
  // Atomic releases need buckets the tool manages: a stack that gives only a sync command stays in-place.
  const releaseStoreArn = read('releaseStoreArn');
  if (releaseStoreArn !== undefined && (artifacts !== undefined || hosting !== undefined)) {
    if (!RELEASE_STORE_ARN.test(releaseStoreArn)) {
      throw badInput(
        `Stack ${stack.stack} output releaseStoreArn is not a CloudFront KeyValueStore ARN ` +
          '(arn:aws:cloudfront::<account>:key-value-store/<id>).',
      );
    }
    target.releaseStoreArn = releaseStoreArn;
  }
  return target;
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

function readString(stack: StackOutputs, name: string): string | undefined {
  const value = stack.outputs[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw badInput(`Stack ${stack.stack} output ${name} must be a non-empty string. ${EXPECTED}`);
  }
  return value.trim();
}

function checkBucket(stack: StackOutputs, output: string, name: string): void {
  const why = explainBucketName(name);
  if (why)
    throw badInput(`Stack ${stack.stack}: ${output} is not a valid S3 bucket name: a bucket name ${why}.`);
}

/**
 * Why a state prefix cannot be used, or null: what the stack's outputs give and what the Pulumi program
 * accepts as its configuration are held to this one rule.
 */
export function statePrefixProblem(prefix: string): string | null {
  const segments = prefix.replace(/\/$/, '').split('/');
  if (
    prefix.startsWith('/') ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    !/^[A-Za-z0-9._\-/]+$/.test(prefix)
  ) {
    return "must be a relative key prefix of letters, digits, '.', '_', '-' and '/', without empty, '.' or '..' segments, e.g. .frontendops/state/prod/";
  }
  const bytes = Buffer.byteLength(prefix.endsWith('/') ? prefix : `${prefix}/`, 'utf8');
  if (bytes + MAX_STATE_KEY_SUFFIX_BYTES > MAX_KEY_BYTES) {
    return (
      `is ${bytes} bytes; the keys FrontendOps keeps under it add up to ${MAX_STATE_KEY_SUFFIX_BYTES} more, and S3 allows ` +
      `${MAX_KEY_BYTES.toLocaleString('en')} per key, so it may be at most ${MAX_KEY_BYTES - MAX_STATE_KEY_SUFFIX_BYTES} bytes. ` +
      'Use a shorter prefix, e.g. .frontendops/state/prod/'
    );
  }
  return null;
}

function normalisePrefix(stack: StackOutputs, prefix: string): string {
  const problem = statePrefixProblem(prefix);
  if (problem) throw badInput(`Stack ${stack.stack} output statePrefix ${problem}.`);
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function checkSiteUrl(stack: StackOutputs, siteUrl: string): string {
  let url: URL;
  try {
    url = new URL(siteUrl);
  } catch {
    throw badInput(
      `Stack ${stack.stack} output siteUrl is not a URL; expected e.g. https://dashboard.example.com.`,
    );
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) {
    throw badInput(`Stack ${stack.stack} output siteUrl must be an http(s) URL without credentials.`);
  }
  return url.href;
}
