/**
 * A canary's share is one rule on every surface: the CLI's --canary, the start_canary tool, the
 * agent's words and the engine that plans it (atomic-plan.test.ts), and the console
 * (console/canary.test.ts, browser-atomic.test.ts). 100% is a deploy, not a canary.
 */
import { describe, expect, it } from 'vitest';
import { parseRequest } from '../../src/agent/intents.ts';
import { parsePercent } from '../../src/cli/context.ts';
import { TOOLS } from '../../src/contract/tools.ts';
import { CANARY_SHARE, isCanaryShare } from '../../src/engine/canary-share.ts';

const SHA = '3f2c1a9d4e5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c';
const startCanary = (percent: number) =>
  TOOLS.start_canary.input.safeParse({ stack: 'prod', commit: SHA, percent }).success;

describe('a canary share: a whole percentage from 1 to 99, everywhere', () => {
  it('the rule itself', () => {
    expect(CANARY_SHARE).toEqual({ min: 1, max: 99 });
    expect([1, 10, 99].map(isCanaryShare)).toEqual([true, true, true]);
    expect([0, 100, 12.5, -1, Number.NaN, '10'].map(isCanaryShare)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('the CLI takes 1 and 99 and refuses 0 and 100, saying 100% is a deploy', () => {
    expect([parsePercent('1'), parsePercent('99%')]).toEqual([1, 99]);
    for (const wrong of ['0', '100', '100%']) {
      expect(() => parsePercent(wrong), wrong).toThrow(
        /^--canary takes a whole percentage from 1 to 99, in decimal digits \(e\.g\. 10 or 10%\); 100% is every visitor: that is a deploy/,
      );
    }
  });

  it('the start_canary tool takes 1 and 99 and refuses 0 and 100', () => {
    expect([1, 99].map(startCanary)).toEqual([true, true]);
    expect([0, 100].map(startCanary)).toEqual([false, false]);
  });

  it("the agent's words take 1% and 99% and refuse 0% and 100%", () => {
    expect(parseRequest('deploy to 1% first')).toMatchObject({ kind: 'canary', percent: 1 });
    expect(parseRequest('deploy to 99% first')).toMatchObject({ kind: 'canary', percent: 99 });
    expect(parseRequest('deploy to 0% first').kind).toBe('refuse');
    expect(parseRequest('deploy to 100% first').kind).toBe('refuse');
  });
});
