/**
 * Text from outside (request words, commit subjects, tag messages, names) may carry characters that
 * a terminal acts on (erase a line, move the cursor, write the clipboard with OSC 52) or that split
 * a listing. Newline and tab are text; every other C0 control, DEL, the C1 controls and the Unicode
 * line and paragraph separators are not. Nor is half of a UTF-16 surrogate pair (JSON can carry one
 * as "\ud800"): it is no character at all, and the audit's canonical JSON cannot record it.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/u;

export const hasControlCharacters = (text: string): boolean => CONTROL.test(text);

/** The text with every control character written as \uXXXX. */
export const escapeControlCharacters = (text: string): string =>
  text.replace(
    new RegExp(CONTROL.source, 'gu'),
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** The text with every control character replaced by a space. */
export const withoutControlCharacters = (text: string): string =>
  text.replace(new RegExp(CONTROL.source, 'gu'), ' ');
