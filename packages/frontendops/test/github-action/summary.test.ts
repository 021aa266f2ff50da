/**
 * The job summary (GITHUB_STEP_SUMMARY, markdown GitHub renders on the run's page) shows text from
 * outside: the message input (often a commit message), the stack input, the agent's request and
 * answer, and what the command reports (an error naming outside text, the site URL, ids). None of it
 * may become markup there: no link, no image (which GitHub fetches when the page is shown), no HTML,
 * no heading. Each value is shown as it was, as code. Here a stand-in CLI reports hostile values;
 * run.test.ts runs the real one with a hostile message.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.ts';
import { runAction } from '../../src/github-action/run.ts';
import { readSummary } from '../support/summary-markdown.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-summary-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HOSTILE = [
  '![pixel](https://evil.example/p.png)',
  '[click here](https://evil.example/login)',
  '<img src="https://evil.example/i.png"> <a href="https://evil.example">a</a> <details open>',
  'https://evil.example/bare www.evil.example',
  '`one` ``two`` ```three``` `',
  '**bold** _em_ ~~gone~~ \\| a pipe | another \\',
].join(' ');

/** The action run with `env` and a stand-in CLI printing `result` (as --json does), exiting `code`. */
async function summaryOf(env: Record<string, string>, result: object, code: number) {
  const file = join(dir, `summary-${Math.random().toString(36).slice(2)}.md`);
  const stdin = new PassThrough();
  stdin.end();
  const io: CliIo = {
    stdout: { write: () => true },
    stderr: { write: () => true },
    stdin,
    env: { GITHUB_STEP_SUMMARY: file, ...env },
    cwd: dir,
    untilStopped: () => new Promise<void>(() => {}),
  };
  const ran = await runAction(io, async (_argv, cliIo) => {
    cliIo.stdout.write(JSON.stringify(result));
    return code;
  });
  expect(ran.exitCode).toBe(code);
  return readSummary(await readFile(file, 'utf8'));
}

/** A row of the table: a label, and a value in code (its pipes, between code spans, text). */
const ROW =
  /^\| (Stack|Outcome|Commit|Deploy id|Deploy tag|Site|Files copied|CDN invalidation|Why) \| (<code>|\|)+ \|$/;

/** The summary's lines that are not its own markup: its heading, the table's frame, labelled values in code. */
const notOwn = (markup: string[], heading: RegExp) =>
  markup.filter(
    (line, i) =>
      !(i === 0
        ? heading.test(line)
        : ['', '|  |  |', '| --- | --- |', '> <code>', '<fenced>'].includes(line) || ROW.test(line)),
  );

describe('frontendops action: the job summary shows outside text as text', () => {
  it('a deploy: the message, the stack and what the command reports are code, each as it was', async () => {
    const stack = '# [prod](https://evil.example)';
    const error = `refused:\n# Heading\n> quoted\n${HOSTILE}`;
    const { markup, shown } = await summaryOf(
      { INPUT_COMMAND: 'deploy', INPUT_STACK: stack, INPUT_MESSAGE: `fix\n\n# Heading\n${HOSTILE}` },
      {
        error: { message: error },
        siteUrl: 'javascript:alert(1)//<img src=x>',
        deployId: '`3f2c1a9`-0123456789',
        tag: '](https://evil.example)',
        commit: '![c](https://evil.example/c.png)',
        copied: 3,
        invalidation: { ids: ['<img src=x>', 'I2'], paths: ['/*'] },
      },
      1,
    );
    expect(notOwn(markup, /^### ❌ FrontendOps deploy: <code>$/)).toEqual([]);
    expect(shown).toEqual([
      `### ❌ FrontendOps deploy: ${stack}`,
      '',
      '|  |  |',
      '| --- | --- |',
      `| Stack | ${stack} |`,
      '| Outcome | failed |',
      '| Commit | ![c](ht |',
      '| Deploy id | `3f2c1a9`-0123456789 |',
      '| Deploy tag | ](https://evil.example) |',
      '| Site | javascript:alert(1)//<img src=x> |',
      '| Files copied | 3 |',
      '| CDN invalidation | <img src=x>, I2 (1 path) |',
      `| Why | fix  # Heading ${HOSTILE} |`,
      '',
      `> refused: # Heading > quoted ${HOSTILE}`,
      '',
      '',
    ]);
  });

  it('the agent: its request and its answer are code, the answer’s backticks and lines kept', async () => {
    const answer = `Deployed.\n\`\`\`\n# Heading\n<img src="https://evil.example/i.png">\n\`\`\`\`\n~~~\n${HOSTILE}`;
    const { markup, shown } = await summaryOf(
      { INPUT_COMMAND: 'agent', INPUT_STACK: 'prod', INPUT_REQUEST: HOSTILE },
      { outcome: 'succeeded', message: answer },
      0,
    );
    expect(notOwn(markup, /^### ✅ FrontendOps agent: <code>$/)).toEqual([]);
    expect(shown).toContain(`| Why | ${HOSTILE} |`);
    expect(shown).toContain(answer);
  });
});
