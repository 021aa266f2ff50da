/**
 * The console's Pin, in Chromium: the dialog pins the release that was live when it opened. Another
 * deploy landing while it is open (before "Pin" is pressed) is not pinned in its place: the server
 * refuses, the dialog says so, and nothing is pinned (the API side: pin-bound.test.ts). Its Unpin
 * clears the pin shown when it opened: one set again meanwhile stays.
 */
import { mkdir } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { readPin } from '../../src/state/pin.ts';
import { hasChromium } from '../support/browser.ts';
import { ARTIFACTS_DIR } from '../support/cli.ts';
import { APP, type ConsoleEnvSnapshot, snapshotConsoleEnv } from '../support/console-env.ts';
import { STACK } from '../support/deploy-env.ts';
import { pageConsoleFor } from '../support/page-console.ts';

describe.skipIf(!hasChromium)('the console’s Pin in Chromium', () => {
  const started = pageConsoleFor();
  // C1 live, nothing pinned: each case starts from it.
  let fresh: ConsoleEnvSnapshot;
  beforeAll(async () => {
    fresh = await snapshotConsoleEnv(started());
    await mkdir(ARTIFACTS_DIR, { recursive: true });
  });

  it('a deploy lands while the Pin dialog is open: nothing is pinned, and the dialog says so', async () => {
    await fresh.restore();
    const { t, server, C1, C2 } = started();
    const page = await started().openPage();
    await page.goto(server.signInAddress());
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
    await fresh.restore();
    const { t, server } = started();
    const at = () => new Date().toISOString();
    await pinRelease(t.site, {
      request: { text: 'pin', actor: 'bob', planner: 'cli', at: at(), message: 'hold it for the demo' },
    });
    const page = await started().openPage();
    await page.goto(server.signInAddress());
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
