/** How a retry loop of ours waits (lock takers, audit appenders): 50 ms doubling, at most 1 s. */
import { setTimeout as sleep } from 'node:timers/promises';

/** The wait before retry n (0 for the first). */
export const waitBeforeRetry = (attempt: number) => sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
