/**
 * Text from outside (commit subjects and authors from git, a model's answer, tool-call details) is
 * shown in the console page with its control and format characters visible, as the CLI shows them
 * (engine/text.ts escapeControlCharacters): U+202E RIGHT-TO-LEFT OVERRIDE would otherwise reorder a
 * commit subject in the very dialog a person confirms a deploy in, U+200B hide a difference, ESC
 * and other C0 controls ride along unseen. In Chromium, over the package's prebuilt UI.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import type { AgentResult } from '../../src/agent/types.ts';
import { defaultConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { hasControlCharacters } from '../../src/engine/text.ts';
import { type FileBrowser, hasChromium, openChromium } from '../support/browser.ts';
import { APP, startConsoleEnv } from '../support/console-env.ts';
import { signedInPage } from '../support/console-sign-in.ts';
import { publishAsCi, STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import type { TestRepo } from '../support/git-repo.ts';

/** Reads "fix: totals (cod.exe)" when the override is acted on; it is something else. */
const SUBJECT = 'fix: totals \u202e(exe.doc)\u202c done\u200b \u001b[31mred';
/** Markup a page would act on if it took a subject as HTML or markdown. */
const MARKUP = 'docs: <img src=x onerror="document.title=\'owned\'"> **bold** [more](javascript:alert(1))';
const ANSWER = 'Live: \u202e3333333\u202c. \u0007Nothing\u2066 else.';

let t: TestDeployEnv;
let repo: TestRepo;
let server: ConsoleServer;
let browser: FileBrowser;
let page: Page;

describe.skipIf(!hasChromium)('text from outside in the console page', () => {
  beforeAll(async () => {
    ({ t, repo } = await startConsoleEnv());
    // A new dashboard commit with such a subject, its build published: the latest build.
    // Before it, one whose subject is markup (anyone who can push writes subjects).
    await writeFile(join(repo.dir, 'apps', 'sophia-dashboard', 'about.html'), '<p>about</p>\n');
    await repo.git(['add', 'apps/sophia-dashboard/about.html']);
    await repo.git(['commit', '-qm', MARKUP]);
    await writeFile(join(repo.dir, 'apps', 'sophia-dashboard', 'index.html'), '<h1>v3</h1>\n');
    await repo.git(['commit', '-qam', SUBJECT]);
    const sha = (await repo.git(['rev-parse', 'HEAD'])).trim();
    const build = await writeFixtureBuild(join(t.tmp, 'v3'), { version: 'v3' });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit: sha });
    server = await startConsole({
      config: defaultConfig(),
      stacks: [STACK],
      openSite: async () => t.site,
      git: createLocalGit({ repoDir: repo.dir }),
      actor: 'reviewer (console)',
      agent: async (text, options) => {
        options.onEvent({
          type: 'intent',
          planner: 'runbook',
          intent: 'status',
          description: `understood \u202e${text}`,
        });
        return agentResult(text, ANSWER);
      },
    });
    browser = await openChromium();
    page = await signedInPage(browser, server);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.stop();
    await repo?.cleanup();
  });

  it('the confirm dialog lists a commit subject with its control characters escaped, not acted on', async () => {
    await page.getByRole('button', { name: 'Deploy latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deploy the latest build?' });
    try {
      const commits = dialog.getByRole('region', { name: 'Commits' });
      await commits.getByText(/fix: totals/).waitFor();
      const text = await textOf(commits);
      expect(text).toContain('fix: totals \\u202e(exe.doc)\\u202c done\\u200b \\u001b[31mred');
      expect(hasControlCharacters(text)).toBe(false);
      expect(hasControlCharacters(await textOf(dialog))).toBe(false);
      // A subject that is markup is shown as its text: no element, no link, nothing run.
      expect(text).toContain(MARKUP);
      expect(await dialog.locator('img, a[href^="javascript"], strong').count()).toBe(0);
      expect(await page.title()).not.toBe('owned');
    } finally {
      await dialog.getByRole('button', { name: 'Cancel' }).click();
    }
  });

  it('the chat shows an answer and its progress with their control characters escaped', async () => {
    await page.getByRole('textbox', { name: 'Message to the agent' }).fill("what's live?");
    await page.getByRole('button', { name: 'Send' }).click();
    const answer = page.getByTestId('chat-answer');
    await answer.waitFor();
    expect(await textOf(answer)).toBe('Live: \\u202e3333333\\u202c. \\u0007Nothing\\u2066 else.');
    const chat = page.getByRole('region', { name: 'Chat with the agent' });
    await expect.poll(() => textOf(chat)).toContain("understood \\u202ewhat's live?");
    expect(hasControlCharacters(await textOf(chat))).toBe(false);
  });
});

// Locator.innerText() is Playwright's (laid-out text with line breaks), not the DOM property the lint rule means.
// biome-ignore lint/performance/useDomNodeTextContent: see above.
const textOf = (locator: Locator) => locator.innerText();

function agentResult(request: string, message: string): AgentResult {
  return {
    request,
    actor: 'tester',
    planner: 'runbook',
    intent: 'status',
    outcome: 'answered',
    message,
    calls: [],
    dryRun: false,
  };
}
