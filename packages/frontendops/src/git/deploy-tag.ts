/**
 * Deploy tags: one annotated tag per deployment, named `dashboard-deploy-YYYYMMDD-N`, whose message
 * carries a trailer block (Deploy-Id, Artifact-Digest, Commit, App, Stack, Audit-Head, Request) that
 * `listDeployTags` parses back. Stack and Audit-Head anchor that stack's audit chain in git. The deploy id makes creation idempotent: asking twice returns the first tag.
 */
import { AUDIT_HEAD_TEXT, type AuditHead, formatAuditHead } from '../contract/audit-head.ts';
import {
  ARTIFACT_DIGEST,
  checkDeployId,
  DEPLOY_ID,
  FULL_COMMIT,
  STACK_NAME,
  STACK_NAME_RULE,
} from '../engine/ids.ts';
import { clip, hasControlCharacters, WORDS_MAX } from '../engine/text.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { type HiddenTarget, targetHidden } from '../hidden-words.ts';
import type { GitHost, TagInfo } from '../ports.ts';
import { assertCommitSha } from './validate.ts';

export const DEPLOY_TAG_PREFIX = 'dashboard-deploy-';
const TAG_NAME = /^dashboard-deploy-(\d{8})-(\d+)$/;
// A tag's name, or a folder of tags ("<name>/x"): git can make no tag where one exists below it. In
// any case: on a case-insensitive file system (macOS's) "DASHBOARD-DEPLOY-…" is the same ref file.
const NAME_TAKEN = /^dashboard-deploy-(\d{8})-(\d+)(?:$|\/)/iu;
// Losing the race for a name this many times in a row means something else is wrong.
const MAX_ATTEMPTS = 5;
// More deploys than any day has: a number past it was pushed by someone, and is not counted from.
const DAY_NUMBERS_MAX = 99_999;

export interface DeployTagInput {
  deployId: string;
  sha: string;
  artifactDigest: string;
  /** The words of the request that started the deploy ("Deploy the latest dashboard"). */
  request: string;
  /** "<seq>:<hash>" of the audit chain after the deploy: git anchors it outside the state bucket. */
  auditHead?: string;
  /** The stack deployed to: whose audit chain the Audit-Head belongs to. */
  stack?: string;
  app?: string;
  /**
   * A rollback: the commit that was live before it (the one it took down), null when none was. Its
   * tag says so, as `history` does, rather than "Deploy".
   */
  rollback?: { from: string | null };
  now?: Date;
}

export type DeployTag = TagInfo & {
  deployId?: string;
  artifactDigest?: string;
  auditHead?: string;
  stack?: string;
};

export async function createDeployTag(
  host: GitHost,
  input: DeployTagInput,
): Promise<TagInfo & { created: boolean }> {
  checkInput(input);
  const day = formatDay(input.now ?? new Date());
  // Names the host said were taken: skipped whether or not the next listing shows what holds them
  // (a lock file git left, a name another case of which the file system holds).
  const refused: string[] = [];
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const listed = await host.listTags(DEPLOY_TAG_PREFIX);
    const tags = deployTagsOf(listed);
    // This deployment's tag says what it made live: a tag pushed ahead with its deploy id and any
    // other build, stack or audit head is not it (nor is one moved: listDeployTags), and the true
    // one is made beside it. Its request words are not compared: they are words, not the record.
    const existing = tags.find((t) => t.deployId === input.deployId && recordsSame(t, input));
    if (existing) return { ...withoutTrailers(existing), created: false };
    const name = `${DEPLOY_TAG_PREFIX}${day}-${nextNumber([...listed.map((t) => t.name), ...refused], day)}`;
    try {
      const tag = await host.createTag({ name, sha: input.sha, message: formatDeployMessage(input) });
      return { ...tag, created: true };
    } catch (error) {
      // Another deploy took this name between our list and our create: look again and take the next.
      if (!isFrontendOpsError(error, 'CONFLICT')) throw error;
      refused.push(name);
    }
  }
  throw new FrontendOpsError(
    'CONFLICT',
    `Could not find a free deploy tag name for ${day} after ${MAX_ATTEMPTS} attempts; other deploys keep ` +
      'taking the next number. Try again in a moment.',
  );
}

