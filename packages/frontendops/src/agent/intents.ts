import type { ToolName } from '../contract/tools.ts';
import { CANARY_SHARE_RULE, isCanaryShare } from '../engine/canary-share.ts';
import { COMMIT_REF, DEPLOY_ID as DEPLOY_ID_PATTERN } from '../engine/ids.ts';
import { WORDS_MAX } from '../engine/text.ts';
import type { ApprovalAction } from '../ports.ts';
import { HISTORY_PAGE_MAX } from '../read/history-page-max.ts';
import { PIN_EFFECT } from '../read/pin-words.ts';

/**
 * The runbook planner's reading of a request: a small, pure table from the ways people say things to
 * one of its intents, or a refusal that lists what the agent can do. No model, no I/O: the same words
 * always give the same intent, so it can be tested exhaustively and trusted with production.
 */

export type RollbackTarget =
  | { type: 'previous' }
  | { type: 'deploy'; deployId: string }
  | { type: 'commit'; ref: string }
  | { type: 'yesterday' };

export type Intent =
  | { kind: 'deploy'; ref: string | null }
  | { kind: 'rollback'; to: RollbackTarget }
  | { kind: 'status' }
  | { kind: 'history'; limit: number }
  | { kind: 'plan'; ref: string | null }
  | { kind: 'invalidate'; deployId: string | null }
  /**
   * Make a release (default: the latest) live for everyone and clear any pin; where a canary runs
   * and no other release is named, that canary is what is promoted. `canary`: the words say "canary",
   * so only a running canary is promoted (with none running, the request is refused).
   */
  | { kind: 'promote'; ref: string | null; canary?: true }
  /** Atomic stacks: send a sticky share of visitors to a release (default: the latest) first. */
  | { kind: 'canary'; ref: string | null; percent: number }
  /** Atomic stacks: end the canary; everyone back on the live release. */
  | { kind: 'abort-canary' }
  /** Atomic stacks: a signed, expiring link to look at a release (default: the latest) before it is live. */
  | { kind: 'preview'; ref: string | null }
  /** Keep the live release: deploys of others are refused until a promote or unpin. */
  /** `ref`: the release the words name, which must be the live one (null: whatever is live). */
  | { kind: 'pin'; ref: string | null }
  | { kind: 'unpin' }
  /**
   * Words the table does not know (or that only say not to make a change: "don't roll back"): the
   * runbook refuses them; a model may only read.
   */
  | { kind: 'unknown'; reason: string }
  /**
   * Things the agent never does (or an empty or overlong request), and words that cannot be read as
   * one change (an impossible canary share, two releases, two kinds of change, a date for a commit,
   * a sha or share that does not read, a change negated beside another): said why, never read as
   * another change.
   */
  | { kind: 'refuse'; reason: string };

const READ_TOOLS: ToolName[] = [
  'get_status',
  'get_history',
  'plan_deploy',
  'latest_commit',
  'get_commit',
  'list_deploy_tags',
  'commits_between',
];

/**
 * The tools a request may use, decided by the words alone (never by a model): reading is always
 * allowed; a change only when the request asks for that change. A model planner is offered these
 * and nothing else, so a tool result saying "roll back production" cannot make a deploy request
 * roll back, and a read-only request cannot tag.
 */
export function toolsFor(intent: Intent): Set<ToolName> {
  const extra: Partial<Record<Intent['kind'], ToolName[]>> = {
    deploy: ['get_deploy_target', 'run_sync', 'invalidate_cdn', 'create_deploy_tag'],
    rollback: ['rollback', 'create_deploy_tag'],
    invalidate: ['invalidate_cdn'],
    promote: ['promote_release', 'promote_canary', 'create_deploy_tag'],
    canary: ['start_canary'],
    'abort-canary': ['abort_canary'],
    preview: ['preview_release'],
    pin: ['pin_release'],
    unpin: ['unpin_release'],
  };
  return new Set([...READ_TOOLS, ...(extra[intent.kind] ?? [])]);
}

/**
 * What a request's words name beyond the kind of change: the commit or tag (`ref`; null: the latest
 * of the app's directory), a canary's share, whether they speak of the canary (only then is
 * promoting the canary the change they name), and a rollback's destination.
 */
export interface NamedChange {
  ref: string | null;
  percent?: number;
  /** The words say "canary": promoting the canary is what they ask. */
  canary?: boolean;
  /** A rollback's destination as the words name it. */
  to?: RollbackTarget;
  /** The app's directory: "the latest" is the newest commit touching it on the default branch. */
  path?: string;
}

export function namedChange(intent: Intent, appPath?: string): NamedChange | undefined {
  const path = appPath ? { path: appPath } : {};
  if (intent.kind === 'rollback') {
    return { ref: intent.to.type === 'commit' ? intent.to.ref : null, to: intent.to, ...path };
  }
  if (intent.kind !== 'deploy' && intent.kind !== 'promote' && intent.kind !== 'canary') return undefined;
  return {
    ref: intent.ref,
    ...(intent.kind === 'canary' ? { percent: intent.percent } : {}),
    ...(intent.kind === 'promote' && intent.canary ? { canary: true } : {}),
    ...path,
  };
}

/** The one kind of change `--yes` approves for this request: the one its words name. */
export function approvableActions(intent: Intent): ApprovalAction[] {
  // A promote (a release's or the canary's: live for everyone, the pin lifted) is its own approval
  // action: an approval of a deploy does not cover it.
  if (intent.kind === 'deploy') return ['deploy'];
  if (intent.kind === 'promote') return ['promote'];
  if (intent.kind === 'rollback') return ['rollback'];
  if (intent.kind === 'canary') return ['canary'];
  if (intent.kind === 'abort-canary') return ['abort'];
  return [];
}

