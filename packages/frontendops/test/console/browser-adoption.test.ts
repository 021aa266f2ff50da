/**
 * The console's chat confirmation, in Chromium, where the approval would adopt the approval policy in
 * frontendops.config.json: the audit log records one that trusts the console's answer and lists no
 * approver, the configuration adds Ada. The card says so before the button is pressed, in the words
 * `frontendops approve` shows (the API side: approval-config-changed.test.ts); once the change ran,
 * the history says whose approval adopted what.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalPolicyFor, defaultConfig } from '../../src/config.ts';
import type { ConsoleServer } from '../../src/console/server.ts';
import { adoptApprovalPolicy } from '../../src/state/approval-in-force.ts';
import { approverKeysFor } from '../support/approver.ts';
import { type FileBrowser, hasChromium, openChromium } from '../support/browser.ts';
import { ARTIFACTS_DIR } from '../support/cli.ts';
import { APP, startAgentConsole, startConsoleEnv } from '../support/console-env.ts';
import { signedInPage } from '../support/console-sign-in.ts';
import { STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let server: ConsoleServer;
let browser: FileBrowser;
let context: BrowserContext;
let clients: { infra: Client; git: Client };
let C2: string;
const keys = approverKeysFor(['ada']);

describe.skipIf(!hasChromium)(
  'the console’s chat confirmation of an approval that adopts a policy, in Chromium',
  () => {
    beforeAll(async () => {
      ({ t, repo, C2 } = await startConsoleEnv());
      // Recorded: the console's answer counts, no approver. Configured: the same, and Ada.
      const recorded = { ...defaultConfig(), approval: { approvers: {}, trustElicitation: true } };
      await adoptApprovalPolicy(
        { ...t.site, approval: approvalPolicyFor(recorded, STACK) },
        'the tests',
        Date.now(),
      );
      const config = {
        ...defaultConfig(),
        approval: { approvers: { Ada: keys().ada.publicKey }, trustElicitation: true },
      };
      const site = { ...t.site, protected: true, approval: approvalPolicyFor(config, STACK) };
      ({ server, clients } = await startAgentConsole({ repo }, { config, openSite: async () => site }));
      browser = await openChromium();
      await mkdir(ARTIFACTS_DIR, { recursive: true });
    });

    afterAll(async () => {
      await context?.close();
      await browser?.close();
      await server?.close();
      await clients?.infra.close();
      await clients?.git.close();
      await t?.stop();
      await repo?.cleanup();
    });

    it('the card says what the approval adopts; after it ran, the history says whose approval adopted it', async () => {
      const page = await signedInPage(browser, server, { viewport: { width: 1440, height: 1000 } });
      context = page.context();
      await ask(page, 'deploy the latest dashboard');
      const card = page.getByRole('log').getByRole('group', { name: 'Confirmation' }).last();
      await card.waitFor();
      const adopts =
        /This approval also adopts the approval policy in frontendops\.config\.json: adds approver Ada \(ed25519:[\w-]{43}\)\./;
      expect(await textOf(card)).toMatch(
        new RegExp(`deploy ${APP}@${C2.slice(0, 7)}[\\s\\S]*${adopts.source}`),
      );

      await card.getByRole('button', { name: 'Confirm and run' }).click();
      await expect
        .poll(() => textOf(page.getByTestId('chat-answer').last()), { timeout: 30_000 })
        .toMatch(new RegExp(`^Deployed ${APP} ${C2.slice(0, 7)}`));
      await page.reload();
      const change = page.getByRole('region', { name: 'History' }).getByTestId('history-policy-change');
      await expect
        .poll(() => textOf(change.first()), { timeout: 15_000 })
        .toMatch(
          new RegExp(
            `The approval of deploy ${C2.slice(0, 7)}-[0-9a-f]{10} by release-manager \\(console\\)[^,]*, elicitation, also adopted the approval policy in frontendops\\.config\\.json: adds approver Ada \\(ed25519:[\\w-]{43}\\)\\.`,
          ),
        );
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'after-chat-adoption.png'), fullPage: true });
    });
  },
);

// Locator.innerText() is Playwright's (laid-out text with line breaks), not the DOM property the lint rule means.
// biome-ignore lint/performance/useDomNodeTextContent: see above.
const textOf = (locator: Locator) => locator.innerText();

async function ask(p: Page, words: string): Promise<void> {
  const before = await p.getByTestId('chat-answer').count();
  await p.getByRole('textbox', { name: 'Message to the agent' }).fill(words);
  await p.getByRole('button', { name: 'Send' }).click();
  await expect.poll(() => p.getByTestId('chat-answer').count(), { timeout: 30_000 }).toBe(before + 1);
}