export async function listDeployTags(host: GitHost): Promise<DeployTag[]> {
  return deployTagsOf(await host.listTags(DEPLOY_TAG_PREFIX));
}

function deployTagsOf(tags: readonly TagInfo[]): DeployTag[] {
  return tags
    .filter((t) => TAG_NAME.test(t.name))
    .map((t) => {
      const trailers = parseTrailers(t.message);
      // Anyone who can push can move a tag, or push one with any message. What a tag says of a
      // deployment counts only where that deployment was: on the commit its Commit trailer names in
      // full, which its deploy id begins with (as createDeployTag makes them). A few digits name no
      // one commit: a pusher grinds one of their own that begins with them. Moved, or of another
      // commit, it is a tag and no more: named beside no deployment, no audit anchor (its name
      // still counts when the next tag is numbered).
      const deployId = trailers['Deploy-Id'];
      const placed =
        deployId !== undefined &&
        DEPLOY_ID.test(deployId) &&
        trailers.Commit !== undefined &&
        FULL_COMMIT.test(trailers.Commit) &&
        t.sha === trailers.Commit &&
        t.sha.startsWith(deployId.slice(0, 7));
      if (!placed) return { ...t };
      return {
        ...t,
        ...(trailers['Deploy-Id'] ? { deployId: trailers['Deploy-Id'] } : {}),
        ...(trailers['Artifact-Digest'] ? { artifactDigest: trailers['Artifact-Digest'] } : {}),
        ...(trailers['Audit-Head'] ? { auditHead: trailers['Audit-Head'] } : {}),
        ...(trailers.Stack ? { stack: trailers.Stack } : {}),
      };
    })
    .sort((a, b) => compareNames(b.name, a.name));
}

/** The annotated message: a subject, the request in full, then a trailer block that parses back. */
export function formatDeployMessage(input: DeployTagInput): string {
  const app = input.app ?? 'sophia-dashboard';
  const oneLine = input.request.replace(/\s+/g, ' ').trim();
  const from = input.rollback?.from;
  return [
    input.rollback
      ? `Roll back ${app}${from ? ` from ${from.slice(0, 7)}` : ''} to ${input.sha.slice(0, 7)}`
      : `Deploy ${app} ${input.sha.slice(0, 7)}`,
    '',
    input.request.trim(),
    '',
    `Deploy-Id: ${input.deployId}`,
    `Artifact-Digest: ${input.artifactDigest}`,
    `Commit: ${input.sha}`,
    `App: ${app}`,
    ...(input.rollback ? ['Kind: rollback', ...(from ? [`Rolled-Back-From: ${from}`] : [])] : []),
    ...(input.stack ? [`Stack: ${input.stack}`] : []),
    ...(input.auditHead ? [`Audit-Head: ${input.auditHead}`] : []),
    `Request: ${oneLine}`,
  ].join('\n');
}

/** What ends request words cut to fit a tag (tagRequest): a reader sees they go on in the record. */
export const WORDS_CUT = ` … (cut to ${WORDS_MAX} characters; the deployment's record has them all)`;

/**
 * The request a tag carries: the words asked ("rollback to 3f2c1a9"), then the person's why
 * (`--message`), so the tag says what was done and why, not the why alone. Each may be as long as
 * words may be (WORDS_MAX): together they are cut to it, ending with WORDS_CUT, so long words never
 * keep a deployment from its tag.
 */
export const tagRequest = (
  request: { text: string; message?: string },
  /**
   * The stack the tag is made for: its sensitive values are hidden in the words (targetHidden),
   * whoever wrote them; the agent reads every tag's (list_deploy_tags).
   */
  target: HiddenTarget,
): string => {
  const words = targetHidden(target)(request.message ? `${request.text}: ${request.message}` : request.text);
  return words.length > WORDS_MAX ? `${clip(words, WORDS_MAX - WORDS_CUT.length)}${WORDS_CUT}` : words;
};

/**
 * What a tag, and the receipt that vouches for it, say of a rollback: the commit it took down (its
 * plan's or record's fromCommit; for an interrupted rollback another run finished, its record's). A
 * rollback to the release already live (a no-op, its plan from that release) names none. Any other
 * change (a deploy, a promote) is tagged as a deploy: nothing.
 */
