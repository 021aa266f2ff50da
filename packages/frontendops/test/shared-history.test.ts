import { describe, expect, it } from 'vitest';
import { sharedHistory } from './support/shared-history.ts';

/** A case's context whose skip() throws its note, as vitest's does (it ends the case). */
const skipping = {
  skip: (note?: string): never => {
    throw new Error(`skipped: ${note}`);
  },
};

describe('a shared history (test/support/shared-history.ts)', () => {
  it('a broken step: the steps after it do not run; its checking case throws its error, the others skip naming it', async () => {
    const history = sharedHistory('the deploy case');
    const ran: string[] = [];
    expect(await history.step('deploy', async () => ran.push('deploy'))).toBe(1);
    expect(
      await history.step('rollback', async () => {
        ran.push('rollback');
        expect(2, 'the rollback exit code').toBe(0);
      }),
    ).toBeUndefined();
    expect(await history.step('unpin', async () => ran.push('unpin'))).toBeUndefined();
    expect(ran).toEqual(['deploy', 'rollback']);
    const note =
      'skipped: it starts from the shared history, whose step "rollback" broke; the case that checks it says why: the deploy case';
    // The step before it passed; the one after it did not run.
    expect(() => history.check(skipping, 'deploy')).not.toThrow();
    expect(() => history.check(skipping, 'rollback')).toThrow(
      /^the shared history's step "rollback" broke: the rollback exit code/,
    );
    expect(() => history.check(skipping, 'unpin')).toThrow(note);
    expect(() => history.need(skipping)).toThrow(note);
    // A case starting from what the step before it left runs; from it or one after it, skipped.
    expect(() => history.need(skipping, 'deploy')).not.toThrow();
    expect(() => history.need(skipping, 'rollback')).toThrow(note);
    expect(() => history.need(skipping, 'unpin')).toThrow(note);
  });

  it('every step passed: the cases run', async () => {
    const history = sharedHistory('the deploy case');
    expect(await history.step('deploy', async () => 'deployed')).toBe('deployed');
    expect(() => history.check(skipping, 'deploy')).not.toThrow();
    expect(() => history.need(skipping)).not.toThrow();
  });
});