export const CAPABILITIES = [
  'deploy the latest build of the app (or a named commit or tag)',
  'roll back (to the previous release, a deploy id, a commit, or yesterday’s version)',
  'show what is live (status)',
  'show the deploy history',
  'show what a deploy would change (plan)',
  'invalidate the CDN for the live release',
  'promote a release (the latest, or a named commit): live for everyone, pin cleared',
  'pin the live release, or unpin',
  'on atomic stacks: deploy to a share of visitors first ("deploy to 10% first"), then promote or abort the canary',
  'on atomic stacks: a preview link of a build before it is live ("give me a preview of the latest build")',
];

export const helpText = () => `I can: ${CAPABILITIES.join('; ')}.`;

/** The anchored patterns of engine/ids.ts, found anywhere in words. */
const inText = (pattern: RegExp, flags = 'i') =>
  new RegExp(`\\b(${pattern.source.replace(/^\^|\$$/g, '')})\\b`, flags);
/** deployIdFor(): 7 hex of the commit, a dash, 10 hex. */
const DEPLOY_ID = inText(DEPLOY_ID_PATTERN);
const DEPLOY_IDS = inText(DEPLOY_ID_PATTERN, 'gi');
/** 7 or more hex digits: a commit's sha or its abbreviation, letters or not. */
const COMMITS = inText(COMMIT_REF, 'gi');
/** A deploy tag, or a version tag (v1.4.2, v2-rc.1). */
const TAG = /dashboard-deploy-\d{8}-\d+|v\d+(?:\.\d+){0,2}(?:-[\w.]+)?/;
const TAGS = new RegExp(`\\b(${TAG.source})\\b`, 'gi');

/** Whether `word` is, whole, a commit sha, a deploy id or a tag: a release named the way the words may. */
export const isReleaseName = (word: string): boolean =>
  COMMIT_REF.test(word.toLowerCase()) ||
  DEPLOY_ID_PATTERN.test(word.toLowerCase()) ||
  new RegExp(`^(?:${TAG.source})$`, 'i').test(word);
/** A share of visitors as written: "10%", "10 percent", "10 per cent", and "-5%", "12.5%", "200%". */
const SHARES = /([-−]?\d+(?:[.,]\d+)?)\s*(?:%|per\s*cent\b)/gi;

