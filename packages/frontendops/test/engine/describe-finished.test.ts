/**
 * What a run says of a stopped change it finished (describeFinished, finishedFirst): what its finish
 * recorded. A finish recorded as anything but succeeded says that outcome; before, any outcome but
 * failed was said as a plain "recorded now", as if it had succeeded.
 */
import { expect, it } from 'vitest';
import { describeFinished, finishedFirst } from '../../src/engine/describe.ts';

const stopped = { deployId: 'a1a1a1a-0123456789', kind: 'deploy' };

it('a finish recorded as succeeded is said as recorded, and carries no outcome', () => {
  expect(finishedFirst({ ...stopped, outcome: 'succeeded' })).toEqual(stopped);
  expect(describeFinished(finishedFirst({ ...stopped, outcome: 'succeeded' }))).toBe(
    'finished the interrupted deployment a1a1a1a-0123456789, which had made it live; recorded now',
  );
});

it('a finish the CDN did not serve is said as recorded failed', () => {
  expect(describeFinished(finishedFirst({ ...stopped, outcome: 'failed' }))).toBe(
    'finished the interrupted deployment a1a1a1a-0123456789, which had made it live; recorded now as failed (the CDN did not serve it)',
  );
});

it('a finish recorded as another outcome is said as such, not as a plain "recorded now"', () => {
  const said = finishedFirst({ ...stopped, outcome: 'superseded' });
  expect(said).toEqual({ ...stopped, outcome: 'superseded' });
  expect(describeFinished(said)).toBe(
    'finished the interrupted deployment a1a1a1a-0123456789, which had made it live; recorded now as superseded',
  );
});
