/**
 * The refusal of a canary's start or abort row named where a release is asked for: a rollback (the
 * CLI's, a server's, the agent's), a promote or redeploy, a preview. Said once, in these words,
 * wherever it is refused. Pure words, in the engine: the state layer and the agent both read it.
 */
import type { CanaryEvent } from './canary-event.ts';

export interface CanaryRowRefused {
  /** The row: its deploy id, its build, and which it is (a history item's `kind`, a record's `op`). */
  row: { deployId: string; app: string; commit: string; event: CanaryEvent };
  /** What was named: the row's deploy id, or a commit (a prefix of it) only canaries ever had. */
  named: string;
  stack: string;
  /** What was asked of it: "roll back to", "promote", "preview". */
  asked: string;
  /** What to ask instead, given the row's commit (its full sha), as the last sentence. */
  instead: (commit: string) => string;
  /** The agent's: said before anyone was asked to approve it. */
  unasked?: true;
}

export function canaryRowRefused(refused: CanaryRowRefused): string {
  const { row, named, stack, asked } = refused;
  const short = row.commit.slice(0, 7);
  const what = `${row.app}@${short}`;
  const subject =
    named === row.deployId
      ? `${row.deployId} is the history's row of a canary's ${row.event === 'canary-start' ? 'start' : 'abort'} of ${what}`
      : `${what} was only ever a canary (the history's ${row.event} rows)`;
  const unasked = refused.unasked ? ', and nobody was asked to approve it' : '';
  return `${subject}, not a deployment of ${stack}: only a share of visitors got that build, so it is no release to ${asked}${unasked}. Nothing was changed. ${refused.instead(row.commit)}`;
}
