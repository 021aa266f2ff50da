import { type Intent, isChange, isReleaseName } from './intents.ts';

/**
 * A request can name where it should happen ("deploy the latest dashboard to staging", "what's live
 * on prod"), while the agent acts on one stack, chosen before it reads the words (--stack, the local
 * environment, the configuration's default). Acting on that one would answer or change another
 * environment than the person asked for, and report success: so a request naming another stack the
 * configuration knows is refused, before any tool is called, saying how to reach that stack.
 *
 * A plain word (`staging`, `prod`, `local`) counts only after "to", "on", "in", "onto", "into", "for"
 * or "against": such a word is also ordinary English, or shared with the app ("dashboard"), and
 * "deploy my local build" or "deploy the latest dashboard" names no stack. A name no one writes by
 * chance (with a hyphen, a dot, an underscore or a digit: `dashboard-hosting-staging`, `prod2`)
 * counts wherever it stands, in any word order ("deploy dashboard-hosting-staging"). The name may be
 * quoted (`to "staging"`, `to \`staging\``, `to “staging”`), as people write names.
 */
const BEFORE_A_STACK = '(?:to|on|in|onto|into|for|against)\\s+(?:the\\s+)?[\'"`‘“]?';
/** A stack's name that is not an ordinary word: named by itself, wherever it stands. */
const IDENTIFIER = /[-._\d]/;

export function otherStackNamed(
  text: string,
  known: readonly string[],
  acting: string | null,
): string | null {
  if (!acting) return null;
  for (const name of new Set(known)) {
    if (name === acting) continue;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const before = IDENTIFIER.test(name) ? '' : BEFORE_A_STACK;
    if (!new RegExp(`(?<![\\w.-])${before}${escaped}(?![\\w.-])`, 'i').test(text)) continue;
    return (
      `The request names ${name}, but this agent acts on ${acting}. Nothing was done. ` +
      `To act on ${name}, ask again with that stack chosen (\`frontendops agent --stack ${name} "…"\`); to act on ${acting}, leave the other stack's name out.`
    );
  }
  return null;
}

/** A name-like word: letters with a hyphen, dot, underscore or digit ("prod-eu-1", "release-candidate"). */
const NAME_LIKE = /^(?=.*\p{L})(?=.*[-._\d])[\p{L}\d][\p{L}\d._-]*[\p{L}\d]$/u;
/** Abbreviations that read as name-like words. */
const ABBREVIATIONS = new Set(['e.g', 'i.e']);

/**
 * A name-like word where a request for a change names what it acts on or where — right after its
 * verb ("deploy release-candidate") or after "to", "on", "in"… ("deploy the latest to prod-eu-1") —
 * that is none of what such a word may be: a stack the configuration knows, the app or its directory,
 * a commit, deploy id or tag. Read past, the change would act on this agent's stack and the latest
 * (or previous) release instead, which `--yes` would then make live. Refused, saying what is expected.
 * Plain words ("to everyone", "to prod") are left to otherStackNamed and the intent table.
 */
export function unknownNameNamed(
  text: string,
  known: readonly string[],
  acting: string | null,
  ownNames: readonly string[],
): string | null {
  const allowed = new Set([...known, ...ownNames, ...(acting ? [acting] : [])].map((n) => n.toLowerCase()));
  const where = new RegExp(
    `(?:\\b(?:deploy|ship|release|promote|push|roll\\s*out|preview|pin|canary)\\s+(?:the\\s+)?|\\b${BEFORE_A_STACK})([^\\s,;:!?'"\`’”)]+)`,
    'giu',
  );
  for (const [, raw] of text.matchAll(where)) {
    const word = (raw as string).replace(/[./]+$/, '');
    if (!NAME_LIKE.test(word) || isReleaseName(word) || ABBREVIATIONS.has(word.toLowerCase())) continue;
    if (allowed.has(word.toLowerCase())) continue;
    return (
      `"${word.slice(0, 80)}" is neither a stack this agent knows nor a release I can read (a commit sha, a tag like v1.4.2, or a deploy id). Nothing was done. ` +
      `${acting ? `This agent acts on ${acting}; ` : ''}to act on another stack, ask again with it chosen (\`frontendops agent --stack <stack> "…"\`); to name a release, give its sha, tag or deploy id ("show the deploy history" lists them).`
    );
  }
  return null;
}

/**
 * Words that may stand where a change names what it acts on ("deploy …", "the latest …") without
 * naming an app: what a release is called, words of quality and of time, and the small words of a
 * sentence ("deploy the latest to prod", "the latest one", "deploy everything", "roll back the last deploy").
 */
