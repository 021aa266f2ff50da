/**
 * A date a git host answered (a commit's author date, a tagger's date), as every backend (local git,
 * GitHub) gives it: ISO 8601 in UTC as toISOString writes it, or '' where it has none to give.
 */

/**
 * Anyone who can push chooses a commit's or a tag's timestamp, and git keeps any: a year past 9999
 * is written as it is ("10000-01-01T…", git and GitHub alike), which a Date cannot read (toISOString
 * would throw, failing the whole listing). Such a date, and any a Date cannot read, is ''; so is a
 * year a Date reads but toISOString writes out of four digits ("+010000-…"), which would sort before
 * every other date compared as text.
 */
export function isoDate(text: string | null | undefined): string {
  const at = new Date(text ?? '');
  if (Number.isNaN(at.getTime())) return '';
  const iso = at.toISOString();
  return /^\d{4}-/.test(iso) ? iso : '';
}

/** A tag's date as TagInfo holds it: none where the host gave none isoDate keeps. */
export function tagDate(text: string | null | undefined): { date?: string } {
  const iso = isoDate(text);
  return iso ? { date: iso } : {};
}
