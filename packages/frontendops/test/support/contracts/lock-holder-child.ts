/**
 * The other process of lock-holder.ts: opens the locker its parent describes and answers each order
 * (a JSON line on stdin) with one JSON line on stdout. Run with `node --import tsx`.
 */
import { createInterface } from 'node:readline';
import type { HeldLock } from '../../../src/ports.ts';
import { LOCKER_SPEC_ENV, type LockerSpec, openLocker } from './lock-holder.ts';

/** How far its parent moved this process's clock on (the S3 lock's `now`). */
let ahead = 0;
const locker = await openLocker(
  JSON.parse(process.env[LOCKER_SPEC_ENV] ?? '') as LockerSpec,
  () => Date.now() + ahead,
);
let held: HeldLock | undefined;

const answer = (reply: object) => process.stdout.write(`${JSON.stringify(reply)}\n`);
const failure = (error: unknown) => ({
  ok: false,
  code: (error as { code?: unknown }).code,
  message: (error as Error).message,
});

// One order at a time, in order.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const order = JSON.parse(line) as { op: string; name?: string; options?: never; ms?: number };
  queue = queue.then(async () => {
    try {
      if (order.op === 'acquire') held = await locker.acquire(order.name as string, order.options as never);
      if (order.op === 'release') await held?.release();
      if (order.op === 'advance') ahead += order.ms ?? 0;
      if (order.op === 'check') {
        if (!held) throw new Error('the lock holder process holds no lock to check');
        await held.assertHeld();
      }
      answer({ ok: true });
    } catch (error) {
      answer(failure(error));
    }
  });
});