const NOT_AN_APP = new Set(
  (
    'build builds version versions release releases commit commits change changes code site website web app ' +
    'application frontend front-end one ones main master head deploy deployment deploys update updates fix fixes ' +
    'tag tags sha revision snapshot bundle artifact artifacts work stuff thing things copy good green stable working ' +
    'passing published merged successful tested approved new canary preview and then please now first again it ' +
    'that this here there live to on in into onto for of from with at as by is was if when unless but so or ' +
    'without our my your their we you the a an production prod staging hotfix hotfixes patch patches nightly ' +
    'candidate rc beta alpha i me he she they them someone somebody which who whose what today tonight ' +
    'tomorrow asap immediately anyway instead already just also too yet right soon latest newest last ' +
    'previous prior earlier older old former current recent same next whole entire everything all both ' +
    'everyone everybody these those whatever pin pins cdn cache caches cloudfront edge push rollout rollback ' +
    'redeploy back out yesterday week month night morning afternoon evening weekend monday tuesday ' +
    'wednesday thursday friday saturday sunday team users visitors customers traffic people because since pls ' +
    'id ids freeze branch static public redesign redesigns refactor refactors refactoring rewrite rewrites ' +
    'feature features improvement improvements upgrade upgrades migration migrations experiment experiments ' +
    'merge merges pr prs bugfix bugfixes'
  ).split(' '),
);

/** Words that may follow an app's name in a request: where, when, and what of the app it is. */
const NAME_ENDS = new Set(
  (
    'to on in into onto for of from with at as by and then please now first again here there if when ' +
    'unless but so or without app application site website web frontend front-end live asap today anyway ' +
    'already too also right'
  ).split(' '),
);

/** A word that may be an app's name, quoted or not. */
const WORD = `['"\`‘“]?([\\p{L}][\\p{L}\\d._/-]*)`;
/** What stands between a change's verb and what it acts on: "the", "our", "yesterday's", "the latest"…. */
const DETERMINERS = `(?:(?:the|our|my|this|that|these|those|yesterday['’]?s|today['’]?s|previous|prior|earlier|older|former|old|latest|newest|current|live|last)\\s+)*`;
/**
 * A verb that is a noun here is no change's verb: "roll back, the deploy failed", "our update broke".
 * Nor is one whose subject is someone else, said as a reason: "pin it until we ship search" (but
 * "can you deploy shop?" and "we should deploy shop" ask the agent).
 */
const NOT_A_NOUN = `(?<!\\b(?:the|a|an|this|that|my|our|your|their|last|latest|newest|previous|prior|first|next|same|current|canary|yesterday['’]?s|today['’]?s|we|i|they|he|she|someone|somebody|who)\\s+)`;
/**
 * Where a request for a change names what it acts on: right after its verb ("deploy shop", "roll
 * back the shop", "roll back to yesterday's shop", "deploy shop's latest build", "canary shop at
 * 10%"), and after "build of", "preview of", "canary of", "deployment of" ("the latest build of shop",
 * "roll back the deploy of shop").
 */
