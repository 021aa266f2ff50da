/** How a pin a rollback replaced is told; light enough for the CLI's renderers to load at start. */
import { shortSha } from '../engine/ids.ts';
import { escapeOnOneLine } from '../engine/text.ts';

export interface ReplacedPin {
  deployId: string;
  app: string;
  commit: string;
  by: string;
  reason: string | null;
  at: string;
}

/** 'the pin erin set on sophia-dashboard@ccccccc (<deploy id>) at <at>: "release freeze"'. */
export function describeReplacedPin(was: ReplacedPin): string {
  const why = was.reason ? `: "${escapeOnOneLine(was.reason)}"` : '';
  return `the pin ${escapeOnOneLine(was.by)} set on ${was.app}@${shortSha(was.commit)} (${was.deployId}) at ${was.at}${why}`;
}
