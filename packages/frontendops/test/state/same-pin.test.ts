/**
 * One "same pin" rule (state/pin.ts samePin) for its two callers, neither weakened: a pin a person
 * was shown (the console's unpin and promote, `frontendops unpin`: its release and when it was set)
 * and the pin a promote's approval was of (approval-gate.ts: release, commit, who set it, when).
 */
import { describe, expect, it } from 'vitest';
import { samePin } from '../../src/state/pin.ts';

const lifted = {
  deployId: '1111111-0123456789',
  commit: '1'.repeat(40),
  by: 'ada',
  at: '2026-12-07T10:00:00.000Z',
};
const record = { ...lifted, app: 'sophia-dashboard', reason: null, stack: 'prod', cause: 'pin' as const };

describe('samePin', () => {
  it('a pin a promote lifts: every field it names counts', () => {
    expect(samePin(lifted, { ...lifted })).toBe(true);
    expect(samePin(lifted, { ...lifted, by: 'mallory' })).toBe(false);
    expect(samePin(lifted, { ...lifted, commit: '2'.repeat(40) })).toBe(false);
    expect(samePin(lifted, { ...lifted, at: '2026-12-07T10:00:00.001Z' })).toBe(false);
    expect(samePin(lifted, { ...lifted, deployId: '2222222-0123456789' })).toBe(false);
  });

  it('a pin shown names its release and time: those count, against the pin there', () => {
    const shown = { deployId: lifted.deployId, at: lifted.at };
    expect(samePin(record, shown)).toBe(true);
    expect(samePin(record, { ...shown, at: '2026-12-07T10:00:01.000Z' })).toBe(false);
    expect(samePin(record, { ...shown, deployId: '2222222-0123456789' })).toBe(false);
  });

  it('none is the same as none only (null and undefined alike)', () => {
    expect(samePin(null, null)).toBe(true);
    expect(samePin(undefined, null)).toBe(true);
    expect(samePin(record, null)).toBe(false);
    expect(samePin(null, lifted)).toBe(false);
    expect(samePin(undefined, lifted)).toBe(false);
  });
});