/** Things the agent never does, whatever else the words say: named so the refusal says why. */
const FORBIDDEN: Array<[RegExp, string]> = [
  [/\brm\s+-\w*r|\bsudo\b|\bshell\b|\bexec(ute)?\s+(a\s+)?command|\$\(|`/i, 'run shell commands'],
  [
    /\b(delete|remove|destroy|drop|wipe|empty|purge|nuke|tear\s+down)\b.*\b(bucket|buckets|stack|infra(structure)?|distribution|everything|all\s+(the\s+)?files|site|repo(sitory)?|tags?|history|audit)\b/i,
    'delete infrastructure, files, tags or history',
  ],
  [
    /\b(credentials?|secrets?|passwords?|access\s+keys?|api\s+keys?|tokens?|bucket\s+names?|endpoints?)\b/i,
    'reveal credentials, secrets, bucket names or endpoints',
  ],
  [
    /\b(ignore|disregard|forget)\b.*\b(instructions?|rules?|polic(y|ies)|guard\s*rails?)\b/i,
    'set its rules aside',
  ],
];

interface Rule {
  /** The kind of request the rule reads (its refusals too): how one request is told from two. */
  names: Intent['kind'];
  /** What the user might say (any match wins). */
  match: RegExp;
  build(text: string): Intent;
}

// Order matters: the first matching rule wins ("undo the last deploy" is a rollback, not a deploy;
// "what would change if I deploy" is a plan).
const RULES: Rule[] = [
  // Before everything that says "deploy" or "promote": ending a canary is its own change.
  {
    names: 'abort-canary',
    match:
      // The verb must take the canary as its object ("end the running canary", "the canary looks bad,
      // cancel it"): "end the session and show the canary" ends no canary.
      /\b(abort|cancel|stop|end|kill|drop|call\s+off)\s+(?:(?:the|this|that|our|my|current|running|active|live|ongoing|\d+\s*%)\s+)*canary\b|\bcanary\b[^.]*\b(abort|cancel|stop|end|kill|drop|call\s+off)\s+it\b|\bcanary\b(?:\s+(?:is|was|has\s+been|should\s+be|must\s+be|to\s+be))?\s+(aborted|cancell?ed|stopped|ended|killed|dropped|called\s+off)\b/i,
    build: () => ({ kind: 'abort-canary' }),
  },
  // Before the plan ("preview" alone is a plan: "preview the deploy"); not when asking what would change.
  {
    names: 'preview',
    match:
      /^(?![\s\S]*\b(would|will)\b)[\s\S]*(\b(give|get|send|show|make|open|create|share)\s+(me\s+|us\s+)?(a\s+)?preview\b|\bpreview\s+(link|url)s?\b)/i,
    build: (text) => withRef(text, (ref) => ({ kind: 'preview', ref })),
  },
  {
    names: 'plan',
    match:
      /\b(what\s+would\s+(change|happen|be\s+(copied|changed|deployed))|what\s+will\s+change|plan|preview|diff|dry[\s-]?run|release\s+notes|change\s*log|what['’]?s\s+new|what(?:['’]s|\s+is|\s+would\s+be|\s+will\s+be)\s+in\s+(?:the\s+)?(?:next|latest|new|upcoming|coming)\s+(?:release|deploy(?:ment)?|build|version)|(?:which|what)\s+commits\s+(?:would|will|does|do)\b|what(?:['’]s|\s+has|\s+have|\s+is)?\s+(?:changed|different)\s+(?:between|since|from)\b|differences?\s+between\b)/i,
    build: (text) => withRef(text, (ref) => ({ kind: 'plan', ref })),
  },
  // Before rollback ("undo the pin") and deploy ("release the pin").
  {
    names: 'unpin',
    match:
      /\b(un-?pin(ned)?|(lift|remove|drop|clear|release|undo)\s+(the\s+)?pin|unfreeze|unlock\s+deploys?)\b/i,
    build: () => ({ kind: 'unpin' }),
  },
  // Before rollback ("promote the previous build") and deploy ("promote the latest release").
  {
    names: 'promote',
    match: /\bpromote\b/i,
    build: (text) => promoteIntent(text),
  },
  // After the plan ("what would change if I deploy to 10%"); before rollback and deploy.
  {
    names: 'canary',
    match:
      /\d\s*(%|per\s*cent\b)|\b(start|begin|open|run|launch|try)\s+(a\s+|the\s+)?canary\b|\bcanary\s+(deploy|release|rollout|of)\b|\b(deploy|ship|release|roll\s*out)\b[^.]*\b(canary|to\s+(a|some)\s+(share|fraction|few))\b/i,
    build: (text) => {
      const share = canaryShare(text);
      if ('refuse' in share) return { kind: 'refuse', reason: share.refuse };
      return withRef(text, (ref) => ({ kind: 'canary', ref, percent: share.percent }));
    },
  },
  {
    names: 'rollback',
    match:
      /\b(roll\s*back|rollback|revert|undo|go\s+back|back\s+to|restore|previous\s+(version|release|build)|last\s+good|yesterday['’]?s\s+(version|release|build|dashboard|app|site))\b/i,
    build: (text) => {
      const to = rollbackTarget(text);
      return 'refuse' in to ? { kind: 'refuse', reason: to.refuse } : { kind: 'rollback', to };
    },
  },
  // After rollback ("roll back and pin it" is a rollback, which pins); before deploy ("pin the live release").
  {
    names: 'pin',
    match: /\b(pin|freeze(\s+deploys?)?|lock\s+deploys?)\b/i,
    build: (text) => withRef(text, (ref) => ({ kind: 'pin', ref })),
  },
  {
    names: 'invalidate',
    match:
      /\b(invalidate|invalidation)\b|\b(purge|flush|refresh|clear|bust|reset)\b.*\b(cdn|cache|caches|cloudfront|edge)\b/i,
    build: (text) => ({ kind: 'invalidate', deployId: text.match(DEPLOY_ID)?.[1]?.toLowerCase() ?? null }),
  },
  {
    names: 'history',
    match:
      /\b(history|logs?|who\s+deployed|when\s+(was|were|did)|what\s+(was|got)\s+deployed|deployments|releases|(recent|past|previous|last\s+\d+)\s+(deploy\w*|releases?))\b/i,
    build: (text) => ({ kind: 'history', limit: historyLimit(text) }),
  },
  {
    names: 'deploy',
    match:
      /\b(deploy|redeploy|ship|release|publish|push|roll\s*out|rollout|put\s+out|go\s+live|send\s+out|update\s+(the\s+)?(site|dashboard|app|prod))\b/i,
    build: (text) => withRef(text, (ref) => ({ kind: 'deploy', ref })),
  },
  {
    names: 'status',
    match:
      /\b(status|live|running|deployed|pinned|current(ly)?|which\s+(version|commit|release)|what\s+version|up\s+to\s+date|(show|how(?:'s|\s+is))\s+(me\s+|us\s+)?(the\s+|our\s+)?canary)\b/i,
    build: () => ({ kind: 'status' }),
  },
];

/**
 * `app`: the configured app's name. The request is read with it, and the last part of a name in
 * parts ("blog" of "acme-blog"), said as "app": "update the blog", "yesterday's blog", "roll back
 * to the previous blog" read as the dashboard's words do. A name that reads as a release (a sha, a
 * tag like v2) is left as it is, so it still names that release.
 */
export function parseRequest(text: string, app?: string): Intent {
  const words = asAppWords(text.trim(), app);
  if (!words) return { kind: 'refuse', reason: `The request is empty. ${helpText()}` };
  if (words.length > WORDS_MAX)
    return {
      kind: 'refuse',
      reason: `The request is too long (over ${WORDS_MAX} characters). ${helpText()}`,
    };
  for (const [pattern, what] of FORBIDDEN) {
    if (pattern.test(words)) return { kind: 'refuse', reason: `I won't ${what}. ${helpText()}` };
  }
  return readNegations(words) ?? readChange(words);
}

function asAppWords(words: string, app: string | undefined): string {
  if (!app) return words;
  const names = new Set([app, app.split(/[-._]/).at(-1) ?? app]);
  let read = words;
  for (const name of names) {
    // Not a release's name, nor a word the table reads by itself ("status", "history", "canary").
    if (name.length < 3 || isReleaseName(name) || /^v\d/i.test(name)) continue;
    if (readChange(name).kind !== 'unknown') continue;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // Only where it is the thing the words act on: after "the", "yesterday's", "previous", "latest"….
    read = read.replace(new RegExp(`(?<=\\b(?:${APP_BEFORE})\\s+)${escaped}(?![\\w/-])`, 'gi'), 'app');
  }
  return read;
}
const APP_BEFORE =
  "the|our|my|this|that|yesterday['’]?s|previous|prior|earlier|older|former|old|latest|newest|current|live|last";

/** One line saying what the intent means, for the step log and the audit entry. */
export function describeIntent(intent: Intent): string {
  switch (intent.kind) {
    case 'deploy':
      return intent.ref ? `deploy ${intent.ref}` : 'deploy the latest commit of the app';
    case 'plan':
      return intent.ref ? `plan a deploy of ${intent.ref}` : 'plan a deploy of the latest commit of the app';
    case 'rollback':
      return intent.to.type === 'previous'
        ? 'roll back to the previous release'
        : intent.to.type === 'yesterday'
          ? 'roll back to the release live at the end of yesterday'
          : intent.to.type === 'deploy'
            ? `roll back to deploy ${intent.to.deployId}`
            : `roll back to commit ${intent.to.ref}`;
    case 'status':
      return 'show what is live';
    case 'history':
      return `show the last ${intent.limit} deployments`;
    case 'invalidate':
      return intent.deployId
        ? `invalidate the CDN for ${intent.deployId}`
        : 'invalidate the CDN for the live release';
    case 'promote':
      return intent.ref
        ? `promote ${intent.ref}: live for everyone, pin cleared`
        : 'promote the latest commit of the app: live for everyone, pin cleared';
    case 'canary':
      return intent.ref
        ? `send ${intent.percent}% of visitors to ${intent.ref} first (canary)`
        : `send ${intent.percent}% of visitors to the latest commit of the app first (canary)`;
    case 'abort-canary':
      return 'abort the canary: everyone back on the live release';
    case 'preview':
      return intent.ref
        ? `a preview link of ${intent.ref}`
        : 'a preview link of the latest commit of the app';
    case 'pin':
      return intent.ref
        ? `pin ${intent.ref}, if it is the live release (${PIN_EFFECT})`
        : `pin the live release (${PIN_EFFECT})`;
    case 'unpin':
      return 'unpin (deploys go through again)';
    case 'refuse':
      return 'refuse';
    case 'unknown':
      return 'answer from what can be read';
  }
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

/** The kinds of request that change something (or make a link): a request names one of them at most. */
const CHANGES: Partial<Record<Intent['kind'], { named: string; say: string }>> = {
  deploy: { named: 'a deploy', say: '"deploy the latest build"' },
  rollback: { named: 'a rollback', say: '"roll back"' },
  promote: { named: 'a promote', say: '"promote the latest"' },
  canary: { named: 'a canary', say: '"deploy to 10% first"' },
  'abort-canary': { named: 'aborting the canary', say: '"abort the canary"' },
  preview: { named: 'a preview link', say: '"give me a preview of the latest build"' },
  pin: { named: 'a pin', say: '"pin prod"' },
  unpin: { named: 'an unpin', say: '"unpin"' },
  invalidate: { named: 'a CDN invalidation', say: '"invalidate the CDN"' },
};
/** Whether the intent is a change (a deploy, rollback, pin…), not a reading or a refusal. */
export const isChange = (intent: Intent): boolean => CHANGES[intent.kind] !== undefined;

/** What may be answered beside a negated change: reading only. */
const READ_ONLY: ReadonlySet<Intent['kind']> = new Set(['status', 'history', 'plan']);

/** The table's reading of words that negate no change: one intent, or why they are not one change. */
function readChange(words: string): Intent {
  // "what's the status of the last deploy?" asks about a release made, not for a deploy.
  const things = asThings(words);
  const rule = RULES.find((r) => r.match.test(things));
  if (!rule) {
    return { kind: 'unknown', reason: `I don't know how to help with "${clip(words)}". ${helpText()}` };
  }
  // Two changes are refused as two, whatever either would say of itself; so are words whose parts
  // name one change and whose whole reads as another ("deploy the latest and tell me about the canary").
  const parts = changesNamed(words);
  const kinds =
    parts.length && CHANGES[rule.names] && !parts.includes(rule.names) ? [...parts, rule.names] : parts;
  if (kinds.length > 1) {
    const [first, ...others] = kinds.map((kind) => CHANGES[kind] as { named: string; say: string });
    return {
      kind: 'refuse',
      reason:
        `The request asks for more than one change (${kinds.map((k) => CHANGES[k]?.named).join(', ')}), and a request makes one change: I won't pick one. ` +
        `Ask for one change at a time: ${first?.say}, then ${others.map((o) => o.say).join(', then ')} in a request of its own.`,
    };
  }
  const intent = rule.build(words);
  if (intent.kind === 'refuse') return intent;
  if (CHANGES[intent.kind] && intent.kind !== 'preview' && isQuestion(words))
    return answerOnly(intent, words);
  if (CHANGES[intent.kind]) {
    const share = unreadableShare(words);
    if (share) return { kind: 'refuse', reason: share.refuse };
    // Only where no release is named (a sha, tag or deploy id is what goes), and never a canary's promote.
    const latest =
      (intent.kind === 'deploy' ||
        intent.kind === 'canary' ||
        (intent.kind === 'promote' && !intent.canary)) &&
      intent.ref === null;
    const other = latest ? otherRelease(words) : null;
    if (other) return { kind: 'refuse', reason: other };
    const when = intent.kind === 'preview' ? null : LATER.exec(words);
    if (when) {
      return {
        kind: 'refuse',
        reason: `The request says when ("${when[0]}"), and I make a change at once, when asked: I don't schedule changes, and I won't make this one now. Nothing was changed. Ask again when it is time (a CI schedule can ask for you).`,
      };
    }
  }
  return intent;
}

/**
 * A request put as a question asks about a change, not for one: "what is in release 715f68a",
 * "should we deploy 6fd0df7?", "how do I roll back?", "can you check whether we need to roll back".
 * A polite request asks for one: "can you deploy the latest?", "could you roll back, please?".
 */
const QUESTION_START =
  /^(?:(?:so|ok(?:ay)?|hey|hi|hello|and|but|also|quick\s+question)[\s,:]+)*(?:what(?:['’]s)?|whats|which|how(?:['’]s)?|why|when|where|who(?:se|m)?|should|shall|is|isn['’]t|are|aren['’]t|was|were|do|does|did|has|have|had|tell\s+me|explain|describe|i\s+wonder|wondering|(?:can|could|would|will)\s+(?:you\s+)?(?:check|tell|see|say|find\s+out|confirm|verify|look|explain)|(?:can|could|may|might)\s+(?:we|i))\b/i;
const POLITE_REQUEST = /^(?:please\s+)?(?:can|could|would|will)\s+you\b/i;
const isQuestion = (words: string) =>
  QUESTION_START.test(words.trim()) || (/\?\s*$/.test(words) && !POLITE_REQUEST.test(words.trim()));

/**
 * What a question about a change is answered with: what a deploy, canary or promote of the release
 * it names would change (the commits and files in it); how to ask for the change otherwise. Never
 * the change itself.
 */
function answerOnly(intent: Intent, words: string): Intent {
  const how = /^\s*how\b(?!['’]s)/i.test(words);
  if (!how && (intent.kind === 'deploy' || intent.kind === 'canary' || intent.kind === 'promote')) {
    return { kind: 'plan', ref: intent.ref };
  }
  return {
    kind: 'refuse',
    reason: `"${clip(words)}" reads as a question, so nothing was changed: I make a change only when asked for one. To make it, say ${CHANGES[intent.kind]?.say ?? 'what to do'}; to see what is live first, ask "what is live", and "what would change if I deploy" shows a release's commits and files.`,
  };
}

/** Words that put a change later ("deploy tomorrow", "roll back at 5pm"): a change is made now or not. */
const LATER =
  /\b(?:tomorrow|tonight|overnight|later(?:\s+today)?|next\s+(?:week|month|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|this\s+(?:evening|afternoon|weekend)|on\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|in\s+(?:an?|\d+)\s+(?:minutes?|hours?|days?)|at\s+(?:noon|midnight|\d{1,2}:\d{2}|\d{1,2}\s*(?:am|pm))|schedul(?:e|ed|ing))\b/i;

/**
 * Where the words run on to another part ("deploy, then roll back"): punctuation (not the comma
 * of "1,000%"), "and", "then", "or", "before", "after", "plus", "also".
 */
const CLAUSE_BREAK =
  /[;:!?]+|,(?!\d)|\.(?=\s|$)|\b(?:and|then|or|also|plus|after(?:wards)?|before|followed\s+by|as\s+well\s+as)\b|\s[&+]\s/i;
/**
 * A release already made, spoken of as a thing ("the last deploy broke the site", "the canary
 * release"): it names no change. Read as "build" when telling one change from two.
 */
const THINGS_MADE = [
  /\b(last|latest|previous|prior|current|canary|good|bad|broken|failed|failing|live|next|newest|same)\s+(?:deploy(?:ment)?|release|rollout|push|update)\b/gi,
  /\b(the|this|that)\s+(?:deploy(?:ment)?|release|rollout)\s+(?=(?:is|was|has|had|broke|failed|looks|went|did|does|seems)\b)/gi,
];
/** The words with the releases they speak of as things read as "build" (see THINGS_MADE). */
const asThings = (words: string) =>
  THINGS_MADE.reduce((text, made) => text.replace(made, (_, word: string) => `${word} build `), words);

/**
 * The kinds of change the parts of the words name, in order, each once. "roll back and pin it" is
 * one change (a rollback pins); phrasings that are one change in one part ("deploy to 10% first",
 * "undo the last deploy", "promote the canary") are read as the table reads them.
 */
function changesNamed(words: string): Array<Intent['kind']> {
  const clauses = asThings(words)
    .split(CLAUSE_BREAK)
    .map((c) => c.trim())
    .filter(Boolean);
  if (clauses.length < 2) return [];
  const kinds: Array<Intent['kind']> = [];
  for (const clause of clauses) {
    const kind = RULES.find((r) => r.match.test(clause))?.names;
    if (kind && CHANGES[kind] && !kinds.includes(kind)) kinds.push(kind);
  }
  return kinds.includes('rollback') ? kinds.filter((k) => k !== 'pin') : kinds;
}

/** Apostrophes as people type them: straight, curly, modifier letter, acute. */
const APOSTROPHE = "['’‘ʼ´]?";
/** Words that say not to do what follows: "don't", "dont", "do not", "never", "no", "without", … */
const NEGATIONS = new RegExp(
  [
    '\\b(?:(?:do|does|did|should|must|will|would|can|could|please)\\s+)?(?:not|never)\\b',
    `\\b(?:do|does|did|should|would|could|must|need|is|are|was|were|has|have|had)n${APOSTROPHE}t\\b`,
    `\\b(?:won|can)${APOSTROPHE}t\\b`,
    '\\bcannot\\b|\\bno\\b|\\bnor\\b|\\bneither\\b|\\bwithout\\b|\\binstead\\s+of\\b|\\brather\\s+than\\b',
  ].join('|'),
  'gi',
);
/** Words that stop what follows ("stop deploying", "cancel the deploy"); of a canary, they abort it. */
const HALTS =
  /\b(?:stop(?:ping)?|halt|pause|cancel|abort|hold\s+off(?:\s+on)?|avoid|refrain\s+from|skip)\b/gi;
/** Where what a negation covers ends: punctuation, or the next part ("…, just tell me what is live"). */
const NEGATION_END =
  /[;:!?]|,(?!\d)|\.(?=\s|$)|\b(?:but|and|then|just|only|instead(?!\s+of)|rather(?!\s+than)|also|plus|so|because|since|while|though|although|however|please)\b/i;
/** A change, as a verb or its noun, in any form a request gives it (not the past: "what was deployed"). */
const CHANGE_WORD = new RegExp(
  [
    '\\b(?:re)?deploy(?:s|ing|ments?)?\\b',
    '\\bship(?:s|ping)?\\b',
    '\\breleas(?:e|es|ing)\\b',
    '\\bpublish(?:es|ing)?\\b',
    '\\bpush(?:es|ing)?\\b',
    '\\broll(?:s|ing)?\\s*(?:back|out)\\b',
    '\\broll(?:back|out)s?\\b',
    '\\brevert(?:s|ing)?\\b',
    '\\bundo(?:es|ing)?\\b',
    '\\brestor(?:e|es|ing)\\b',
    '\\bgo(?:es|ing)?\\s+(?:back|live)\\b',
    '\\bpromot(?:e|es|ing|ion)\\b',
    '\\b(?:un-?)?pin(?:s|ning)?\\b',
    '\\bfreez(?:e|es|ing)\\b',
    '\\bcanar(?:y|ies)\\b',
    '\\babort(?:s|ing)?\\b',
    '\\binvalidat(?:e|es|ing|ion)\\b',
    '\\bpurg(?:e|es|ing)\\b',
    '\\bflush(?:es|ing)?\\b',
    '\\bupdat(?:e|es|ing)\\b',
    '\\bchang(?:e|es|ing)\\b',
  ].join('|'),
  'i',
);

/**
 * Words that say not to make a change ("don't roll back", "never promote", "no rollback", "without
 * deploying", "stop deploying") are never read as that change, nor as another: the parts that
 * negate a change are set aside; what is left is answered when it only reads (status, history,
 * "what would change"), refused when it asks for a change, and otherwise not known (the runbook
 * refuses it; a model may only read). null: the words negate no change.
 */
function readNegations(words: string): Intent | null {
  const negated: Array<{ start: number; end: number }> = [];
  const markers = [
    ...[...words.matchAll(NEGATIONS)].map((m) => ({ start: m.index, said: m[0], halt: false })),
    ...[...words.matchAll(HALTS)].map((m) => ({ start: m.index, said: m[0], halt: true })),
  ].sort((a, b) => a.start - b.start);
  for (const marker of markers) {
    const { start } = marker;
    if (negated.some((span) => start < span.end)) continue;
    const after = start + marker.said.length;
    const stop = words.slice(after).search(NEGATION_END);
    const end = stop === -1 ? words.length : after + stop;
    const covered = words.slice(after, end);
    if (!CHANGE_WORD.test(covered)) continue;
    // "stop the canary", "cancel the canary release": ending a canary is a change of its own.
    if (marker.halt && /\bcanar(?:y|ies)\b/i.test(covered)) continue;
    negated.push({ start, end });
  }
  const [first] = negated;
  if (!first) return null;
  const said = words.slice(first.start, first.end).trim();
  const rest = negated
    .reduceRight((text, { start, end }) => `${text.slice(0, start)} ; ${text.slice(end)}`, words)
    .replace(/^[\s,;:.!?]+|[\s,;:.!?]+$/g, '');
  const left = rest ? readChange(rest) : null;
  if (left && READ_ONLY.has(left.kind)) return left;
  const kind = RULES.find((r) => r.match.test(said.slice(said.search(CHANGE_WORD))))?.names;
  const reason =
    `The request says not to make a change ("${clip(said)}"), so I make none: I never carry out a change the words say not to make, and I don't guess what else they mean. Nothing was changed. ` +
    `To look, ask e.g. "what's live?", "show the deploy history" or "what would change if I deploy"; to make a change, ask for that one change without "not", e.g. ${(kind && CHANGES[kind]?.say) ?? '"deploy the latest build"'}.`;
  // A change beside the negation: refused. Nothing else: words the table does not know.
  return left && left.kind !== 'unknown' ? { kind: 'refuse', reason } : { kind: 'unknown', reason };
}

/** Why the words cannot be read as one change; the request is refused with it. */
interface Unclear {
  refuse: string;
}

/**
 * The commit or tag the words name (null: none, "the latest"). A word of 7 or more hex digits is a
 * commit's sha, all digits or not: about 4% of 7-character shas have no letter, and reading one as a
 * number would act on another release. Ordinary numbers are shorter ("last 5", "10%", "version 2",
 * 2026); a date's 8 digits could be either, so the person is asked; so are two releases in one request.
 * A deploy id names its commit (its first 7 hex), a tag itself.
 */
function namedRef(text: string): { ref: string | null } | Unclear {
  const unreadable = unreadableRef(text.replace(TAGS, ' ').replace(DEPLOY_IDS, (id) => id.slice(0, 7)));
  if (unreadable) return unreadable;
  const named: string[] = [];
  // One commit named twice, once shorter: the longer name.
  const add = (ref: string, isCommit = true) => {
    const same = named.findIndex((r) => r === ref || (isCommit && (r.startsWith(ref) || ref.startsWith(r))));
    if (same === -1) named.push(ref);
    else if (ref.length > (named[same] as string).length) named[same] = ref;
  };
  for (const [, tag] of text.matchAll(TAGS)) add(tag as string, false);
  const rest = text.replace(TAGS, ' ').replace(DEPLOY_IDS, (id) => id.slice(0, 7));
  for (const [, word] of rest.matchAll(COMMITS)) {
    const commit = (word as string).toLowerCase();
    const date = /^\d+$/.test(commit) ? asDate(commit) : null;
    if (date) {
      return {
        refuse:
          `"${commit}" reads as a date (${date}) as much as the start of a commit sha, and I don't pick releases by date. ` +
          'To name a commit, give more of its sha (9 characters or more, or all of it); to name a release, give its deploy id or tag. ' +
          '"show the deploy history" lists them.',
      };
    }
    add(commit);
  }
  if (named.length > 1) {
    return {
      refuse:
        `The request names more than one release (${named.join(', ')}), and a request makes one change. ` +
        'Say it again and name only the release it should act on.',
    };
  }
  return { ref: named[0] ?? null };
}

/**
 * A word that looks like a commit or a tag but does not read as one, so that the request would act
 * on "the latest" (or "the previous") in its place: too few hex digits ("e088ed"), a letter that is
 * not hex ("e088ed9x"), characters that only look like hex ("ｅ088ed9", full width), too many, what
 * follows "commit" or "tag", a version without its "v" ("1.4.2"). Refused, saying what is expected.
 * Ordinary words and numbers ("version 2", "the 2026 release", "sha256", "feedback") are not.
 */
function unreadableRef(text: string): Unclear | null {
  const refuse = (word: string, why: string): Unclear => ({
    refuse:
      `"${word}" is not a commit or tag I can read (${why}): a commit is its sha, 7 to 64 hex digits (0-9, a-f); a tag is written like v1.4.2 or dashboard-deploy-20261124-1. ` +
      'Say it again with the sha as git prints it (7 characters or more), a tag or a deploy id; "show the deploy history" lists them.',
  });
  const notHex = (word: string) => {
    const odd = [...new Set(word.replace(/[0-9a-f]/gi, ''))];
    return `it has ${odd
      .slice(0, 3)
      .map((c) => `"${c}"`)
      .join(
        ', ',
      )}${odd.length > 3 ? '…' : ''} in it, ${odd.length === 1 ? 'which is not a hex digit' : 'which are not hex digits'}`;
  };
  const why = (word: string) =>
    /^[0-9a-f]+$/i.test(word)
      ? `it is ${word.length < 7 ? 'only ' : ''}${word.length} hex digits`
      : notHex(word);
  const version = /(?<![\w.])\d+(?:\.\d+){2,}(?![\w.])/.exec(text)?.[0];
  if (version) return refuse(version, `a tag is written with its "v", like v${version}`);
  for (const [, word] of text.matchAll(/\b(?:commit|sha|hash)\b\s*[:#]?\s*([^\s,;!?]+)/gi)) {
    const ref = (word as string).replace(/[.)"'’]+$/, '');
    if (COMMIT_REF.test(ref.toLowerCase()) || !ref) continue;
    if (/\p{N}/u.test(ref) || (/^[0-9a-f]+$/i.test(ref) && ref.length >= 3)) return refuse(ref, why(ref));
  }
  for (const [, word] of text.matchAll(/\btags?\b\s*[:#]?\s*([^\s,;!?]+)/gi)) {
    const tag = (word as string).replace(/[.)"'’]+$/, '');
    if (/\p{N}/u.test(tag)) return refuse(tag, 'a tag is written like v1.4.2 or dashboard-deploy-20261124-1');
  }
  for (const [word] of text.matchAll(/[\p{L}\p{N}_]+/gu)) {
    if (COMMIT_REF.test(word.toLowerCase()) || /^\d+$/.test(word)) continue;
    const runs = word.normalize('NFKC').match(/[0-9a-f]+/gi) ?? [];
    const shaLike = runs.some((r) => /\d/.test(r) && (r.length >= 7 || (r.length >= 5 && /[a-f]/i.test(r))));
    if (shaLike || (/^[0-9a-f]+$/i.test(word) && word.length > 64)) return refuse(word, why(word));
  }
  return null;
}

/**
 * A share of visitors written so that it cannot be read ("fifty percent", "１０%", "a small
 * percentage", "half of the visitors"): refused, never read as no share (everyone) or another one.
 */
function unreadableShare(text: string): Unclear | null {
  const rest = text.replace(SHARES, ' ');
  const written =
    /(?:[\p{L}\p{N}.,−-]+\s*)?(?:%|\bper\s*cent(?:age)?\b|\bpercent(?:age)?\b|\bpct\b)/iu.exec(rest)?.[0] ??
    /\b(?:a\s+)?(?:half|quarter|third|fifth|tenth)\s+(?:of\s+)?(?:the\s+|our\s+|all\s+)?(?:visitors|users|traffic|people|customers|requests)\b/i.exec(
      rest,
    )?.[0];
  if (!written) return null;
  return {
    refuse: `"${written.trim()}" is a share of visitors I cannot read: write it in digits with %, e.g. "deploy to 10% first" (a canary sends ${CANARY_SHARE_RULE} of visitors to the build first). To deploy to everyone, say "deploy the latest build".`,
  };
}

/** The intent the words make with the release they name, or their refusal. */
function withRef(text: string, make: (ref: string | null) => Intent): Intent {
  const named = namedRef(text);
  return 'refuse' in named ? { kind: 'refuse', reason: named.refuse } : make(named.ref);
}

/** YYYYMMDD (1970–2099) as "YYYY-MM-DD", or null. */
function asDate(digits: string): string | null {
  const m = /^(19[7-9]\d|20\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/.exec(digits);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
}

function rollbackTarget(text: string): RollbackTarget | Unclear {
  const named = namedRef(text);
  if ('refuse' in named) return named;
  const deployIds = new Set([...text.matchAll(DEPLOY_IDS)].map(([id]) => id.toLowerCase()));
  if (deployIds.size > 1) {
    return {
      refuse: `The request names more than one deploy (${[...deployIds].join(', ')}), and a rollback goes to one. Say it again and name only the deploy to roll back to.`,
    };
  }
  const [deployId] = deployIds;
  if (deployId) return { type: 'deploy', deployId };
  const yesterday = /\byesterday(['’]?s)?\b/i.test(text);
  if (yesterday && named.ref) {
    return {
      refuse: `The request names both yesterday's release and ${named.ref}, and a rollback goes to one. Say "roll back to yesterday's version" or "roll back to ${named.ref}".`,
    };
  }
  if (yesterday) return { type: 'yesterday' };
  if (named.ref) return { type: 'commit', ref: named.ref };
  return unreadableDestination(text) ?? { type: 'previous' };
}

/**
 * What "roll back to …" (rollback to, revert to, go back to, restore to) names, where no deploy id, commit, tag or
 * yesterday was read in it: words of "the previous release" ("the last good one", "what was live
 * before") go to the previous release; anything else ("main", "release-candidate", "the blue build",
 * "last tuesday") names a release the words do not give, and is refused rather than read as the
 * previous one, which `--yes` would then make live.
 */
const DESTINATION =
  /\b(?:(?:roll)?back\s+to|revert(?:ed|ing)?\s+to|return\s+to|restored?\s+to)\s+(.+?)(?=$|[;:!?]|,(?!\d)|\.(?:\s|$)|\b(?:and|then|on|in|for|against|please|now|first)\b)/i;
const PREVIOUS_WORDS = new Set(
  (
    'the a an to previous prior last earlier older old former good known working stable release releases ' +
    'version versions build builds deploy deploys deployment deployments one it that this what was were ' +
    'live there before just dashboard site app frontend our my we had'
  ).split(' '),
);
function unreadableDestination(text: string): Unclear | null {
  const phrase = DESTINATION.exec(text)?.[1];
  if (!phrase) return null;
  const unread = (phrase.match(/[\p{L}\p{N}][\p{L}\p{N}'’._-]*/gu) ?? []).filter(
    (word) => !PREVIOUS_WORDS.has(word.toLowerCase().replace(/['’]s$/, '')),
  );
  if (unread.length === 0) return null;
  return {
    refuse:
      `"${clip(unread.join(' '))}" is not a release I can read as where to roll back to, so I roll back nowhere. Nothing was changed. ` +
      'A rollback goes to the previous release ("roll back"), a deploy id, a commit sha (7 hex digits or more), a tag like v1.4.2, or yesterday\'s version; "show the deploy history" lists them.',
  };
}

/**
 * Words that name a release other than the latest without giving it: "the current release", "the
 * previous build", "the release before last", "the last good one", or a git revision ("HEAD~1",
 * "main^"). A deploy, canary or promote with no commit, tag or deploy id goes to the latest, which is
 * not what these words ask for: refused rather than read as the latest, which `--yes` would make live.
 */
const OTHER_RELEASE =
  /\b(?:(?:current(?:ly)?|live|previous|prior|earlier|older|former|old)\s+(?:live\s+)?(?:release|version|build|deploy(?:ment)?|one|commit|app|site|dashboard)s?|(?:release|version|build|deploy(?:ment)?|one|commit)\s+before\s+(?:last|the\s+latest|that|this)|before\s+last|last\s+(?:good|known(?:\s+good)?|working|stable)\s+(?:release|version|build|one|deploy(?:ment)?)|\w[\w./-]*[~^]\d*)/i;
function otherRelease(text: string): string | null {
  const named = OTHER_RELEASE.exec(text)?.[0];
  if (!named) return null;
  return (
    `"${clip(named)}" names a release other than the latest without giving it, and I act on no guess. Nothing was changed. ` +
    'To deploy the latest, say "deploy the latest build"; to go back, say "roll back" (or "roll back to <sha>"); to name a release, give its commit sha, tag or deploy id ("show the deploy history" lists them).'
  );
}

/** Every share of visitors the words write, as written ("200%", "10 percent") and as a number. */
function sharesIn(text: string): Array<{ written: string; value: number }> {
  return [...text.matchAll(SHARES)].map(([written, number]) => ({
    written: written.trim(),
    // "1,000%" is a thousand; "12,5%" twelve and a half.
    value: Number(
      (number as string)
        .replace('−', '-')
        .replace(/,(?=\d{3}$)/, '')
        .replace(',', '.'),
    ),
  }));
}

/**
 * The canary's share: 10 when the words give none; else the one they give, if it is a canary's share
 * (engine/canary-share.ts). Any other share, or two, is refused: never read as another one.
 */
function canaryShare(text: string): { percent: number } | Unclear {
  const shares = sharesIn(text);
  const values = [...new Set(shares.map((s) => s.value))];
  if (values.length > 1) {
    return {
      refuse: `The request names more than one share (${shares.map((s) => s.written).join(', ')}) of visitors, and a canary takes one. Say it again with one share, e.g. "deploy to 10% first".`,
    };
  }
  const [share] = shares;
  if (!share) return { percent: 10 };
  const { written, value } = share;
  if (isCanaryShare(value)) return { percent: value };
  const takes = `a canary sends ${CANARY_SHARE_RULE} of visitors to the build first`;
  const refuse =
    value === 0
      ? `"${written}" would send no visitors to the build: ${takes}. Say e.g. "deploy to 10% first"; to end a running canary, say "abort the canary".`
      : value === 100
        ? `"${written}" is every visitor, not a canary: ${takes}. To deploy to everyone, say "deploy the latest build" (or "promote" to make a running canary live for everyone); for a share first, say e.g. "deploy to 10% first".`
        : value > 100
          ? `"${written}" is more than every visitor: ${takes}. Say e.g. "deploy to 10% first"; to deploy to everyone, say "deploy the latest build".`
          : `"${written}" is not a share a canary can take: ${takes}. Say e.g. "deploy to 10% first".`;
  return { refuse };
}

/**
 * "promote …": live for everyone. A share of visitors in the words (other than 100%) asks for something
 * else, a canary's share: refused with what to say, never promoted.
 */
function promoteIntent(text: string): Intent {
  const other = sharesIn(text).find((s) => s.value !== 100);
  if (other) {
    const instead =
      Number.isInteger(other.value) && other.value >= 1 && other.value <= 99
        ? `"deploy to ${other.value}% first"`
        : 'e.g. "deploy to 10% first"';
    return {
      kind: 'refuse',
      reason: `The request names a share of visitors ("${other.written}"), but promote makes a release live for everyone. To change the canary's share, say ${instead} (the same build again only changes its share); to make it live for everyone, say "promote the canary".`,
    };
  }
  const canary = /\bcanary\b/i.test(text) ? { canary: true as const } : {};
  return withRef(text, (ref) => ({ kind: 'promote', ref, ...canary }));
}

function historyLimit(text: string): number {
  const n = Number(text.match(/\b(?:last|recent|past)\s+(\d{1,3})\b/i)?.[1] ?? 10);
  // The page get_history gives, which is what the runbook asks for.
  return Math.min(Math.max(n, 1), HISTORY_PAGE_MAX.model);
}

const clip = (text: string) => (text.length > 60 ? `${text.slice(0, 57)}…` : text);
