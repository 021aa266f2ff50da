/**
 * A history several cases of a file start from (a deploy, a rollback…), run once in beforeAll. A step
 * that breaks is not thrown there, where it would fail every case of the file with the same error:
 * the steps after it do not run, the case that checks it throws the step's own error, named (check),
 * and each case that starts from what the history left is skipped, saying which step broke and which
 * case says why (need).
 */

/** What a case gives check and need: its context (vitest's TestContext has it). */
export interface Skippable {
  skip(note?: string): never;
}

export interface SharedHistory {
  /**
   * Runs `work` as the step `name` (its own expect()s check it), unless a step before it broke. Its
   * result; undefined when it did not run or broke.
   */
  step<T>(name: string, work: () => Promise<T>): Promise<T | undefined>;
  /**
   * In the case that checks the step `name`: the step's error when it broke, its message led by the
   * step's name; skipped when a step before it broke.
   */
  check(context: Skippable, name: string): void;
  /**
   * In a case that starts from the history: skipped when a step broke, naming it; given `upTo`, only
   * when that step (or one before it) broke.
   */
  need(context: Skippable, upTo?: string): void;
}

/** `checkedBy`: the cases that call check(), as the skip notes name them (their names, say). */
export function sharedHistory(checkedBy: string): SharedHistory {
  const ran: string[] = [];
  let broken: { name: string; error: unknown } | null = null;
  const skip = (context: Skippable, { name }: { name: string }) =>
    context.skip(
      `it starts from the shared history, whose step "${name}" broke; the case that checks it says why: ${checkedBy}`,
    );
  return {
    async step(name, work) {
      if (broken) return undefined;
      ran.push(name);
      try {
        return await work();
      } catch (error) {
        if (error instanceof Error)
          error.message = `the shared history's step "${name}" broke: ${error.message}`;
        broken = { name, error };
        return undefined;
      }
    },
    check(context, name) {
      if (!broken) return;
      if (broken.name === name) throw broken.error;
      if (!ran.includes(name)) skip(context, broken);
    },
    need(context, upTo) {
      if (!broken) return;
      if (upTo && ran.includes(upTo) && broken.name !== upTo) return;
      skip(context, broken);
    },
  };
}
