/** One rule for a path inside a directory: a name starting ".." (`..data`) is inside, `..` is not. */
import { describe, expect, it } from 'vitest';
import { shownPath } from '../src/private-file.ts';

describe('a path inside a directory', () => {
  it("a message shows a file in the home directory as ~/…, a name starting '..' too, never the home", () => {
    const home = '/home/ada';
    expect(shownPath('/home/ada/..cache/env.json', home)).toBe('~/..cache/env.json');
    expect(shownPath('/home/ada/project/.frontendops/env.json', home)).toBe(
      '~/project/.frontendops/env.json',
    );
    for (const outside of ['/home/adam/env.json', '/home/env.json', '/srv/env.json']) {
      expect(shownPath(outside, home), outside).toBe(outside);
    }
  });
});