export const rollbackPart = (change: {
  kind: string;
  commit: string;
  fromCommit: string | null;
}): Pick<DeployTagInput, 'rollback'> =>
  change.kind === 'rollback'
    ? { rollback: { from: change.fromCommit === change.commit ? null : change.fromCommit } }
    : {};

/**
 * The change a run's deploy tag records, as that change's own run tags it: the interrupted change
 * the run finished, when its own plan was a no-op (DeploySummary finishedInterrupted: a rollback
 * finished by a deploy or a promote is a rollback, from the commit it took down; a deploy finished by
 * a rollback is a deploy; its build is its record's, never the run's), else the run's own. Whether
 * the run tags at all is its caller's to say.
 */
export function taggedChange(summary: {
  kind: string;
  deployId: string;
  commit: string;
  artifactDigest: string;
  noop: boolean;
  auditHead?: AuditHead | null;
  plan: { fromCommit: string | null };
  finishedInterrupted?: {
    deployId: string;
    kind: string;
    artifactDigest: string;
    fromCommit: string | null;
    auditHead: AuditHead;
  };
}): Pick<DeployTagInput, 'deployId' | 'artifactDigest' | 'rollback' | 'auditHead'> {
  const done = summary.noop ? summary.finishedInterrupted : undefined;
  const change = done ?? { ...summary, fromCommit: summary.plan.fromCommit };
  const auditHead = change.auditHead;
  return {
    deployId: change.deployId,
    artifactDigest: change.artifactDigest,
    ...rollbackPart({ kind: change.kind, commit: summary.commit, fromCommit: change.fromCommit }),
    ...(auditHead ? { auditHead: formatAuditHead(auditHead) } : {}),
  };
}

/**
 * The deploy tag of the stopped change a run finished before its own (DeploySummary
 * finishedFirstRecord), as that change's own run would have made it: its build, who asked for it and
 * in what words, and the audit head after its finish. Null when the run finished none to tag.
 */
export function finishedFirstTag(
  summary: {
    stack: string;
    app: string;
    finishedFirstRecord?: {
      deployId: string;
      kind: string;
      commit: string;
      artifactDigest: string;
      request: { text: string; message?: string };
      fromCommit: string | null;
      auditHead: AuditHead;
    };
  },
  /** The stack's target: its sensitive values are hidden in the request words (tagRequest). */
  target: HiddenTarget,
): DeployTagInput | null {
  const change = summary.finishedFirstRecord;
  if (!change) return null;
  return {
    sha: change.commit,
    artifactDigest: change.artifactDigest,
    request: tagRequest(change.request, target),
    app: summary.app,
    stack: summary.stack,
    deployId: change.deployId,
    ...rollbackPart(change),
    auditHead: formatAuditHead(change.auditHead),
  };
}

/**
 * Whether two deploy tag messages record the same deployment: the same trailers, but for the
 * request words (words, not the record).
 */
export function sameRecord(a: string, b: string): boolean {
  const { Request: _a, ...ours } = parseTrailers(a);
  const { Request: _b, ...theirs } = parseTrailers(b);
  const keys = new Set([...Object.keys(ours), ...Object.keys(theirs)]);
  return [...keys].every((key) => ours[key] === theirs[key]);
}

