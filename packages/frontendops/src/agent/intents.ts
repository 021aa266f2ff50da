import type { ToolName } from '../contract/tools.ts';
import { CANARY_SHARE_RULE, isCanaryShare } from '../engine/canary-share.ts';
import { COMMIT_REF, DEPLOY_ID as DEPLOY_ID_PATTERN } from '../engine/ids.ts';
import type { ApprovalAction } from '../ports.ts';

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
   * and no other release is named, that canary is what is promoted.
   */
  | { kind: 'promote'; ref: string | null }
  /** Atomic stacks: send a sticky share of visitors to a release (default: the latest) first. */
  | { kind: 'canary'; ref: string | null; percent: number }
  /** Atomic stacks: end the canary; everyone back on the live release. */
  | { kind: 'abort-canary' }
  /** Atomic stacks: a signed, expiring link to look at a release (default: the latest) before it is live. */
  | { kind: 'preview'; ref: string | null }
  /** Keep the live release: deploys wait until a promote or unpin. */
  | { kind: 'pin' }
  | { kind: 'unpin' }
  /** Words the table does not know: the runbook refuses them; a model may only read. */
  | { kind: 'unknown'; reason: string }
  /**
   * Things the agent never does (or an empty or overlong request), and words that cannot be read as
   * one change (an impossible canary share, two releases, a date for a commit): said why, never
   * read as another change.
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

export function namedChange(intent: Intent, appPath?: string, text = ''): NamedChange | undefined {
  const path = appPath ? { path: appPath } : {};
  if (intent.kind === 'rollback') {
    return { ref: intent.to.type === 'commit' ? intent.to.ref : null, to: intent.to, ...path };
  }
  if (intent.kind !== 'deploy' && intent.kind !== 'promote' && intent.kind !== 'canary') return undefined;
  return {
    ref: intent.ref,
    ...(intent.kind === 'canary' ? { percent: intent.percent } : {}),
    ...(intent.kind === 'promote' && /\bcanary\b/i.test(text) ? { canary: true } : {}),
    ...path,
  };
}

/** The one kind of change `--yes` approves for this request: the one its words name. */
export function approvableActions(intent: Intent): ApprovalAction[] {
  // A promote is a deploy (of a release, for everyone, lifting the pin): the same approval; a
  // canary's promote is its own approval action.
  if (intent.kind === 'deploy') return ['deploy'];
  if (intent.kind === 'promote') return ['deploy', 'promote'];
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
const TAGS = /\b(dashboard-deploy-\d{8}-\d+|v\d+(?:\.\d+){0,2}(?:-[\w.]+)?)\b/gi;
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
  /** What the user might say (any match wins). */
  match: RegExp;
  build(text: string): Intent;
}

