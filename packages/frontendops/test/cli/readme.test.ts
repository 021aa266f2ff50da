/**
 * The README's commands are the CLI's: every `frontendops <command> … --option` the README and the
 * documents it links to (docs/) show (the CLI synopsis, examples, commands quoted in the text) names a
 * command that exists, with options that command takes. The README had drifted: it showed
 * `pin --reason`, which the CLI never took (`--message` says why), so a reader's first try failed.
 * And every link between them leads somewhere: a file that exists, a heading it has.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.ts';
import { cli } from '../support/run-cli.ts';

const README = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
/** The README and the documents beside it, by their path from the repository's top. */
const DOCUMENTS = new Map<string, string>([
  ['README.md', README],
  ...readdirSync(`${REPO_ROOT}docs`)
    .filter((name) => name.endsWith('.md'))
    .map((name): [string, string] => [`docs/${name}`, readFileSync(`${REPO_ROOT}docs/${name}`, 'utf8')]),
]);

interface Usage {
  /** The command's words: ["audit", "verify"]. */
  command: string[];
  options: string[];
  /** The README's words, to say where it went wrong. */
  text: string;
}

/**
 * The commands the README shows: code lines and quoted spans that start with `frontendops` (or
 * `npx frontendops`). A line can hold several, apart by "·"; what follows two spaces or a "#" is its
 * comment. In "status | promote | abort [--yes]" the options belong to the last alternative.
 */
function usages(markdown: string): Usage[] {
  const found: Usage[] = [];
  const quoted = [...markdown.matchAll(/`((?:npx )?frontendops [^`\n]+)`/g)].map((m) => m[1] ?? '');
  const fenced = [...markdown.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].flatMap((m) =>
    (m[1] ?? '').split('\n').map((line) => line.replace(/^\$ /, '')),
  );
  for (const line of [...quoted, ...fenced]) {
    for (const part of line.split('·')) {
      const text = part
        .trim()
        .replace(/^npx /, '')
        .split(/ {2,}| #/)[0]
        ?.trim();
      if (!text?.startsWith('frontendops ')) continue;
      const tokens = text.split(/\s+/).slice(1);
      const command: string[] = [];
      for (let i = 0; i < tokens.length; i++) {
        const token = tokens[i] ?? '';
        if (token === '|' && command.length > 0) {
          command.pop(); // the alternative after the bar replaces the one before it
          continue;
        }
        if (!/^[a-z][a-z-]*$/.test(token)) break;
        command.push(token);
      }
      const options = [...text.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]);
      found.push({ command, options, text });
    }
  }
  return found;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');

describe('the README and docs/', () => {
  const shown = [...DOCUMENTS.values()].flatMap(usages);

  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const [path, text] of DOCUMENTS) {
      for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // another site
        const [file = '', anchor] = target.split('#');
        const linked = file ? join(dirname(path), file) : path;
        if (!existsSync(join(REPO_ROOT, linked))) {
          broken.push(`${path}: ${target} (no ${linked})`);
          continue;
        }
        if (anchor === undefined) continue;
        const headings = (DOCUMENTS.get(linked) ?? '').match(/^#{1,6} .*$/gm) ?? [];
        if (!headings.some((h) => anchorOf(h.replace(/^#+ /, '')) === anchor))
          broken.push(`${path}: ${target} (${linked} has no such heading)`);
      }
    }
    expect(broken).toEqual([]);
    expect([...DOCUMENTS.keys()]).toContain('docs/security.md');
  });

  it("send a reader elsewhere by a link, not by a section's name in quotes (sections moved to docs/)", () => {
    const unlinked = [...DOCUMENTS].flatMap(([path, text]) =>
      [...text.matchAll(/\bsee "[^"]+"/gi)].map((m) => `${path}: ${m[0]}`),
    );
    expect(unlinked).toEqual([]);
  });

  it('shows commands (the check reads what it means to check)', () => {
    expect(shown.length).toBeGreaterThan(40);
    expect(shown).toContainEqual(expect.objectContaining({ command: ['audit', 'verify'] }));
    expect(usages('`frontendops pin [--reason …]`')).toEqual([
      { command: ['pin'], options: ['--reason'], text: 'frontendops pin [--reason …]' },
    ]);
  });

  it('shows only commands and options the CLI takes', async () => {
    const helps = new Map<string, string>();
    const wrong: string[] = [];
    for (const { command, options, text } of shown) {
      // A bare command word (a "frontendops" in prose) is no usage to check.
      if (command.length === 0) continue;
      const key = command.join(' ');
      if (!helps.has(key)) {
        const help = await cli([...command, '--help']);
        helps.set(key, help.code === 0 ? help.stdout : '');
      }
      const help = helps.get(key) ?? '';
      if (!help) {
        wrong.push(`${text}: \`frontendops ${key}\` is not a command`);
        continue;
      }
      for (const option of options) {
        if (!new RegExp(`(^|[\\s,])${option}(?![\\w-])`, 'm').test(help))
          wrong.push(`${text}: \`frontendops ${key}\` takes no ${option}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the CLI synopsis shows every option of each command (--stack, said once above it, aside)', async () => {
    const section = README.slice(README.indexOf('\n## CLI\n'));
    const block = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    // A line that starts with spaces goes on with the one before it; a comment follows two spaces.
    const uncommented = (text: string) => text.trim().split(/ {2,}/)[0] ?? '';
    const lines: string[] = [];
    for (const line of block.split('\n')) {
      if (/^\s/.test(line) && lines.length) lines[lines.length - 1] += ` ${uncommented(line)}`;
      else lines.push(...line.split('·').map(uncommented).filter(Boolean));
    }
    const synopsis = usages(`\`\`\`\n${lines.join('\n')}\n\`\`\``);
    expect(synopsis.length).toBeGreaterThan(15);
    const missing: string[] = [];
    for (const { command, options, text } of synopsis) {
      // "canary promote | abort": both take what the line shows.
      const alternatives = /^frontendops canary promote \| abort/.test(text)
        ? [
            ['canary', 'promote'],
            ['canary', 'abort'],
          ]
        : [command];
      for (const words of alternatives) {
        const help = (await cli([...words, '--help'])).stdout;
        for (const [option] of help.matchAll(/(?<=^ {2}(?:-\w, )?)--[a-z][a-z-]*/gm)) {
          if (option === '--help' || (option === '--stack' && words[0] !== 'console')) continue;
          if (!options.includes(option)) missing.push(`frontendops ${words.join(' ')}: ${option}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
