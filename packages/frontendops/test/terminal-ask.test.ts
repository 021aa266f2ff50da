/**
 * The yes/no every terminal prompt that approves a change asks (src/terminal-ask.ts): only "y" or
 * "yes" is a yes.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { askYesNo, isYes } from '../src/terminal-ask.ts';

describe('a yes/no question at a terminal', () => {
  it('is a yes only for "y" or "yes", in any case; anything else, Enter included, is a no', () => {
    for (const answer of ['y', 'Y', 'yes', ' YES ', 'Yes\r']) expect(isYes(answer), answer).toBe(true);
    for (const answer of ['', 'n', 'no', 'yep', 'ye', 'y y', 'oui'])
      expect(isYes(answer), answer).toBe(false);
  });

  it('asks with "[y/N]" after the question and reads one line', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk) => {
      shown += chunk;
    });
    const answered = askYesNo('Approve this?', input, output);
    input.end('yes\n');
    expect(await answered).toBe(true);
    expect(shown).toBe('Approve this? [y/N] ');
  });
});
