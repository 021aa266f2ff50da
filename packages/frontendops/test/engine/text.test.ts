/**
 * Words a person wrote are recorded (history, audit log, deploy tags) and read later by others. Beside
 * control characters, Unicode format characters make text read differently than it is ("Trojan
 * Source"): bidi overrides and isolates reorder it, zero-width ones hide or join parts of it. They are
 * refused wherever such words come in (the CLI's --message, the MCP tools' request and reason
 * arguments), with the character named, and escaped wherever outside text is shown.
 */
import { describe, expect, it } from 'vitest';
import { requestArgs, requestText } from '../../src/contract/fields.ts';
import {
  clip,
  escapeControlCharacters,
  hasControlCharacters,
  isRepositoryTop,
  problemWithText,
  touching,
  withoutControlCharacters,
} from '../../src/engine/text.ts';

const BIDI = [
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200e',
  '\u200f',
  '\u061c',
];
const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u{e0041}'];

describe('Unicode format characters in words a person wrote', () => {
  it('bidi controls and invisible characters count as control characters', () => {
    for (const c of [...BIDI, ...INVISIBLE]) {
      const hex = c.codePointAt(0)?.toString(16);
      expect(hasControlCharacters(`roll back ${c}now`), hex).toBe(true);
    }
    // A joiner that joins no two pictographs joins nothing a person sees.
    for (const text of ['a\u200db', '👩\u200d', '\u200d💻', '👩\u200d b']) {
      expect(hasControlCharacters(text), JSON.stringify(text)).toBe(true);
    }
  });

  it('plain words in any script, emoji and accents do not', () => {
    for (const text of [
      'fix the KPI totals',
      'Größe — naïve café, 10% “quoted”',
      'שלום עולם',
      'مرحبا',
      '日本語のテキスト',
      'ship it 🚀',
      // One emoji written with zero-width joiners between its pictographs (and a skin tone).
      'pairing 👩\u200d💻 and 👋🏽\u200d♂️, ❤️\u200d🔥',
      'line one\nline two\twith a tab',
    ]) {
      expect(hasControlCharacters(text), text).toBe(false);
      expect(problemWithText(text), text).toBeNull();
    }
  });

  it('the problem names the character by its code point and says what to do', () => {
    expect(problemWithText('freeze \u202etidua eht')).toMatch(
      /^it contains U\+202E \(RIGHT-TO-LEFT OVERRIDE\), an invisible character that changes how the text reads \(it can make it read differently than it is\); remove it/,
    );
    expect(problemWithText('a\u200bb')).toMatch(/U\+200B \(ZERO WIDTH SPACE\)/);
    expect(problemWithText('tag \u{e0041}')).toMatch(/U\+E0041/);
    expect(problemWithText('a\u0601b')).toMatch(/U\+0601/);
    expect(problemWithText('erase\x1b[2K')).toMatch(/^it contains U\+001B, a control character/);
    expect(problemWithText('half \ud800')).toMatch(/U\+D800, half of a UTF-16 surrogate pair/);
  });

  it('escaped where shown, and replaced where recorded as refused', () => {
    expect(escapeControlCharacters('a\u202eb\u200bc')).toBe('a\\u202eb\\u200bc');
    // A character outside the BMP, escaped as its two UTF-16 halves (as JSON writes it).
    expect(escapeControlCharacters('x\u{e0041}y')).toBe('x\\udb40\\udc41y');
    expect(withoutControlCharacters('a\u202eb\u{e0041}c')).toBe('a b c');
  });
});

describe('the MCP tools’ text fields', () => {
  it('requestText refuses format characters, naming the code point', () => {
    const refused = requestText.safeParse('deploy \u202eoiduA');
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toMatch(/U\+202E \(RIGHT-TO-LEFT OVERRIDE\)/);
    // Control characters keep their message.
    expect(requestText.safeParse('deploy\x1b]52;c;x\x07').error?.issues[0]?.message).toMatch(
      /no other control characters/,
    );
    // The reason arguments derive from it: still checked with a lower limit.
    expect(requestText.max(500).safeParse('why \u200b').success).toBe(false);
    expect(requestText.safeParse('deploy the latest dashboard 🚀').success).toBe(true);
  });

  it('requestedBy, a name as the client claims it, is checked the same way', () => {
    expect(requestArgs.requestedBy.safeParse('mallory\u202e').success).toBe(false);
    expect(requestArgs.requestedBy.safeParse('mallory\x1b[2K').success).toBe(false);
    expect(requestArgs.requestedBy.safeParse('Ada Lovelace').success).toBe(true);
  });
});

describe('clip', () => {
  it('cuts at the length schemas count, never through a surrogate pair', () => {
    expect(clip('abc', 2)).toBe('ab');
    expect(clip('ab🚀', 3)).toBe('ab'); // the rocket is two units: half of it would be unrecordable
    expect(clip('ab🚀', 4)).toBe('ab🚀');
    expect(hasControlCharacters(clip(`${'x'.repeat(1999)}🚀`, 2000))).toBe(false);
  });
});

describe('touching: the commits of a path in the repository', () => {
  it('names the path, except the repository top, which every commit touches', () => {
    expect(`the newest commit${touching('apps/blog')}`).toBe('the newest commit touching apps/blog');
    for (const top of ['.', './', '', './/.']) {
      expect(isRepositoryTop(top), top).toBe(true);
      expect(`the newest commit${touching(top)}`).toBe('the newest commit');
    }
    expect(isRepositoryTop('.well-known')).toBe(false);
    expect(isRepositoryTop('./site')).toBe(false);
  });
});
