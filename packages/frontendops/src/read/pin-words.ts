/**
 * What a pin (and a running canary) does to other changes, in the words every surface uses: a deploy
 * past it is refused (PINNED, CONFLICT), never queued, so no answer may say that deploys "wait".
 * Its one import has none of its own: the console's browser bundle reads it too.
 */
import { capitalise, escapeOnOneLine } from '../engine/text.ts';

/** After "pinned to <release>: " or as a sentence's end. */
export const PIN_EFFECT = 'deploys of other releases are refused until someone promotes a release or unpins';

/**
 * The PINNED refusal, in one set of words for the run, its dry run, the tools and the console:
 * `pinnedTo` ("<stack> is pinned to <the pin>"), the rule (PIN_EFFECT), that nothing changed, and the
 * two ways forward; `how`, where each is done (the CLI's commands and the agent's words; none: the
 * console's buttons).
 */
export const pinnedRefusal = (pinnedTo: string, how?: { promote: string; unpin: string }): string =>
  `${pinnedTo}: ${PIN_EFFECT}, so nothing was changed. Promote a release — it goes live for everyone and the pin is cleared${how ? ` (${how.promote})` : ''} — or unpin${how ? ` (${how.unpin})` : ''} and deploy as usual.`;

/** What an unpin does, after "Unpinned <stack> (...)." as a sentence: nothing live changes. */
export const UNPIN_EFFECT = 'deploys go through again; what is live did not change';

/**
 * An unpin that lifted the pin `was`, named the same on every surface: its release and who set it
 * ("sophia-dashboard@3f2c1a9 by ada").
 */
export const unpinnedSentence = (stack: string, was: { app: string; commit: string; by: string }): string =>
  `Unpinned ${stack} (it was pinned to ${was.app}@${was.commit.slice(0, 7)} by ${escapeOnOneLine(was.by)}). ${capitalise(UNPIN_EFFECT)}.`;

/**
 * Why an unpin on a protected stack is not the agent's (or any MCP client's) to make, in one set of
 * words for the infra server's refusal and the agent's dry run: lifting the pin lets the next
 * approved deploy make any release live, an older one included.
 */
export const protectedUnpin = (stack: string): string =>
  `${stack} is protected: lifting its pin lets deploys of other releases, older ones included, go live, which a person decides. Nothing was changed. Unpin at a terminal: \`frontendops unpin --stack ${stack}\`, or promote_release, which a person approves, to make a release live and lift the pin.`;

/** An unpin of a stack no pin held. */
export const notPinned = (stack: string): string => `${stack} was not pinned; nothing changed.`;

/**
 * A stopped rollback someone asked for, finished by the next change of its release: its last step
 * pins that release (the rollback's decision), and a deploy of it leaves the pin. Said by the dry
 * run (`done` false) and the run, after the words that name the finish.
 */
export const finishedRollbackPin = (stack: string, release: string, done: boolean): string =>
  `${done ? 'the rollback it finished pinned' : 'finishing the rollback pins'} ${stack} to ${release}, and the pin stays: ${PIN_EFFECT}`;

/** What a running canary does to other changes. */
export const CANARY_EFFECT =
  'deploys and rollbacks are refused until the canary is promoted (everyone gets it) or aborted (everyone goes back to the live release)';
