/**
 * The deploy console in a real browser (Debian's Chromium through playwright-core), over the real
 * deploy engine on the embedded S3 server and the CloudFront double, with the real agent
 * (runAgentRequest, runbook planner) talking to the real infra and git MCP servers in process over
 * linked in-memory transports, the git server on a real repository. The UI is the package's prebuilt
 * one (npm test builds it first). The tests follow a release manager's day: deploy with what is in the
 * release shown, roll back (which pins), unpin, roll back to a release chosen in the history, promote,
 * confirm an agent's plan in the chat — and the page's empty and error states. Screenshots go to
 * test-artifacts/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { type FileBrowser, hasChromium, openChromium } from '../support/browser.ts';
import { ARTIFACTS_DIR } from '../support/cli.ts';
import {
  type ConsoleEnvSnapshot,
  confirmInConsole,
  postToConsole,
  snapshotConsoleEnv,
  startAgentConsole,
  startConsoleEnv,
} from '../support/console-env.ts';
import { signedInPage } from '../support/console-sign-in.ts';
import { publishAsCi, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import type { TestRepo } from '../support/git-repo.ts';

const APP = 'sophia-dashboard';

let t: TestDeployEnv;
let repo: TestRepo;
let server: ConsoleServer;
let browser: FileBrowser;
let context: BrowserContext;
let page: Page;
let clients: { infra: Client; git: Client };
let C1: string;
let C2: string;
/**
 * The stack as the cases start from it: C1 live (as the environment starts); C2 deployed over it in
 * the console ("the KPI fix"); rolled back in the console, which pins C1 ("the totals are wrong");
 * and that pin lifted.
 */
let c1Live: ConsoleEnvSnapshot;
let c2Deployed: ConsoleEnvSnapshot;
let pinnedToC1: ConsoleEnvSnapshot;
let unpinned: ConsoleEnvSnapshot;

/** Puts the stack back to `snapshot` and reloads the page on it, as a person coming back to it would. */
async function openAt(snapshot: ConsoleEnvSnapshot): Promise<void> {
  await snapshot.restore();
  await page.reload();
  // As a case in order found it: the page has read the stack (its live card and its history).
  await page.getByTestId(`live-${STACK}`).waitFor();
  await timeline(page).first().waitFor();
}

