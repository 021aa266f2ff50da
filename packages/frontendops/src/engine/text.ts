/**
 * Text from outside (request words, commit subjects, tag messages, names) may carry characters that
 * a terminal acts on (erase a line, move the cursor, write the clipboard with OSC 52) or that split
 * a listing. Newline and tab are text; every other C0 control, DEL, the C1 controls and the Unicode
 * line and paragraph separators are not. Nor is half of a UTF-16 surrogate pair (JSON can carry one
 * as "\ud800"): it is no character at all, and the audit's canonical JSON cannot record it.
 *
 * Nor are the Unicode format characters (category Cf), which make text read differently than it is
 * ("Trojan Source"): the bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)
 * reorder what follows them, and the invisible ones (U+200B–U+200D, U+2060, U+FEFF, U+00AD, the tag
 * characters U+E0000–U+E007F…) hide or join parts of it. Words a person wrote are recorded for
 * others to read later (history, audit log, deploy tags): such text is refused where it comes in
 * (problemWithText) and escaped where it is shown (escapeControlCharacters).
 */
// One exception: a zero-width joiner between two pictographs is how one emoji is written (👩‍💻), and
// changes nothing about how the words read.
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /(?!(?<=\p{Extended_Pictographic}[\u{fe0f}\u{1f3fb}-\u{1f3ff}]?)\u200d(?=\p{Extended_Pictographic}))[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff\p{Cf}]/u;

/**
 * The most characters a person's words may hold, wherever they come in and are recorded: a request,
 * or why a change was made (a pin's reason, a change's message), by the CLI, an MCP client, the
 * console or the agent alike. One limit, so words one door takes another never refuses.
 */
export const WORDS_MAX = 2000;

export const hasControlCharacters = (text: string): boolean => CONTROL.test(text);

/** The text with every control character written as \uXXXX (one per UTF-16 unit, as JSON writes it). */
export const escapeControlCharacters = (text: string): string =>
  text.replace(new RegExp(CONTROL.source, 'gu'), (c) =>
    Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(
      '',
    ),
  );

/**
 * A line of a server's own log on stderr (the MCP servers', the console's): what it logs may quote
 * what others wrote (git's output, an S3 or GitHub reply, a marker's version, a lock's holder), so
 * control characters are escaped. Newline and tab stay text: an error's stack is read as lines.
 */
export const logLine = (prefix: string, words: string): string =>
  `${prefix} ${escapeControlCharacters(words)}\n`;

/** A notice as a `note:` line on stderr (the CLI's, the MCP servers', the console's): a logLine. */
export const noteLine = (notice: string): string => logLine('note:', notice);

/** The text on one line: CR, LF and tab written as \r, \n and \t, every other control character as \uXXXX. */
export const escapeOnOneLine = (text: string): string =>
  escapeControlCharacters(text.replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t'));

/** The text with every control character replaced by a space. */
export const withoutControlCharacters = (text: string): string =>
  text.replace(new RegExp(CONTROL.source, 'gu'), ' ');

/** Names of the format characters people meet (and attackers use); others are named by code point. */
const NAMES: Readonly<Record<string, string>> = {
  'U+00AD': 'SOFT HYPHEN',
  'U+061C': 'ARABIC LETTER MARK',
  'U+180E': 'MONGOLIAN VOWEL SEPARATOR',
  'U+200B': 'ZERO WIDTH SPACE',
  'U+200C': 'ZERO WIDTH NON-JOINER',
  'U+200D': 'ZERO WIDTH JOINER',
  'U+200E': 'LEFT-TO-RIGHT MARK',
  'U+200F': 'RIGHT-TO-LEFT MARK',
  'U+202A': 'LEFT-TO-RIGHT EMBEDDING',
  'U+202B': 'RIGHT-TO-LEFT EMBEDDING',
  'U+202C': 'POP DIRECTIONAL FORMATTING',
  'U+202D': 'LEFT-TO-RIGHT OVERRIDE',
  'U+202E': 'RIGHT-TO-LEFT OVERRIDE',
  'U+2060': 'WORD JOINER',
  'U+2061': 'FUNCTION APPLICATION',
  'U+2062': 'INVISIBLE TIMES',
  'U+2063': 'INVISIBLE SEPARATOR',
  'U+2064': 'INVISIBLE PLUS',
  'U+2066': 'LEFT-TO-RIGHT ISOLATE',
  'U+2067': 'RIGHT-TO-LEFT ISOLATE',
  'U+2068': 'FIRST STRONG ISOLATE',
  'U+2069': 'POP DIRECTIONAL ISOLATE',
  'U+FEFF': 'ZERO WIDTH NO-BREAK SPACE (byte order mark)',
};

const codePoint = (c: string): string =>
  `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why `text` is not plain words a person may have recorded, or null when it is: the first character
 * that is a control or a format character, named by its code point, with what to do. Callers prefix
 * what the text was ("Invalid --message: it contains …").
 */
export function problemWithText(text: string): string | null {
  const c = CONTROL.exec(text)?.[0];
  if (c === undefined) return null;
  const point = codePoint(c);
  if (/\p{Cf}/u.test(c)) {
    const name = NAMES[point];
    return (
      `it contains ${point}${name ? ` (${name})` : ''}, an invisible character that changes how the text reads ` +
      '(it can make it read differently than it is); remove it: type the text again rather than pasting it.'
    );
  }
  if (/[\ud800-\udfff]/u.test(c)) {
    return `it contains ${point}, half of a UTF-16 surrogate pair, which is no character; send the text as it was written.`;
  }
  return `it contains ${point}, a control character (only newlines and tabs are text: no control characters); write plain words.`;
}

/**
 * At most `max` UTF-16 units of `text` (the length JSON schemas count), never ending in half of a
 * surrogate pair: a cut through an emoji would leave text that cannot be recorded.
 */
export const clip = (text: string, max: number): string => {
  const cut = text.slice(0, max);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
};

/** The text with its first letter in capitals (a sentence made from a lowercase phrase). */
export const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** Whether a path in the repository is its top ("." as `appPath` may say, "./", ""): every commit touches it. */
export const isRepositoryTop = (path: string): boolean =>
  path.split(/[\\/]+/).every((part) => part === '' || part === '.');

/**
 * " touching <path>", to follow "commit(s)": nothing where the path is the repository's top, which
 * every commit touches ("the newest commit", never "the newest commit touching .").
 */
export const touching = (path: string): string => (isRepositoryTop(path) ? '' : ` touching ${path}`);
