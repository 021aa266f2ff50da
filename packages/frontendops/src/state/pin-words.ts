/** How a pin a rollback replaced is told; light enough for the CLI's renderers to load at start. */
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