describe.skipIf(!hasChromium)('the deploy console in Chromium', () => {
  beforeAll(async () => {
    // C2 is the latest commit of apps/sophia-dashboard.
    const env = await startConsoleEnv();
    ({ t, repo, C1, C2 } = env);

    // dashboard-hosting-prod is protected; the chat's approval button counts because this
    // configuration trusts the answers of its clients (the console among them).
    const config = { ...defaultConfig(), approval: { approvers: {}, trustElicitation: true } };
    const approval = config.approval;
    ({ server, clients } = await startAgentConsole(
      { repo },
      { config, openSite: async () => ({ ...t.site, protected: true, approval }) },
    ));
    c1Live = await snapshotConsoleEnv(env);
    await confirmInConsole(server, 'deploy-latest', { message: 'the KPI fix' });
    c2Deployed = await snapshotConsoleEnv(env);
    await confirmInConsole(server, 'rollback', { message: 'the totals are wrong' });
    pinnedToC1 = await snapshotConsoleEnv(env);
    await postToConsole(server, `/api/stacks/${STACK}/unpin`, {});
    unpinned = await snapshotConsoleEnv(env);
    browser = await openChromium();
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    page = await signedInPage(browser, server, { viewport: { width: 1440, height: 1000 } });
    context = page.context();
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

  it('refuses a browser not signed in: the API answers 401 and the page says so', async () => {
    await c1Live.restore();
    const stranger = await browser.newContext({ baseURL: new URL(server.url).origin });
    try {
      const anonymous = await stranger.newPage();
      const session = anonymous.waitForResponse((r) => r.url().endsWith('/api/session'));
      await anonymous.goto('/');
      expect((await session).status()).toBe(401);
      await anonymous.getByRole('heading', { name: 'Access refused' }).waitFor();
      expect(await textOf(anonymous.getByRole('alert'))).toMatch(
        /needs a sign-in. Open a sign-in address of this console/,
      );
      expect(
        (
          await anonymous.request.post('/api/stacks/dashboard-hosting-prod/deploy-latest', { data: {} })
        ).status(),
      ).toBe(401);
      expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
    } finally {
      await stranger.close();
    }
  });

  it('signs in with the printed address and shows the live release, who made it live and why', async () => {
    await c1Live.restore();
    await page.goto(server.signInAddress());
    // The spent sign-in code left the address bar.
    await expect.poll(() => new URL(page.url()).hash).toBe('');
    expect(new URL(page.url()).search).toBe('');
    const live = page.getByTestId(`live-${STACK}`);
    await expect.poll(() => textOf(live)).toContain(C1.slice(0, 7));
    expect(await textOf(live)).toContain('alice');
    expect(await textOf(live)).toContain('first deploy');
    // The environment marked, the first release going live, its record.
    await page.getByText('audit verified · 3 entries').waitFor();
    await expect.poll(() => textOf(page.getByRole('region', { name: 'Plan' }))).toContain(C2.slice(0, 7));
    // An in-place stack: no canary, no preview links (those need atomic releases).
    expect(await textOf(page.getByRole('navigation', { name: 'Environments' }))).toContain('in place');
    expect(await page.getByTestId(`canary-${STACK}`).count()).toBe(0);
    expect(await page.getByRole('button', { name: /canary|Preview/ }).count()).toBe(0);
  });

  it('a live record rewritten around the audit log: the card says so and shows none of its words', async () => {
    await c1Live.restore();
    const deployId = (await t.site.records.readPointer())?.value.deployId;
    const key = `${t.target.statePrefix}deployments/${deployId}.json`;
    const original = await t.site.state.get(key);
    if (!original) throw new Error('the live record is missing');
    const record = JSON.parse(original.body.toString('utf8'));
    const forged = {
      ...record,
      request: { ...record.request, actor: 'mallory', text: 'approved by the CTO' },
    };
    await t.site.state.put(key, JSON.stringify(forged), { contentType: 'application/json' });
    try {
      await page.reload();
      await expect
        .poll(() => textOf(page.getByTestId(`recorded-${STACK}`)))
        .toContain('Not what the audit log records');
      expect(await textOf(page.getByTestId(`live-${STACK}`))).not.toMatch(/mallory|CTO/);
      // The history leaves its row out, says so, and does not call the stack empty.
      const history = page.getByRole('region', { name: 'History' });
      await expect
        .poll(() => textOf(page.getByTestId('history-unrecorded')))
        .toContain('1 row of this page is left out');
      expect(await textOf(history)).not.toMatch(/mallory|CTO|Nothing has been deployed/);
    } finally {
      await t.site.state.put(key, original.body, { contentType: 'application/json' });
    }
    await page.reload();
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toContain('alice');
    expect(await page.getByTestId(`recorded-${STACK}`).count()).toBe(0);
  });

  it('the confirm dialog shows what is in the release: commits with subject and author, files by kind, the CDN refresh', async () => {
    await openAt(c1Live);
    await page.getByRole('button', { name: 'Deploy latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deploy the latest build?' });
    await dialog.getByText(`deploy ${APP}@${C2.slice(0, 7)} to ${STACK}`).waitFor();
    expect(await textOf(dialog)).toMatch(/protected: confirming is your approval/);
    expect(await dialog.getByRole('checkbox', { name: /share first/ }).count()).toBe(0);
    const commits = dialog.getByRole('region', { name: 'Commits' });
    expect(await textOf(commits)).toMatch(/What this release adds: 1 commit/);
    expect(await textOf(commits)).toContain(`${C2.slice(0, 7)} dashboard: add App — Ada Release, 2026-11-23`);
    const files = dialog.getByRole('region', { name: 'Changed files' });
    expect(await textOf(files)).toMatch(/HTML\s+1 changed/);
    expect(await textOf(files)).toMatch(/Hashed assets\s+2 added, 2 removed/);
    expect(await textOf(files)).toMatch(/Other files\s+no change/);
    expect(await textOf(files)).toMatch(/The CDN refreshes 2 paths \(\/, \/index\.html\)/);
    // The engine's plan id is one click away, not the headline.
    expect(await textOf(dialog)).not.toMatch(/Plan [0-9a-f]{7}-/);
    await dialog.getByText('Plan details').click();
    expect(await textOf(dialog)).toMatch(/Plan [0-9a-f]{7}-[0-9a-f]{10}/);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'after-confirm-dialog.png'), fullPage: true });
  });

  it('deploys after the confirmation; progress in people’s words; the console tags the deploy', async () => {
    await openAt(c1Live);
    await page.getByRole('button', { name: 'Deploy latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deploy the latest build?' });
    await dialog.getByText(`deploy ${APP}@${C2.slice(0, 7)} to ${STACK}`).waitFor();
    await dialog.getByRole('textbox', { name: /Why/ }).fill('the KPI fix');
    await dialog.getByRole('button', { name: 'Confirm deploy' }).click();
    const status = page.getByRole('status').filter({ hasText: `Deploy succeeded: ${C2.slice(0, 7)}` });
    await status.waitFor();
    expect(await textOf(status)).toMatch(/tagged dashboard-deploy-\d{8}-1/);
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toContain(C2.slice(0, 7));
    await expect.poll(() => timeline(page).count()).toBe(2);
    const progress = page.getByRole('region', { name: 'Progress' });
    await progress.getByText('Finished: succeeded.').waitFor();
    const words = await textOf(progress);
    expect(words).toContain(`Visitors now get ${APP}@${C2.slice(0, 7)}.`);
    expect(words).toMatch(/Asked the CDN to refresh 2 paths\./);
    expect(words).not.toMatch(/pointer|I0000/);
    await progress.getByText('Engine detail').click();
    expect(await textOf(progress)).toMatch(/pointer: .* is live/);
    expect((await t.site.records.readPointer())?.value.commit).toBe(C2);
    expect(await textOf(timeline(page).first())).toMatch(
      /“Deploy the latest build \(confirmed in the console by release-manager\)” — the KPI fix/,
    );
  });

  it('opens a deployment in the details drawer with its files, invalidation and audit entry', async () => {
    await openAt(c2Deployed);
    await timeline(page).first().getByRole('button').first().click();
    const drawer = page.getByRole('complementary', { name: 'Deployment details' });
    await drawer.getByText('Audit entry').waitFor();
    // 4: the environment marked protected (the first deploy ran unprotected), 5: live, 6: recorded.
    await expect.poll(() => textOf(drawer)).toMatch(/#6 \(deploy/);
    const text = await textOf(drawer);
    expect(text).toContain('/index.html');
    expect(text).toMatch(/Invalidation\s+I[A-Z0-9]+/);
    expect(text).toContain('release-manager (console) via console');
    await drawer.getByRole('button', { name: 'Close details' }).click();
  });

  it('a rollback pins: Deploy latest no longer offers the rolled-back build; Promote and Unpin are offered', async () => {
    await openAt(c2Deployed);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'after-before-rollback.png'), fullPage: true });
    await page
      .getByRole('region', { name: 'Plan' })
      .getByRole('button', { name: 'Roll back', exact: true })
      .click();
    const dialog = page.getByRole('dialog', { name: 'Roll back?' });
    await dialog.getByText(`roll back ${STACK} to ${APP}@${C1.slice(0, 7)}`).waitFor();
    expect(await textOf(dialog)).toMatch(/A rollback pins dashboard-hosting-prod to this release/);
    expect(await textOf(dialog.getByRole('region', { name: 'Commits' }))).toMatch(
      /What leaves with this rollback: 1 commit[\s\S]*dashboard: add App/,
    );
    await dialog.getByRole('textbox', { name: /Why/ }).fill('the totals are wrong');
    await dialog.getByRole('button', { name: 'Confirm rollback' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Rollback succeeded: ${C1.slice(0, 7)}` })
      .waitFor();
    const plan = page.getByRole('region', { name: 'Plan' });
    await plan.getByRole('note', { name: 'Pinned' }).waitFor();
    await expect
      .poll(() => textOf(plan))
      .toMatch(
        new RegExp(
          `Pinned to ${C1.slice(0, 7)} .* by release-manager \\(console\\), when rolling back: “the totals are wrong”`,
        ),
      );
    expect(await plan.getByRole('button', { name: 'Deploy latest' }).count()).toBe(0);
    await plan.getByRole('button', { name: `Promote latest (${C2.slice(0, 7)})` }).waitFor();
    await plan.getByRole('button', { name: 'Unpin' }).waitFor();
    await expect
      .poll(() => textOf(page.getByRole('navigation', { name: 'Environments' })))
      .toContain('pinned');
    // The history offers going forward again as a promote, since the stack is pinned.
    await expect.poll(() => textOf(timeline(page).nth(1))).toContain('Promote this');
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'after-pinned.png'), fullPage: true });
  });

  it('the chat respects the pin, in the page’s words (no terminal advice); a read-only turn answers', async () => {
    await openAt(pinnedToC1);
    await ask(page, "what's live?");
    await expect
      .poll(() => textOf(page.getByTestId('chat-answer').last()))
      .toMatch(new RegExp(`Live on ${STACK}: ${C1.slice(0, 7)}[\\s\\S]*Pinned to ${C1.slice(0, 7)}`));
    expect(await textOf(page.getByRole('log'))).toContain('Done: reading what is live');
    await ask(page, 'deploy the latest dashboard');
    const answer = await textOf(page.getByTestId('chat-answer').last());
    expect(answer).toMatch(/is pinned to sophia-dashboard@[0-9a-f]{7}/);
    expect(answer).toMatch(/"promote the latest"[\s\S]*"unpin"/);
    expect(await textOf(page.getByRole('log'))).not.toMatch(/--yes|`frontendops/);
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
  });

  it('Unpin asks to confirm, then Deploy latest is back', async () => {
    await openAt(pinnedToC1);
    await page.getByRole('region', { name: 'Plan' }).getByRole('button', { name: 'Unpin' }).click();
    const dialog = page.getByRole('dialog', { name: `Unpin ${STACK}?` });
    await dialog.getByRole('button', { name: 'Unpin' }).click();
    const done = page.getByRole('status').filter({ hasText: 'Unpinned' });
    await done.waitFor();
    // In the words the CLI and the infra server use: which stack, which pin, what it changes.
    expect(await textOf(done)).toMatch(
      new RegExp(
        `^Unpinned ${STACK} \\(it was pinned to sophia-dashboard@${C1.slice(0, 7)} by .+\\)\\. Deploys go through again; what is live did not change\\.$`,
      ),
    );
    await page.getByRole('button', { name: 'Deploy latest' }).waitFor();
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
  });

  it('rolls back to a release chosen in the history, in one click and a confirmation', async () => {
    await openAt(unpinned);
    // Forward to C2 first (a redeploy from the history), then back to the very first deploy.
    await timeline(page).nth(1).getByRole('button', { name: 'Redeploy this' }).click();
    const redeploy = page.getByRole('dialog', { name: `Redeploy ${C2.slice(0, 7)}?` });
    await redeploy.getByRole('button', { name: 'Confirm redeploy' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Redeploy succeeded: ${C2.slice(0, 7)}` })
      .waitFor();
    await expect.poll(() => timeline(page).count()).toBe(4);
    expect(
      await page.getByRole('region', { name: 'History' }).getByRole('button', { name: 'Preview' }).count(),
    ).toBe(0);

    const first = timeline(page).last();
    expect(await textOf(first)).toContain('first deploy');
    await first.getByRole('button', { name: 'Roll back to this' }).click();
    const dialog = page.getByRole('dialog', { name: `Roll back to ${C1.slice(0, 7)}?` });
    await dialog.getByText(`roll back ${STACK} to ${APP}@${C1.slice(0, 7)}`).waitFor();
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'after-history-rollback.png'), fullPage: true });
    await dialog.getByRole('button', { name: 'Confirm rollback' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Rollback succeeded: ${C1.slice(0, 7)}` })
      .waitFor();
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toContain(C1.slice(0, 7));
    await page.getByRole('note', { name: 'Pinned' }).waitFor();
  });

  it('Promote makes the latest live for everyone and clears the pin', async () => {
    await openAt(pinnedToC1);
    await page.getByRole('button', { name: `Promote latest (${C2.slice(0, 7)})` }).click();
    const dialog = page.getByRole('dialog', { name: 'Promote the latest build?' });
    await dialog.getByText(/This makes it live for everyone and clears the pin/).waitFor();
    await dialog.getByRole('button', { name: 'Confirm promote' }).click();
    await page.getByRole('status').filter({ hasText: 'the pin is cleared' }).waitFor();
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toContain(C2.slice(0, 7));
    await page.getByRole('button', { name: 'Deploy latest' }).waitFor();
  });

  it('the chat shows the plan to confirm; the button approves that plan once; an older button stops working', async () => {
    await openAt(c2Deployed);
    const C3 = await addRelease('v3', 'dashboard: totals per region');
    await ask(page, 'deploy the latest dashboard');
    const log = page.getByRole('log');
    const card = log.getByRole('group', { name: 'Confirmation' }).last();
    await card.waitFor();
    expect(await textOf(card)).toMatch(
      new RegExp(
        `Needs your confirmation \\(deploy on ${STACK}\\)[\\s\\S]*deploy ${APP}@${C3.slice(0, 7)}[\\s\\S]*Plan ${C3.slice(0, 7)}-[0-9a-f]{10}`,
      ),
    );
    expect(await textOf(log)).not.toMatch(/--yes/);
    // A newer request replaces it: the button stops working.
    await ask(page, "what's live?");
    expect(await card.getByRole('button', { name: 'Confirm and run' }).isDisabled()).toBe(true);
    expect(await textOf(card)).toMatch(/Replaced by a newer request/);

    await ask(page, 'deploy the latest dashboard');
    const fresh = log.getByRole('group', { name: 'Confirmation' }).last();
    await fresh.getByRole('button', { name: 'Confirm and run' }).click();
    await fresh.getByText('Confirmed: sent again below.').waitFor();
    expect(await fresh.getByRole('button', { name: 'Confirm and run' }).count()).toBe(0);
    await expect
      .poll(() => textOf(page.getByTestId('chat-answer').last()), { timeout: 30_000 })
      .toMatch(new RegExp(`^Deployed ${APP} ${C3.slice(0, 7)}`));
    expect(await textOf(log)).toMatch(/Confirmed by release-manager \(console\)/);
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toContain(C3.slice(0, 7));
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'after-chat-confirm.png'), fullPage: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'console.png'), fullPage: true });
  });
});

