/**
 * The backoff every AWS client of ours uses (adapters/retry.ts), through the SDK's own standard
 * strategy: full jitter under base × 2ⁿ, throttles from a capped base, the SDK's attempt limit kept.
 */
import { describe, expect, it } from 'vitest';
import {
  FAILURE_BACKOFF_MS,
  fullJitterBackoff,
  retryStrategy,
  THROTTLE_BACKOFF_MS,
} from '../../src/adapters/retry.ts';

describe('fullJitterBackoff', () => {
  it('waits a random time under base × 2ⁿ: never more, and all of it when the draw is highest', () => {
    const highest = fullJitterBackoff(() => 0.999_999);
    highest.setDelayBase(FAILURE_BACKOFF_MS);
    expect([0, 1, 2, 3].map((n) => highest.computeNextBackoffDelay(n))).toEqual([49, 99, 199, 399]);
    const lowest = fullJitterBackoff(() => 0);
    lowest.setDelayBase(FAILURE_BACKOFF_MS);
    expect(lowest.computeNextBackoffDelay(3)).toBe(0);
  });

  it('caps the base the SDK asks for throttles (1 s in its 2026 defaults) at THROTTLE_BACKOFF_MS', () => {
    const backoff = fullJitterBackoff(() => 0.999_999);
    backoff.setDelayBase(1_000);
    expect([0, 1, 2].map((n) => backoff.computeNextBackoffDelay(n))).toEqual([
      THROTTLE_BACKOFF_MS - 1,
      THROTTLE_BACKOFF_MS * 2 - 1,
      THROTTLE_BACKOFF_MS * 4 - 1,
    ]);
    expect(THROTTLE_BACKOFF_MS).toBeGreaterThan(FAILURE_BACKOFF_MS);
  });
});

describe('retryStrategy', () => {
  const throttle = { errorType: 'THROTTLING' as const };

  it('retries a throttle after no more than THROTTLE_BACKOFF_MS, and stops at the attempt limit', async () => {
    // The highest draw: our backoff waits just under THROTTLE_BACKOFF_MS, the SDK's own up to 1 s.
    // The wait is timed from below (a busy machine only adds to it) and, loosely, from above.
    const strategy = retryStrategy(2, () => 0.999_999);
    const first = await strategy.acquireInitialRetryToken('s3');
    const started = performance.now();
    const second = await strategy.refreshRetryTokenForRetry(first, throttle);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(THROTTLE_BACKOFF_MS - 10);
    expect(waited).toBeLessThan(THROTTLE_BACKOFF_MS + 500);
    expect(second.getRetryCount()).toBe(1);
    await expect(strategy.refreshRetryTokenForRetry(second, throttle)).rejects.toThrow(/No retry token/);
  });

  it('does not retry what the SDK does not classify as worth it (a client error)', async () => {
    const strategy = retryStrategy(5);
    const token = await strategy.acquireInitialRetryToken('s3');
    await expect(strategy.refreshRetryTokenForRetry(token, { errorType: 'CLIENT_ERROR' })).rejects.toThrow();
  });
});
