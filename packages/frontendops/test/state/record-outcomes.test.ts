/**
 * What a deployment record is written with. No version wrote a 'rolled-back' outcome or a
 * `rolledBackBy` (a failed deploy switched back is recorded failed, its run saying `rolledBackTo`),
 * so the types name neither: a write of either fails the type check (`npm run typecheck`), which is
 * where this test fails. Records are read as stored (parseStateObject), any outcome passed on as it is.
 */
import { expect, it } from 'vitest';
import type { DeploymentRecord, Outcome } from '../../src/state/records.ts';

it('a record is written succeeded, failed or superseded, and with no rolledBackBy', () => {
  // Every outcome a record may be written with, each once: a key missing here fails the type check.
  const written: Record<Outcome, true> = { succeeded: true, failed: true, superseded: true };
  expect(Object.keys(written)).toEqual(['succeeded', 'failed', 'superseded']);
  // @ts-expect-error no version writes who rolled a deployment back into its record
  const rolledBackBy: keyof DeploymentRecord = 'rolledBackBy';
  expect(rolledBackBy).toBe('rolledBackBy');
});