describe.skipIf(!hasChromium)('the console’s empty and error states', () => {
  let empty: TestDeployEnv;
  let consoles: ConsoleServer[] = [];
  let states: FileBrowser;
  beforeAll(async () => {
    empty = await startDeployEnv({ stack: 'dashboard-empty' });
    states = await openChromium();
  });
  afterAll(async () => {
    for (const c of consoles) await c.close();
    consoles = [];
    await states?.close();
    await empty?.stop();
  });

  async function open(console: ConsoleServer): Promise<Page> {
    consoles.push(console);
    return signedInPage(states, console, { viewport: { width: 1440, height: 800 } });
  }

  it('no stack reachable: one message saying what to do; audit not checked, with why; the chat off, with why', async () => {
    const dir = join(empty.tmp, 'elsewhere');
    await mkdir(dir, { recursive: true });
    const p = await open(
      await startConsole({ config: defaultConfig(), stacks: ['local'], cwd: dir, actor: 'rm (console)' }),
    );
    const alert = p.getByRole('alert', { name: 'Stack unreachable' });
    await alert.waitFor();
    expect(await textOf(alert)).toMatch(
      /local cannot be reached[\s\S]*No local environment is running here[\s\S]*npm start/,
    );
    // Said once: not again in the environment card, the plan or the history.
    expect((await textOf(p.locator('body'))).match(/No local environment is running here/g)).toHaveLength(1);
    expect(await p.getByRole('region', { name: 'Plan' }).count()).toBe(0);
    await p.getByText(/audit: not checked — the stack cannot be reached/).waitFor();
    expect(await textOf(p.getByRole('region', { name: 'Chat with the agent' }))).toMatch(
      /The agent is not available in this console/,
    );
    expect(await p.getByRole('textbox', { name: 'Message to the agent' }).isDisabled()).toBe(true);
    await p.screenshot({ path: join(ARTIFACTS_DIR, 'after-no-stack.png'), fullPage: true });
  });

  it('no deployments yet: the history says what to do; the chat says why it is off', async () => {
    const site = await connectSite({ ...empty.target }, { access: { credentials: empty.s3.credentials } });
    const p = await open(
      await startConsole({
        config: defaultConfig(),
        stacks: ['dashboard-empty'],
        openSite: async () => site,
        chatReason:
          'The chat is off: FRONTENDOPS_MODEL=openai:gpt-4.1 needs OPENAI_API_KEY, which is not set.',
        actor: 'rm (console)',
      }),
    );
    const history = p.getByRole('region', { name: 'History' });
    await history.getByText(/Nothing has been deployed to dashboard-empty yet/).waitFor();
    expect(await textOf(history)).toMatch(/deploy it with Deploy latest above/);
    await p.getByText('audit verified · 0 entries').waitFor();
    expect(await textOf(p.getByRole('region', { name: 'Chat with the agent' }))).toMatch(
      /needs OPENAI_API_KEY/,
    );
    await p.screenshot({ path: join(ARTIFACTS_DIR, 'after-empty-stack.png'), fullPage: true });
    site.close();
  });
});

