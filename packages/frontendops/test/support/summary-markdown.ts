/**
 * A job summary as GitHub reads its markdown (GFM, cmark-gfm's rules): what is left as markup once
 * fenced code blocks and code spans are taken out, and what those hold, as a reader sees it. Text
 * left as markup is where a link, an image GitHub fetches, HTML or a heading could be; text in code
 * is shown as it is.
 *
 * A table row is split into cells at each `|` that no backslash escapes (read from the left, a
 * backslash escaping any ASCII punctuation, itself included: cmark-gfm's scanner also takes the `|`
 * of `\\|` as escaped, so a summary is to have no backslash before a cell's `\|`), and `\|` is a
 * cell's `|` before its inlines are read. A code
 * span opens at a run of backticks and closes at the next run of the same length; with none, the run
 * is text. A fenced block closes at a line of at least as many of its fence's characters.
 */
export interface SummaryReading {
  /** The summary's lines, each code span written `<code>` and each fenced block one line `<fenced>`. */
  markup: string[];
  /** The same lines as a reader sees them: each code span and fenced block as what it shows. */
  shown: string[];
}

const PUNCTUATION = /[!-/:-@[-`{-~]/;

export function readSummary(markdown: string): SummaryReading {
  const markup: string[] = [];
  const shown: string[] = [];
  const lines = markdown.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const open = /^ {0,3}(`{3,}(?=[^`]*$)|~{3,})/.exec(line);
    if (open) {
      const fence = open[1] as string;
      const closes = new RegExp(`^ {0,3}${fence[0]}{${fence.length},}[ \\t]*$`);
      const body: string[] = [];
      while (++i < lines.length && !closes.test(lines[i] as string)) body.push(lines[i] as string);
      markup.push('<fenced>');
      shown.push(body.join('\n'));
      continue;
    }
    if (line.startsWith('|')) {
      const cells = splitRow(line).map((cell) => inline(cell.replace(/\\\|/g, '|').trim()));
      markup.push(`| ${cells.map((cell) => cell.markup).join(' | ')} |`);
      shown.push(`| ${cells.map((cell) => cell.shown).join(' | ')} |`);
      continue;
    }
    const read = inline(line);
    markup.push(read.markup);
    shown.push(read.shown);
  }
  return { markup, shown };
}

/** The cells of a table row (its leading and trailing pipes dropped). */
function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  for (let i = 1; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\\' && PUNCTUATION.test(line[i + 1] ?? '')) {
      cell += c + line[++i];
    } else if (c === '|') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  if (cell.trim()) cells.push(cell);
  return cells;
}

/** The text with each code span written `<code>`, and as shown: each code span as its content. */
function inline(text: string): { markup: string; shown: string } {
  let out = '';
  let shown = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '\\' && PUNCTUATION.test(text[i + 1] ?? '')) {
      out += text.slice(i, i + 2);
      shown += text.slice(i, i + 2);
      i += 2;
      continue;
    }
    const run = /^`+/.exec(text.slice(i))?.[0];
    if (!run) {
      out += text[i];
      shown += text[i];
      i += 1;
      continue;
    }
    const after = i + run.length;
    const close = new RegExp(`(?<!\`)\`{${run.length}}(?!\`)`, 'g');
    close.lastIndex = after;
    const found = close.exec(text);
    if (!found) {
      out += run;
      shown += run;
      i = after;
      continue;
    }
    const content = text.slice(after, found.index);
    out += '<code>';
    shown += /^ .*[^ ].* $/.test(content) ? content.slice(1, -1) : content;
    i = found.index + run.length;
  }
  return { markup: out, shown };
}
