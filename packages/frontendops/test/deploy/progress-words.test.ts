/**
 * The progress headline of a run that finishes a stopped change first names that change's kind, as
 * the engine's detail does: "Finishing a deploy" was said for a stopped canary start or rollback too.
 */
import { describe, expect, it } from 'vitest';
import { describeDeployEvent } from '../../src/deploy/progress-words.ts';

const resume = (detail: string) => describeDeployEvent({ type: 'step', step: 'resume', detail }).headline;

describe('the headline of finishing a stopped change first', () => {
  it('names the kind the engine found interrupted', () => {
    expect(resume('found interrupted canary-start 20261206T150000Z-abc123')).toBe(
      'Finishing a canary start that was interrupted, first.',
    );
    expect(resume('found interrupted rollback 20261206T150000Z-abc123')).toBe(
      'Finishing a rollback that was interrupted, first.',
    );
    expect(resume('found interrupted deploy 20261206T150000Z-abc123')).toBe(
      'Finishing a deployment that was interrupted, first.',
    );
  });
});
