/**
 * The console's Pin, in Chromium: the dialog pins the release that was live when it opened. Another
 * deploy landing while it is open (before "Pin" is pressed) is not pinned in its place: the server
 * refuses, the dialog says so, and nothing is pinned (the API side: pin-bound.test.ts). Its Unpin
 * clears the pin shown when it opened: one set again meanwhile stays.
 */
import { mkdir } from 'node:fs/promises';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleServer } from '../../src/console/server.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { readPin } from '../../src/state/pin.ts';
import { type FileBrowser, hasChromium, openChromium } from '../support/browser.ts';
import { ARTIFACTS_DIR } from '../support/cli.ts';
import { APP, startConsoleEnv, startPageConsole } from '../support/console-env.ts';
import { STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let server: ConsoleServer;
let browser: FileBrowser;
let context: BrowserContext;
let page: Page;
let C1: string;
let C2: string;

describe.skipIf(!hasChromium)('the console’s Pin in Chromium', () => {
  beforeAll(async () => {
    const env = await startConsoleEnv();
    ({ t, repo, C1, C2 } = env);
    server = await startPageConsole(env);
    browser = await openChromium();
    await mkdir(ARTIFACTS_DIR, { recursive: true });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    await t?.stop();
    await repo?.cleanup();
  });

  it('a deploy lands while the Pin dialog is open: nothing is pinned, and the dialog says so', async () => {
    context = await browser.newContext({ baseURL: new URL(server.url).origin });
    page = await context.newPage();
    await page.goto(`/?token=${server.token}`);
    await expect.poll(() => page.getByTestId(`live-${STACK}`).textContent()).toContain(C1.slice(0, 7));

    await page.getByRole('button', { name: 'Pin', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Pin ${STACK}?` });
    await dialog.waitFor();

    const landed = await deployArtifact(t.site, {
      app: APP,
      commit: C2,
      request: { text: 'deploy', actor: 'bob', planner: 'cli', at: new Date().toISOString() },
    });
    expect(landed.outcome).toBe('succeeded');

    const posted = page.waitForResponse((r) => r.url().endsWith(`/api/stacks/${STACK}/pin`));
    await dialog.getByRole('button', { name: 'Pin', exact: true }).click();
    expect((await posted).status()).toBe(409);
    await expect.poll(() => dialog.textContent()).toMatch(/is not the live release/);
    expect(await readPin(t.site)).toBeNull();
  });

  it('the pin is set again while the Unpin dialog is open: the new pin stays, and the dialog says so', async () => {
    const at = () => new Date().toISOString();
    await pinRelease(t.site, {
      request: { text: 'pin', actor: 'bob', planner: 'cli', at: at(), message: 'hold it for the demo' },
    });
    await page.reload();
    await page.getByRole('button', { name: 'Unpin', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Unpin ${STACK}?` });
    await dialog.waitFor();

    // Another operator unpins and pins again, for a reason of their own.
    const carol = { text: 'pin', actor: 'carol', planner: 'cli', at: at() };
    await unpinRelease(t.site, { request: carol });
    await pinRelease(t.site, { request: { ...carol, message: 'the CTO froze releases' } });
    const carols = await readPin(t.site);

    const posted = page.waitForResponse((r) => r.url().endsWith(`/api/stacks/${STACK}/unpin`));
    await dialog.getByRole('button', { name: 'Unpin', exact: true }).click();
    expect((await posted).status()).toBe(409);
    await expect.poll(() => dialog.textContent()).toMatch(/not the pin that was shown/);
    expect(await readPin(t.site)).toEqual(carols);
  });
});
