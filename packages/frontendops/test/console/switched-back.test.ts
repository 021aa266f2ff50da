/**
 * A change the CDN does not serve in time is recorded as failed and the release live before it goes
 * live again (deploy/verify.test.ts). The CLI, the infra server and the runbook say so in one sentence
 * (switch-back-words.ts); the console's result said only VERIFY_FAILED, so a person could not tell
 * whether the failed release or the previous one was live. Now its answer names the switch back and
 * its last progress event says the same sentence, and the page shows both.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CONSOLE_UI_DIR, type ConsoleServer } from '../../src/console/server.ts';
import type { ActionResult, ConsoleEvent, PlanView } from '../../src/console/types.ts';
import { switchedBack } from '../../src/deploy/switch-back-words.ts';
import { capitalise } from '../../src/engine/text.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { type FileBrowser, hasChromium, openChromium } from '../support/browser.ts';
import { startConsoleEnv, startConsoleOn } from '../support/console-env.ts';
import { openEventStream } from '../support/console-events.ts';
import { signedInPage } from '../support/console-sign-in.ts';
import { STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';
import { type StaleCdn, startStaleCdn } from '../support/stale-cdn.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let C1: string;
let C2: string;
let server: ConsoleServer;
let site: Site;
let browser: FileBrowser | undefined;
/** The "CDN": the hosting bucket's index.html, or a frozen (stale) copy of it. */
let cdn: StaleCdn;

beforeAll(async () => {
  const env = await startConsoleEnv();
  ({ t, repo, C1, C2 } = env);
  cdn = await startStaleCdn(async () => (await t.site.hosting.get('index.html'))?.body);
  // The same stack, its site served through the "CDN", which verification asks.
  site = await connectSite(
    { ...t.target, siteUrl: cdn.url },
    { access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint }, onNotice: () => undefined },
  );
  // The built page: its result line is read where a person reads it.
  server = await startConsoleOn(env, {
    openSite: async () => site,
    verifyTimeoutMs: 300,
    uiDir: CONSOLE_UI_DIR,
  });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  site?.close();
  await repo?.cleanup();
  await t?.stop();
  await cdn?.stop();
});

const api = (resource: string) => new URL(`/api/stacks/${STACK}/${resource}`, server.url);
const bearer = () => ({ authorization: `Bearer ${server.token}` });

it('a deploy the CDN does not serve: the answer and the last progress event say it was switched back', async () => {
  // The "CDN" keeps serving C1's page.
  cdn.frozen = (await t.site.hosting.get('index.html'))?.body ?? null;
  const stream = await openEventStream(new URL(server.url).origin, server.token);
  try {
    const plan = (await (
      await fetch(api('plan?action=deploy-latest'), { headers: bearer() })
    ).json()) as PlanView;
    expect(plan).toMatchObject({ commit: C2, fromCommit: C1 });
    const runId = 'run-switched-back-1';
    const res = await fetch(api('deploy-latest'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer() },
      body: JSON.stringify({ deployId: plan.deployId, runId }),
    });
    const result = (await res.json()) as ActionResult;
    expect(res.status, JSON.stringify(result)).toBe(200);
    const live = (await t.site.records.readPointer())?.value;
    expect(live?.commit).toBe(C1);
    expect(result, JSON.stringify(result)).toMatchObject({
      deployId: plan.deployId,
      outcome: 'failed',
      error: { code: 'VERIFY_FAILED' },
      rolledBackTo: live?.deployId,
      tag: null,
    });
    const done = (event: ConsoleEvent) =>
      event.source === 'deploy' && event.runId === runId && event.event.type === 'done';
    await stream.waitFor(done);
    const last = stream.events.find(done);
    expect(last?.source === 'deploy' && last.event).toMatchObject({
      type: 'done',
      outcome: 'failed',
      headline: `Finished: failed; ${switchedBack(String(live?.deployId))}.`,
    });
  } finally {
    stream.close();
  }
});

it.skipIf(!hasChromium)('the page says it too: the result line and the progress', async () => {
  // Still frozen: the latest build is again not served, and C1 is put back again.
  browser = await openChromium();
  const page = await signedInPage(browser, server);
  await page.getByRole('button', { name: 'Deploy latest' }).click();
  await page.getByRole('button', { name: 'Confirm deploy' }).click();
  const status = page.getByRole('status').filter({ hasText: `Deploy failed: ${C2.slice(0, 7)}` });
  await status.waitFor();
  const live = (await t.site.records.readPointer())?.value;
  expect(live?.commit).toBe(C1);
  const back = switchedBack(String(live?.deployId));
  expect(await status.textContent()).toContain(
    `The CDN did not serve the new index.html in time: the CDN still serves another index.html. ${capitalise(back)}.`,
  );
  await page.getByRole('region', { name: 'Progress' }).getByText(`Finished: failed; ${back}.`).waitFor();
  // The page reads the stack again after a change: let it finish before the stack stops (the first
  // release, then two failed deploys each with its switch back).
  const history = page.getByRole('region', { name: 'History' }).getByRole('listitem');
  await expect.poll(() => history.count()).toBe(5);
});
