/**
 * What a run says of a stopped change it finished (describeFinished, finishedFirst): what its finish
 * recorded. A finish recorded as anything but succeeded says that outcome; before, any outcome but
 * failed was said as a plain "recorded now", as if it had succeeded.
 */
import { expect, it } from 'vitest';
import { changeNoun, describeFinished, finishedFirst, operationWords } from '../../src/engine/describe.ts';

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

it('an atomic operation is named in the words its command says, never by its internal name', () => {
  // Before, a refusal said "nothing of this canary-start was written" (the op as stored).
  const said = ['deploy', 'rollback', 'canary-start', 'canary-promote', 'canary-abort', 'migrate'].map(
    operationWords,
  );
  expect(said).toEqual(['deploy', 'rollback', 'canary start', 'canary promote', 'canary abort', 'migration']);
  expect(changeNoun('deploy')).toBe('deployment');
  expect(changeNoun('canary-start')).toBe('canary start');
});