// Order matters: the first matching rule wins ("undo the last deploy" is a rollback, not a deploy;
// "what would change if I deploy" is a plan).
const RULES: Rule[] = [
  // Before everything that says "deploy" or "promote": ending a canary is its own change.
  {
    match:
      /\b(abort|cancel|stop|end|kill|drop|call\s+off)\b[^.]*\bcanary\b|\bcanary\b[^.]*\b(abort(ed)?|cancel(led)?|stop(ped)?)\b/i,
    build: () => ({ kind: 'abort-canary' }),
  },
  // Before the plan ("preview" alone is a plan: "preview the deploy"); not when asking what would change.
  {
    match:
      /^(?![\s\S]*\b(would|will)\b)[\s\S]*(\b(give|get|send|show|make|open|create|share)\s+(me\s+|us\s+)?(a\s+)?preview\b|\bpreview\s+(link|url)s?\b)/i,
    build: (text) => withRef(text, (ref) => ({ kind: 'preview', ref })),
  },
  {
    match:
      /\b(what\s+would\s+(change|happen|be\s+(copied|changed|deployed))|what\s+will\s+change|plan|preview|diff|dry[\s-]?run)\b/i,
    build: (text) => withRef(text, (ref) => ({ kind: 'plan', ref })),
  },
  // Before rollback ("undo the pin") and deploy ("release the pin").
  {
    match:
      /\b(un-?pin(ned)?|(lift|remove|drop|clear|release|undo)\s+(the\s+)?pin|unfreeze|unlock\s+deploys?)\b/i,
    build: () => ({ kind: 'unpin' }),
  },
  // Before rollback ("promote the previous build") and deploy ("promote the latest release").
  {
    match: /\bpromote\b/i,
    build: (text) => promoteIntent(text),
  },
  // After the plan ("what would change if I deploy to 10%"); before rollback and deploy.
  {
    match:
      /\d\s*(%|per\s*cent\b)|\b(start|begin|open|run|launch|try)\s+(a\s+|the\s+)?canary\b|\bcanary\s+(deploy|release|rollout|of)\b|\b(deploy|ship|release|roll\s*out)\b[^.]*\b(canary|to\s+(a|some)\s+(share|fraction|few))\b/i,
    build: (text) => {
      const share = canaryShare(text);
      if ('refuse' in share) return { kind: 'refuse', reason: share.refuse };
      return withRef(text, (ref) => ({ kind: 'canary', ref, percent: share.percent }));
    },
  },
  {
    match:
      /\b(roll\s*back|rollback|revert|undo|go\s+back|back\s+to|restore|previous\s+(version|release|build)|last\s+good|yesterday['’]?s\s+(version|release|build|dashboard))\b/i,
    build: (text) => {
      const to = rollbackTarget(text);
      return 'refuse' in to ? { kind: 'refuse', reason: to.refuse } : { kind: 'rollback', to };
    },
  },
  // After rollback ("roll back and pin it" is a rollback, which pins); before deploy ("pin the live release").
  {
    match: /\b(pin|freeze(\s+deploys?)?|lock\s+deploys?)\b/i,
    build: () => ({ kind: 'pin' }),
  },
  {
    match:
      /\b(invalidate|invalidation)\b|\b(purge|flush|refresh|clear|bust|reset)\b.*\b(cdn|cache|caches|cloudfront|edge)\b/i,
    build: (text) => ({ kind: 'invalidate', deployId: text.match(DEPLOY_ID)?.[1]?.toLowerCase() ?? null }),
  },
  {
    match:
      /\b(history|logs?|who\s+deployed|when\s+(was|were|did)|what\s+(was|got)\s+deployed|deployments|releases|(recent|past|previous|last\s+\d+)\s+(deploy\w*|releases?))\b/i,
    build: (text) => ({ kind: 'history', limit: historyLimit(text) }),
  },
  {
    match:
      /\b(deploy|redeploy|ship|release|publish|push|roll\s*out|rollout|put\s+out|go\s+live|send\s+out|update\s+(the\s+)?(site|dashboard|prod))\b/i,
    build: (text) => withRef(text, (ref) => ({ kind: 'deploy', ref })),
  },
  {
    match:
      /\b(status|live|running|deployed|pinned|current(ly)?|which\s+(version|commit|release)|what\s+version|up\s+to\s+date)\b/i,
    build: () => ({ kind: 'status' }),
  },
];

export function parseRequest(text: string): Intent {
  const words = text.trim();
  if (!words) return { kind: 'refuse', reason: `The request is empty. ${helpText()}` };
  if (words.length > 500)
    return { kind: 'refuse', reason: `The request is too long (over 500 characters). ${helpText()}` };
  for (const [pattern, what] of FORBIDDEN) {
    if (pattern.test(words)) return { kind: 'refuse', reason: `I won't ${what}. ${helpText()}` };
  }
  for (const rule of RULES) {
    if (rule.match.test(words)) return rule.build(words);
  }
  return { kind: 'unknown', reason: `I don't know how to help with "${clip(words)}". ${helpText()}` };
}

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
        : 'promote the latest dashboard commit: live for everyone, pin cleared';
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
      return 'pin the live release (deploys wait for a promote or unpin)';
    case 'unpin':
      return 'unpin (deploys go through again)';
    case 'refuse':
      return 'refuse';
    case 'unknown':
      return 'answer from what can be read';
  }
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

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
  return { type: 'previous' };
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
        ? `"${written}" is every visitor, not a canary: ${takes}. To deploy to everyone, say "deploy the latest dashboard" (or "promote" to make a running canary live for everyone); for a share first, say e.g. "deploy to 10% first".`
        : value > 100
          ? `"${written}" is more than every visitor: ${takes}. Say e.g. "deploy to 10% first"; to deploy to everyone, say "deploy the latest dashboard".`
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
  return withRef(text, (ref) => ({ kind: 'promote', ref }));
}

function historyLimit(text: string): number {
  const n = Number(text.match(/\b(?:last|recent|past)\s+(\d{1,3})\b/i)?.[1] ?? 10);
  return Math.min(Math.max(n, 1), 50);
}

const clip = (text: string) => (text.length > 60 ? `${text.slice(0, 57)}…` : text);
