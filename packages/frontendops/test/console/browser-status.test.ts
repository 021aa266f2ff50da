/**
 * The console's stack status, in Chromium: an answer to an older request that arrives after a newer
 * one's is not shown over it. The page asks each stack's status again on every refresh (every 15 s,
 * and when a change it ran finishes); a slow answer to the periodic refresh, asked while C1 was live,
 * must not put C1 back on the page after the deploy of C2 it ran has shown C2.
 */
import type { Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { hasChromium } from '../support/browser.ts';
import { STACK } from '../support/deploy-env.ts';
import { pageConsoleFor } from '../support/page-console.ts';

describe.skipIf(!hasChromium)('the console’s stack status in Chromium', () => {
  const started = pageConsoleFor();

  it('a slow answer to an older status request does not put back the release live before', async () => {
    const { server, C1, C2 } = started();
    // Tells the test which status answers the page has read: how many passed, and the held one
    // (marked by a header only the test adds).
    const page = await started().openPage((context) =>
      context.addInitScript(() => {
        const seen = window as { heldRead?: boolean; passedRead?: number };
        const text = Response.prototype.text;
        Response.prototype.text = function (this: Response) {
          return text.call(this).then((body) => {
            if (this.headers.get('x-test-held')) seen.heldRead = true;
            else if (this.headers.get('x-test-passed')) seen.passedRead = (seen.passedRead ?? 0) + 1;
            return body;
          });
        };
      }),
    );
    // The page's own clock, so its periodic refresh comes when the test moves it on (time still flows).
    await page.clock.install();
    await page.goto(server.signInAddress());
    const live = () => page.getByTestId(`live-${STACK}`).textContent();
    await expect.poll(live).toContain(C1.slice(0, 7));

    // The next status request (the periodic refresh, 15 s on) is answered by the server at once, C1 live,
    // and that answer reaches the page only when `release` is called; the requests after it pass.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held: Promise<void> | undefined;
    let passed = 0;
    const asked = new Promise<void>((resolve) => {
      void page.route(`**/api/stacks/${encodeURIComponent(STACK)}/status`, async (route: Route) => {
        if (held) {
          passed++;
          const answer = await route.fetch();
          return route.fulfill({ response: answer, headers: { ...answer.headers(), 'x-test-passed': '1' } });
        }
        held = (async () => {
          const answer = await route.fetch();
          resolve();
          await released;
          await route.fulfill({ response: answer, headers: { ...answer.headers(), 'x-test-held': '1' } });
        })();
        return held;
      });
    });
    await page.clock.fastForward(15_000);
    await asked;

    // Meanwhile C2 is deployed from the console: when it finishes the page asks again and shows C2.
    await page.getByRole('button', { name: 'Deploy latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deploy the latest build?' });
    await dialog.getByRole('button', { name: 'Confirm deploy' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Deploy succeeded: ${C2.slice(0, 7)}` })
      .waitFor();
    await expect.poll(live).toContain(C2.slice(0, 7));
    const frames = () =>
      page.evaluate(
        () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
      );
    // Every refresh the deploy asked for has been asked (effects run after the frame) and answered.
    await frames();
    await page.waitForFunction((n) => ((window as { passedRead?: number }).passedRead ?? 0) >= n, passed);

    // The older answer arrives: once the page has read it (and rendered, two frames on), it shows C2.
    release();
    await held;
    await page.waitForFunction(() => (window as { heldRead?: boolean }).heldRead === true);
    await frames();
    expect(await live()).toContain(C2.slice(0, 7));
  }, 60_000);
});
