/**
 * The deploy console in a real browser (Debian's Chromium through playwright-core), over the real
 * deploy engine on the embedded S3 server and the CloudFront double, with the real agent
 * (runAgentRequest, runbook planner) talking to the real infra and git MCP servers in process over
 * linked in-memory transports, the git server on a real repository. The UI is the package's prebuilt one (npm test builds it first).
 */
import { join } from 'node:path';
import { type Client, InMemoryTransport } from '@modelcontextprotocol/client';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { runAgentRequest } from '../../src/agent/index.ts';
import { createAgentMcpClient } from '../../src/agent/mcp-clients.ts';
import { defaultConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishArtifact } from '../../src/deploy/publish.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { hasChromium, launchChromium } from '../support/browser.ts';
import { ARTIFACTS_DIR } from '../support/cli.ts';
import { STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';

const APP = 'sophia-dashboard';

let t: TestDeployEnv;
let repo: TestRepo;
let server: ConsoleServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let clients: { infra: Client; git: Client };
let C1: string;
let C2: string;

describe.skipIf(!hasChromium)('the deploy console in Chromium', () => {
  beforeAll(async () => {
    t = await startDeployEnv();
    repo = await createTestRepo();
    C1 = repo.commits.dashboard1;
    C2 = repo.commits.dashboard2; // the latest commit of apps/sophia-dashboard

    for (const [i, commit] of [C1, C2].entries()) {
      const build = await writeFixtureBuild(join(t.tmp, `build-${i}`), { version: `v${i + 1}` });
      await publishArtifact(t.site.artifacts, { dir: build.dir, app: APP, commit });
    }
    await deployArtifact(t.site, {
      app: APP,
      commit: C1,
      request: { text: 'first deploy', actor: 'alice', planner: 'cli', at: new Date().toISOString() },
    });

    // dashboard-hosting-prod is protected; the chat's approval button counts because this
    // configuration trusts the answers of its clients (the console among them).
    const config = { ...defaultConfig(), approval: { approvers: {}, trustElicitation: true } };
    const approval = config.approval;
    const gitHost = createLocalGit({ repoDir: repo.dir });
    clients = {
      infra: await connect(
        createInfraServer({
          config,
          openSite: async () => ({ ...t.site, protected: true, approval }),
          defaultStack: STACK,
        }),
      ),
      git: await connect(createGitServer({ host: gitHost, defaultPath: 'apps/sophia-dashboard' })),
    };
    server = await startConsole({
      config,
      stacks: [STACK],
      openSite: async () => ({ ...t.site, protected: true, approval }),
      git: gitHost,
      actor: 'release-manager (console)',
      agent: (text, options) =>
        runAgentRequest(text, {
          actor: options.actor,
          approve: options.approve,
          onEvent: options.onEvent,
          clients,
          stack: STACK,
          config,
          planner: 'runbook',
          cwd: repo.dir,
        }),
    });
    browser = await launchChromium();
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

  it('refuses a browser without the token: the API answers 401 and the page says so', async () => {
    const stranger = await browser.newContext({ baseURL: new URL(server.url).origin });
    try {
      const anonymous = await stranger.newPage();
      const session = anonymous.waitForResponse((r) => r.url().endsWith('/api/session'));
      await anonymous.goto('/');
      expect((await session).status()).toBe(401);
      await anonymous.getByRole('heading', { name: 'Access refused' }).waitFor();
      expect(await textOf(anonymous.getByRole('alert'))).toMatch(/needs its access token/);
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
    context = await browser.newContext({
      baseURL: new URL(server.url).origin,
      viewport: { width: 1440, height: 1000 },
    });
    page = await context.newPage();
    await page.goto(`/?token=${server.token}`);
    expect(new URL(page.url()).search).toBe(''); // the token left the address bar
    const live = page.getByTestId(`live-${STACK}`);
    await expect.poll(() => textOf(live)).toContain(C1.slice(0, 7));
    expect(await textOf(live)).toContain('alice');
    expect(await textOf(live)).toContain('first deploy');
    // The environment marked, the first release going live, its record.
    await page.getByText('audit verified · 3 entries').waitFor();
    await expect.poll(() => textOf(page.getByRole('region', { name: 'Plan' }))).toContain(C2.slice(0, 7));
  });

  it('deploys the latest build with the button after showing the plan, and the history grows', async () => {
    await page.getByRole('button', { name: 'Deploy latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deploy the latest build?' });
    await dialog.getByText(`deploy ${APP}@${C2.slice(0, 7)} to ${STACK}`).waitFor();
    expect(await textOf(dialog)).toMatch(/protected: confirming is your approval/);
    await dialog.getByRole('button', { name: 'Confirm deploy' }).click();

    await page
      .getByRole('status')
      .filter({ hasText: `Deploy succeeded: ${C2.slice(0, 7)}` })
      .waitFor();
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toContain(C2.slice(0, 7));
    await expect.poll(() => timeline(page).count()).toBe(2);
    await page.getByRole('region', { name: 'Progress' }).getByText('finished: succeeded').waitFor();
    expect((await t.site.records.readPointer())?.value.commit).toBe(C2);
  });

  it('opens a deployment in the details drawer with its files, invalidation and audit entry', async () => {
    await timeline(page).first().getByRole('button').click();
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

  it('rolls back with the button after showing the plan', async () => {
    await page.getByRole('button', { name: 'Roll back' }).click();
    const dialog = page.getByRole('dialog', { name: 'Roll back?' });
    await dialog.getByText(`roll back ${STACK} to ${APP}@${C1.slice(0, 7)}`).waitFor();
    await dialog.getByRole('button', { name: 'Confirm rollback' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Rollback succeeded: ${C1.slice(0, 7)}` })
      .waitFor();
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toContain(C1.slice(0, 7));
    await expect.poll(() => timeline(page).count()).toBe(3);
    expect(await textOf(timeline(page).first())).toContain('rollback');
  });

  it('answers "what\'s live?" in the chat through the agent', async () => {
    await ask(page, "what's live?");
    const answer = page.getByTestId('chat-answer').last();
    await expect.poll(() => textOf(answer)).toContain(`Live on ${STACK}: ${C1.slice(0, 7)}`);
    expect(await textOf(page.getByRole('log'))).toContain('get_status: ok');
  });

  it('asks for approval in the chat before deploying a protected stack, and deploys once approved', async () => {
    await ask(page, 'deploy the latest dashboard');
    const approve = page.getByRole('button', { name: 'Approve and run' });
    await approve.waitFor();
    expect(await textOf(page.getByRole('log'))).toMatch(
      /Needs your approval \(deploy on dashboard-hosting-prod\)/,
    );
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);

    await approve.click();
    await page.getByText('Approved: sent again below.').waitFor();
    await expect
      .poll(() => textOf(page.getByTestId('chat-answer').last()), { timeout: 30_000 })
      .toContain(C2.slice(0, 7));
    expect(await textOf(page.getByRole('log'))).toMatch(/approval given/);
    await expect
      .poll(() => textOf(page.getByTestId(`live-${STACK}`)), { timeout: 30_000 })
      .toContain(C2.slice(0, 7));
    // The agent tagged the deploy in git; the console shows the tag on the live release.
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toMatch(/dashboard-deploy-\d{8}-1/);
    await expect.poll(() => timeline(page).count()).toBe(4);
    await page.getByText(/audit verified · \d+ entries/).waitFor();
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'console.png'), fullPage: true });
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

async function connect(mcp: McpServer): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await mcp.connect(serverSide);
  const client = createAgentMcpClient();
  await client.connect(clientSide);
  return client;
}
