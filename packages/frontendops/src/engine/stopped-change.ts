/**
 * What a stopped change was, as the dry run, the run's summary and every read model name it: a leaf
 * module, so the read models can say it without importing the deploy code's types.
 */
/** A change that went live and stopped before it was verified and recorded: what it was. */
export interface StoppedChange {
  deployId: string;
  /** deploy, rollback, or the atomic operation (canary-promote…). */
  kind: string;
  app: string;
  commit: string;
  /**
   * A rollback someone asked for: finishing it pins its release as its own last step (pinRolledBack),
   * in place of any pin, or keeps the pin it already set.
   */
  pins?: true;
  /** With `pins`: who asked for the rollback and in what words, which its pin records (by, reason). */
  by?: string;
  reason?: string | null;
}
