/**
 * Names and ids, defined once. Deploy ids are deterministic: the same deploy, interrupted and run
 * again, gets the same id, so its CloudFront CallerReferences match and nothing is done twice.
 */
import { createHash } from 'node:crypto';
import { badInput } from '../errors.ts';
import { isCanaryEvent } from './canary-event.ts';
import { clip, escapeControlCharacters } from './text.ts';

export interface DeployIdInput {
  stack: string;
  app: string;
  commit: string;
  artifactDigest: string;
  /** The deployment live when this one was planned; a redeploy after it differs. */
  fromDeployId: string | null;
}

export function deployIdFor(input: DeployIdInput): string {
  const hash = createHash('sha256')
    .update(
      [input.stack, input.app, input.commit, input.artifactDigest, input.fromDeployId ?? '-'].join('\n'),
    )
    .digest('hex');
  return `${input.commit.slice(0, 7)}-${hash.slice(0, 10)}`;
}

/**
 * The id of a canary start's or abort's history row: deterministic (the operation finished again
 * after a stop gets its row again, not a second one), of a deploy id's shape so the history index
 * and `audit verify` read it as they read any record's, and NOT starting with the commit's 7 hex: a
 * canary row is no deployment of that commit (it never went live for everyone), so the readers that
 * find a commit's deployments by that prefix (recordsOf, releasesSince) never take it for one (but
 * by chance: recordsOf leaves canary rows out besides).
 *
 * Made from the operation's crash-recovery record (atomic/pending.json: its op, its start, and its
 * plan's stack, app, commit, build and deploy id, the one the canary gets when promoted), as the
 * operation holds it or as read back by `audit verify` (any field may then be missing or of another
 * type): null when that record is of no canary start or abort.
 */
export function canaryRowId(pending: unknown): string | null {
  const field = (value: unknown, name: string): unknown =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
  const op = field(pending, 'op');
  const plan = field(pending, 'plan');
  const parts = [
    field(plan, 'stack'),
    field(plan, 'app'),
    field(plan, 'commit'),
    field(plan, 'artifactDigest'),
    field(plan, 'deployId'),
    field(pending, 'startedAt'),
  ];
  if (!isCanaryEvent(op) || !parts.every((part) => typeof part === 'string')) return null;
  const hash = createHash('sha256')
    .update(['canary-event', op, ...parts].join('\n'))
    .digest('hex');
  return `${hash.slice(0, 7)}-${hash.slice(7, 17)}`;
}

/** `<7 hex of the commit>-<10 hex>`, as deployIdFor makes them. */
export const DEPLOY_ID = /^[0-9a-f]{7}-[0-9a-f]{10}$/;

/**
 * `value`, checked to be a deploy id before anything reads or writes by it: anything else (a path, a
 * NUL, 3,000 characters) is refused in words (BAD_INPUT, then `todo`), never sent on as an object key.
 */
export function checkDeployId(value: string, todo: string): string {
  if (DEPLOY_ID.test(value)) return value;
  const shown = escapeControlCharacters(value.length > 80 ? `${clip(value, 80)}…` : value);
  throw badInput(
    `"${shown}" is not a deploy id: expected 7 hex digits, "-", 10 hex digits (e.g. 3f2c1a9-0123456789). ${todo}`,
  );
}
/** A commit sha (SHA-1 or SHA-256 git) or its abbreviation of at least 7 hex digits, lower-case. */
export const COMMIT_REF = /^[0-9a-f]{7,64}$/;
/** A full commit sha, as git prints it. */
export const FULL_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
export const APP_NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/;
/** Stack names: letters, digits, "-", "_", "."; never a path. */
export const STACK_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;
/** STACK_NAME in words, as every refusal of a stack name says it. */
export const STACK_NAME_RULE = 'letters, digits, -, _ and ., not starting with .';
export const ARTIFACT_DIGEST = /^sha256:[0-9a-f]{64}$/;
/** An approver's public key as the configuration lists it: Ed25519, the 32 raw bytes in base64url. */
export const APPROVER_PUBLIC_KEY = /^ed25519:[A-Za-z0-9_-]{43}$/;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/**
 * An approver public key written the one way base64url writes its 32 bytes: the last of its 43
 * characters carries 2 bits no byte holds, which decoding drops, so four texts name one key. Listed
 * in another, one person's key would pass for another approver's, with a fingerprint of its own.
 */
export const canonicalPublicKey = (key: string): string => {
  const last = BASE64URL.indexOf(key.slice(-1));
  return last < 0 ? key : `${key.slice(0, -1)}${BASE64URL[last & ~3]}`;
};
/** A person's name in the approvers list. */
export const APPROVER_NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._@'-]{0,63}$/u;

/** The 7-character form every screen shows. */
export const shortSha = (commit: string): string => commit.slice(0, 7);