/** `Key: value` lines of the message's last paragraph (git's trailer convention). */
export function parseTrailers(message: string): Record<string, string> {
  const paragraphs = message.trim().split(/\n\s*\n/);
  const last = paragraphs[paragraphs.length - 1] ?? '';
  const trailers: Record<string, string> = {};
  for (const line of last.split('\n')) {
    const match = /^([A-Za-z][A-Za-z0-9-]*): (.*)$/.exec(line);
    if (match?.[1] && match[2] !== undefined) trailers[match[1]] = match[2].trim();
  }
  return trailers;
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

function checkInput(input: DeployTagInput): void {
  checkDeployId(input.deployId, 'Pass the deploy id the infra server returned for this deployment.');
  assertCommitSha(input.sha);
  // Only a tag naming its commit in full records a deployment (listDeployTags).
  if (!FULL_COMMIT.test(input.sha)) {
    throw badInput(
      `Invalid commit "${input.sha}": a deploy tag names the commit its deployment made live in full (40 or 64 hex digits). Pass the full commit sha the infra server returned for this deployment.`,
    );
  }
  // A deploy id begins with its commit (engine/ids.ts): a tag for it on another commit is a forgery
  // or a mix-up, and it would take the name that deployment's true tag is looked up by.
  if (!input.sha.startsWith(input.deployId.slice(0, 7))) {
    throw badInput(
      `Deploy ${input.deployId} is of commit ${input.deployId.slice(0, 7)}, not ${input.sha.slice(0, 7)}: a deploy tag goes on the commit its deployment made live. Pass the deploy id and commit the infra server returned for the same deployment.`,
    );
  }
  if (!ARTIFACT_DIGEST.test(input.artifactDigest)) {
    throw badInput(
      `Invalid artifact digest "${input.artifactDigest}": expected "sha256:" followed by 64 lower-case hex ` +
        "digits. Pass the artifact's manifest digest.",
    );
  }
  if (input.request.trim().length === 0 || input.request.length > WORDS_MAX) {
    throw badInput(`Invalid request: expected the words of the deploy request, 1–${WORDS_MAX} characters.`);
  }
  // The message is the tag's record: text that could steer a terminal or split a listing has no place in it.
  if (hasControlCharacters(input.request)) {
    throw badInput(
      'Invalid request: it contains control characters; expected printable words (newlines allowed).',
    );
  }
  if (input.rollback?.from) assertCommitSha(input.rollback.from);
  if (input.auditHead !== undefined && !AUDIT_HEAD_TEXT.test(input.auditHead)) {
    throw badInput('Invalid audit head: expected "<seq>:sha256:<64 hex>" as the infra server returned it.');
  }
  if (input.stack !== undefined && !STACK_NAME.test(input.stack)) {
    throw badInput(
      `Invalid stack "${input.stack.slice(0, 80)}": expected the stack's name (${STACK_NAME_RULE}), as the infra server returned it.`,
    );
  }
}

/** Whether a tag's trailers are the ones this input writes, but for its request words. */
function recordsSame(tag: DeployTag, input: DeployTagInput): boolean {
  return sameRecord(tag.message, formatDeployMessage(input));
}

function withoutTrailers(tag: DeployTag): TagInfo {
  return { name: tag.name, sha: tag.sha, message: tag.message, ...(tag.date ? { date: tag.date } : {}) };
}

/**
 * The number after the highest one of the day; past DAY_NUMBERS_MAX, the lowest free one. A tag
 * anyone pushed numbered 99999999999999999999 would otherwise use up the names: its next number is
 * itself to a double, and one of hundreds of digits no ref name can hold. Every tag counts, deploy
 * tag or not, in any case, and so does a folder of tags and a name the host refused: one pushed as
 * `<name>/x` would otherwise keep git from making `<name>` on every attempt.
 */
function nextNumber(names: readonly string[], day: string): number {
  const used = new Set<number>();
  for (const name of names) {
    const match = NAME_TAKEN.exec(name);
    const n = Number(match?.[2]);
    if (match?.[1] === day && n <= DAY_NUMBERS_MAX) used.add(n);
  }
  const highest = Math.max(0, ...used);
  if (highest < DAY_NUMBERS_MAX) return highest + 1;
  for (let n = 1; n <= DAY_NUMBERS_MAX; n++) if (!used.has(n)) return n;
  throw new FrontendOpsError(
    'CONFLICT',
    `Every deploy tag name of ${day} up to ${DEPLOY_TAG_PREFIX}${day}-${DAY_NUMBERS_MAX} is taken. Delete the tags of that day no deployment made, and tag again.`,
  );
}

function compareNames(a: string, b: string): number {
  const [, dayA = '', nA = '0'] = TAG_NAME.exec(a) ?? [];
  const [, dayB = '', nB = '0'] = TAG_NAME.exec(b) ?? [];
  return dayA === dayB ? Number(nA) - Number(nB) : dayA < dayB ? -1 : 1;
}

const formatDay = (date: Date) => date.toISOString().slice(0, 10).replaceAll('-', '');
