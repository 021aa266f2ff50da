/**
 * How every AWS client of ours retries: the SDK's standard strategy — its attempt count, its retry
 * quota (a client that keeps failing stops retrying) and its classification of what is worth a retry
 * (5xx, reset connections, throttling) — with our backoff: exponential with full jitter, from 50 ms
 * for a failure and from 100 ms for a throttle (503 SlowDown, Throttling).
 *
 * The SDK's own default waits a throttle out from 1 s (a random wait of up to 1 s, then 2 s, 4 s…).
 * A deploy's state writes run one after another, so each SlowDown among them held the whole deploy
 * for that long: with 10% of S3 attempts failing, deploys took up to 3× their fault-free time. A
 * shorter wait does not make us hammer a throttling S3: what bounds our request rate is the number of
 * requests in flight (32 copies at most, far below the thousands per second S3 serves a prefix), and
 * the SDK's retry quota still stops the retries of a client that keeps failing.
 */
import {
  MAXIMUM_RETRY_DELAY,
  StandardRetryStrategy,
  type StandardRetryStrategyOptions,
} from '@smithy/core/retry';

export const FAILURE_BACKOFF_MS = 50;
export const THROTTLE_BACKOFF_MS = 100;

type Backoff = NonNullable<StandardRetryStrategyOptions['backoff']>;

/**
 * The wait before retry n (0 for the first): a random time up to base × 2ⁿ. The strategy sets the
 * base before each wait: FAILURE_BACKOFF_MS, or its own (longer) throttling base, capped here.
 */
export function fullJitterBackoff(random: () => number = Math.random): Backoff {
  let base = FAILURE_BACKOFF_MS;
  return {
    setDelayBase(delay) {
      base = Math.min(delay, THROTTLE_BACKOFF_MS);
    },
    computeNextBackoffDelay(retries) {
      return Math.floor(random() * Math.min(base * 2 ** retries, MAXIMUM_RETRY_DELAY));
    },
  };
}

/**
 * The retry strategy for an AWS SDK client (its `retryStrategy`), making at most `maxAttempts`
 * attempts; `random` is the jitter's draw (a test fixes it).
 */
export function retryStrategy(
  maxAttempts: number,
  random: () => number = Math.random,
): StandardRetryStrategy {
  return new StandardRetryStrategy({
    maxAttempts,
    baseDelay: FAILURE_BACKOFF_MS,
    backoff: fullJitterBackoff(random),
  });
}