const ACTED_ON = [
  new RegExp(
    `${NOT_A_NOUN}\\b(?:(?:re-?)?deploy|ship|release|publish|push|roll\\s*out|promote|update|un-?pin|pin|freeze|invalidate|abort|canary|(?:roll\\s*back|rollback|revert|undo|restore)(?:\\s+to)?)\\s+${DETERMINERS}${WORD}`,
    'giu',
  ),
  new RegExp(
    `\\b(?:build|version|release|preview|copy|canar(?:y|ie)|deploy(?:ment)?|rollout)s?\\s+of\\s+${DETERMINERS}${WORD}`,
    'giu',
  ),
];
/** What follows a person's name and 's: "Ada's fix", "Ada's changes". */
const WORK = /^['’]s\s+(?:fix|fixes|change|changes|commit|commits|work|pr|patch|patches)\b/i;
/** After "the latest" (or "newest"), a name-like word too: "deploy the latest sophia-dashboard". */
const AFTER_LATEST = /\b(?:latest|newest)\s+['"`‘“]?([\p{L}\d][\p{L}\d._/-]*)/giu;

/** How a refusal naming another app says what to ask instead: the change asked for, for this app. */
interface Asked {
  verb: string;
  say: (app: string) => string;
}
const deployAsked: Asked = { verb: 'deploy', say: (app) => `deploy the latest ${app}` };
/** Changes that make no build of the app: the refusal says their own words, not a deploy's. */
const ASKED: Partial<Record<Intent['kind'], Asked>> = {
  rollback: { verb: 'roll back', say: (app) => `roll back the ${app}` },
  pin: { verb: 'pin', say: () => 'pin the live release' },
  unpin: { verb: 'unpin', say: () => 'unpin' },
  'abort-canary': { verb: 'abort a canary of', say: () => 'abort the canary' },
  invalidate: { verb: 'invalidate the CDN of', say: () => 'invalidate the CDN' },
};

/**
 * The app a request for a change names where it names what the change acts on, when it is not this
 * repository's: "deploy shop", "roll back the shop", "deploy shop's latest build", "deploy the latest
 * shop" where frontendops.config.json names the app "blog". The agent acts only on the configured
 * app; read past, the words would change that app instead of the one asked for, which `--yes` would
 * then do. Refused before any tool is called, naming the app the configuration has. The app's name,
 * each of its parts ("dashboard" of "sophia-dashboard"), its directory's parts, a stack the
 * configuration knows and a release's name (a sha, tag or deploy id) are not another app; nor are the
 * words of NOT_AN_APP, an adverb or a past tense ("deploy quickly", "deploy failed"), a word that
 * describes what is named next ("the latest shiny build", "deploy the fixed build"), nor one the
 * sentence goes on from ("the latest Ada pushed"); a verb used as a noun ("the deploy failed") is
 * no change's verb. After a verb, a name-like word ("deploy release-candidate") is left to unknownNameNamed,
 * which says what such a word may be. `afterLatest`: "the latest …" anywhere counts, as it does for a
 * change that makes the app's build; a rollback's reason may speak of another thing ("roll back, the
 * latest broke checkout"). `asked`: the change asked for, which the refusal says how to ask of this
 * app (a deploy unless said).
 */
export function otherAppNamed(
  text: string,
  own: { app: string; appPath: string },
  known: readonly string[] = [],
  { afterLatest = true, asked = deployAsked }: { afterLatest?: boolean; asked?: Asked } = {},
): string | null {
  const mine = new Set(
    [own.app, ...own.app.split(/[-._]/), own.appPath, ...own.appPath.split('/'), ...known].map((w) =>
      w.toLowerCase(),
    ),
  );
  const named = [
    ...ACTED_ON.flatMap((where) => [...text.matchAll(where)].map((match) => ({ match, nameLike: false }))),
    ...(afterLatest ? [...text.matchAll(AFTER_LATEST)].map((match) => ({ match, nameLike: true })) : []),
  ];
  for (const { match, nameLike } of named) {
    const word = (match[1] as string).replace(/[./]+$/, '');
    const lower = word.toLowerCase();
    if (NOT_AN_APP.has(lower) || mine.has(lower) || isReleaseName(word) || /^\d/.test(word)) continue;
    // An adverb or a past tense ("deploy quickly", "roll back, deploy failed") names no app.
    if (/ly$|[^e]ed$/.test(lower) || (!nameLike && NAME_LIKE.test(word))) continue;
    const rest = text.slice(match.index + match[0].length);
    // Someone's work ("deploy Ada's fix", "Ada's changes") is the latest's too: no app's name.
    if (WORK.test(rest)) continue;
    // A word the sentence goes on from ("the latest shiny build", "the latest Ada pushed") describes
    // the release or starts a clause about it: no app's name. A name ends the phrase: punctuation,
    // 's, the end, an adverb, or a small word ("to staging", "now", "live", "frontend").
    const next = /^\s+([\p{L}][\p{L}'’-]*)/u.exec(rest)?.[1]?.toLowerCase();
    if (next !== undefined && !NAME_ENDS.has(next) && !/ly$/.test(next)) continue;
    return (
      `The request names "${word.slice(0, 80)}", but this repository's configuration (frontendops.config.json) has one app: ${own.app}. Nothing was done. ` +
      `To ${asked.verb} ${own.app}, say "${asked.say(own.app)}"; to ${asked.verb} ${word.slice(0, 80)}, ask in the repository whose configuration names it.`
    );
  }
  return null;
}

/** The changes that make (or show) a build of the configured app: "the latest" is its latest. */
const LATEST_BUILD_KINDS: ReadonlySet<Intent['kind']> = new Set(['deploy', 'promote', 'canary', 'preview']);

/**
 * Why the words name something other than what the agent would act on, read as `intent`: another
 * stack, another app, or a name that is neither (null: they name nothing else). Asked of every
 * request before any tool is called (agent/index.ts); a refusal stops it there.
 */
export function namedElsewhere(
  text: string,
  intent: Intent,
  where: { own: { app: string; appPath: string }; known: readonly string[]; acting: string | null },
): string | null {
  const { own, known, acting } = where;
  const elsewhere = otherStackNamed(text, known, acting);
  if (elsewhere) return elsewhere;
  const otherApp = isChange(intent)
    ? otherAppNamed(text, own, known, {
        afterLatest: LATEST_BUILD_KINDS.has(intent.kind),
        asked: ASKED[intent.kind] ?? deployAsked,
      })
    : null;
  if (otherApp) return otherApp;
  return isChange(intent) ? unknownNameNamed(text, known, acting, [own.app, own.appPath]) : null;
}
