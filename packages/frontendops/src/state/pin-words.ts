/** How a pin a rollback replaced is told, and the pin a rollback sets; light enough for the CLI's renderers to load at start. */
import { shortSha } from '../engine/ids.ts';
import { escapeOnOneLine } from '../engine/text.ts';
import type { PinView } from '../read/views.ts';

/** A pin a rollback replaced, as the pin view carries it. */
export type ReplacedPin = NonNullable<PinView['replaces']>;

/** 'the pin erin set on sophia-dashboard@ccccccc (<deploy id>) at <at>: "release freeze"'. */
export function describeReplacedPin(was: ReplacedPin): string {
  const why = was.reason ? `: "${escapeOnOneLine(was.reason)}"` : '';
  return `the pin ${escapeOnOneLine(was.by)} set on ${was.app}@${shortSha(was.commit)} (${was.deployId}) at ${was.at}${why}`;
}

/**
 * A pin as a dry run knows it before its run sets it (the one a rollback leaves, pinRolledBack): a
 * pin's fields (a pin record's: the view's and its stack; pin.ts, which this light file does not load)
 * but when it is set, which the run's pin has.
 */
export type PinAhead = Omit<PinView, 'at'> & { stack: string; at?: string };

/**
 * The pin a rollback of `release`, asked for by `request`, sets when it is finished
 * (pinRolledBack), as its dry run says it (the CLI's --json `pinned`).
 */
export const rollbackPinAhead = (
  stack: string,
  release: { deployId: string; app: string; commit: string },
  request: { actor: string; message?: string | null | undefined },
): PinAhead => ({
  stack,
  deployId: release.deployId,
  app: release.app,
  commit: release.commit,
  by: request.actor,
  reason: request.message ?? null,
  cause: 'rollback',
});

/** The pin a stopped rollback (a dry run's StoppedChange with `pins`) sets once finished. */
export const stoppedRollbackPin = (
  stack: string,
  stopped: { deployId: string; app: string; commit: string; by?: string; reason?: string | null },
): PinAhead => rollbackPinAhead(stack, stopped, { actor: stopped.by ?? 'unknown', message: stopped.reason });