// Locator.innerText() is Playwright's (laid-out text with line breaks), not the DOM property the lint rule means.
// biome-ignore lint/performance/useDomNodeTextContent: see above.
const textOf = (locator: Locator) => locator.innerText();

const timeline = (p: Page) => p.getByRole('region', { name: 'History' }).getByRole('listitem');

async function ask(p: Page, words: string): Promise<void> {
  const before = await p.getByTestId('chat-answer').count();
  await p.getByRole('textbox', { name: 'Message to the agent' }).fill(words);
  await p.getByRole('button', { name: 'Send' }).click();
  await expect.poll(() => p.getByTestId('chat-answer').count(), { timeout: 30_000 }).toBe(before + 1);
}

/** A new dashboard commit in the repository, its build published (what CI does). */
async function addRelease(version: string, subject: string): Promise<string> {
  await writeFile(join(repo.dir, 'apps', 'sophia-dashboard', 'index.html'), `<h1>${version}</h1>\n`);
  await repo.git(['commit', '-qam', subject]);
  const sha = (await repo.git(['rev-parse', 'HEAD'])).trim();
  const build = await writeFixtureBuild(join(t.tmp, version), { version });
  await publishAsCi(t.site, { dir: build.dir, app: APP, commit: sha });
  return sha;
}
