/**
 * The README's commands are the CLI's: every `frontendops <command> … --option` the README shows
 * (its CLI synopsis, its examples, commands quoted in its text) names a command that exists, with
 * options that command takes. The README had drifted: it showed `pin --reason`, which the CLI never
 * took (`--message` says why), so a reader's first try failed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.ts';
import { cli } from '../support/run-cli.ts';

const README = readFileSync(`${REPO_ROOT}README.md`, 'utf8');

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

describe('the README', () => {
  const shown = usages(README);

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
});
