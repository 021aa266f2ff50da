/**
 * The deploy console on an atomic stack in a real browser (Debian's Chromium through
 * playwright-core), over the real engine, the embedded S3 server and the local edge in atomic mode:
 * the environment card shows the release mode, the canary's share and the open previews; "Deploy to
 * a share first…" starts a canary; Promote canary and Abort canary each say in their confirmation
 * what the one key write does; "Preview" in the history answers a signed link that opens the release
 * in a new tab while visitors keep the live one. The UI is the package's prebuilt one (build first).
 * Screenshots go to test-artifacts/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { defaultConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { type FileBrowser, hasChromium, openChromium } from '../support/browser.ts';
import { ARTIFACTS_DIR } from '../support/cli.ts';
import { postToConsole } from '../support/console-env.ts';
import { releaseOf, Browser as Visitor } from '../support/edge-probe.ts';
import { createTestRepo, snapshotRepo, type TestRepo } from '../support/git-repo.ts';

const STACK = 'dashboard-atomic';

let t: AtomicEnv;
let repo: TestRepo;
let server: ConsoleServer;
let browser: FileBrowser;
let context: BrowserContext;
let page: Page;
let C1: string;
let C2: string;
/**
 * The stack and repository as the cases start from them: C1 live; a canary of C2 at 10% started in
 * the console ("watch the totals"); that canary promoted ("the totals hold").
 */
let c1Live: Snapshot;
let canaryAt10: Snapshot;
let c2Promoted: Snapshot;

interface Snapshot {
  restore(): Promise<void>;
}
/** The stack (atomic-snapshot.ts) and the repository's tags (a promote tags its change), together. */
async function snapshot(): Promise<Snapshot> {
  const [stack, refs] = await Promise.all([snapshotAtomicEnv(t), snapshotRepo(repo)]);
  return {
    async restore() {
      await Promise.all([stack.restore(), refs.restore()]);
    },
  };
}
/** Puts the stack back to `from` and reloads the page on it, as a person coming back to it would. */
async function openAt(from: Snapshot): Promise<void> {
  await from.restore();
  await page.reload();
  // As a case in order found it: the page has read the stack (its live card and its history).
  await page.getByTestId(`live-${STACK}`).waitFor();
  await timeline(page).first().waitFor();
}

const short = (sha: string) => sha.slice(0, 7);
/** What a new visitor of the site gets (no cookie: dealt a bucket like anyone). */
const visitorGets = async () => releaseOf((await new Visitor(t.edge.url).navigate('/')).body);

describe.skipIf(!hasChromium)('the console on an atomic stack, in Chromium', () => {
  beforeAll(async () => {
    t = await startAtomicEnv();
    repo = await createTestRepo();
    C1 = repo.commits.dashboard1;
    C2 = repo.commits.dashboard2; // the latest commit of apps/sophia-dashboard
    await t.publish(C1, 'v1');
    await t.publish(C2, 'v2');
    await deployArtifact(t.site, { app: APP, commit: C1, request: request('first deploy') });
    server = await startConsole({
      config: defaultConfig(),
      stacks: [STACK],
      // Protected: the confirmations say that confirming is the approval, as for a deploy.
      openSite: async () => ({ ...t.site, protected: true }),
      git: createLocalGit({ repoDir: repo.dir }),
      actor: 'release-manager (console)',
    });
    browser = await openChromium();
    context = await browser.newContext({
      baseURL: new URL(server.url).origin,
      viewport: { width: 1440, height: 1000 },
    });
    page = await context.newPage();
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    c1Live = await snapshot();
    const started = await postToConsole<{ deployId: string }>(server, '/api/canary/start', {
      stack: STACK,
      percent: 10,
      message: 'watch the totals',
    });
    canaryAt10 = await snapshot();
    await postToConsole(server, '/api/canary/promote', {
      stack: STACK,
      deployId: started.deployId,
      message: 'the totals hold',
    });
    c2Promoted = await snapshot();
    await page.goto(server.signInAddress());
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    await t?.stop();
    await repo?.cleanup();
  });

  it('shows the release mode; “Deploy to a share first…” starts a canary, and the card says its share in words and numbers', async () => {
    await c1Live.restore();
    await page.goto(server.signInAddress());
    const environments = page.getByRole('navigation', { name: 'Environments' });
    await expect.poll(() => textOf(page.getByTestId(`live-${STACK}`))).toContain(short(C1));
    expect(await textOf(environments)).toContain('atomic releases');
    await expect.poll(() => textOf(page.getByRole('region', { name: 'Plan' }))).toContain(short(C2));

    await page.getByRole('button', { name: 'Deploy latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deploy the latest build?' });
    await dialog.getByText(`deploy ${APP}@${short(C2)} to ${STACK}`).waitFor();
    await dialog.getByRole('checkbox', { name: /Deploy to a share first/ }).check();
    const share = dialog.getByRole('spinbutton', { name: 'Share of visitors (%)' });
    await share.fill('100');
    expect(await dialog.getByRole('button', { name: /^Start canary/ }).isDisabled()).toBe(true);
    await dialog.getByText('The share is a whole percentage from 1 to 99.').waitFor();
    await share.fill('10');
    await dialog
      .getByText(/A canary: 10% of visitors get [0-9a-f]{7} .* the other 90% keep [0-9a-f]{7}/)
      .waitFor();
    await dialog.getByRole('textbox', { name: /Why/ }).fill('watch the totals');
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'atomic-share-first.png'), fullPage: true });
    await dialog.getByRole('button', { name: 'Start canary at 10%' }).click();

    await page
      .getByRole('status')
      .filter({ hasText: `Canary succeeded: 10% of visitors get ${APP}@${short(C2)}` })
      .waitFor();
    await expect
      .poll(() => textOf(page.getByTestId(`canary-${STACK}`)))
      .toMatch(
        new RegExp(
          `Canary: ${APP}@${short(C2)} gets 10% of visitors since just now, by release-manager \\(console\\)[\\s\\S]*10% on ${short(C2)} · 90% on the live release`,
        ),
      );
    expect((await t.store().read()).value?.weight).toBe(10);
    // Deploys are refused while the canary runs: the plan card offers its two ways forward instead.
    const plan = page.getByRole('region', { name: 'Plan' });
    await plan.getByRole('note', { name: 'Canary' }).waitFor();
    expect(await plan.getByRole('button', { name: 'Deploy latest' }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'atomic-canary.png'), fullPage: true });
  });

  it('Promote canary says what happens, asks to confirm, and everyone gets the canary', async () => {
    await openAt(canaryAt10);
    await page.getByRole('button', { name: 'Promote canary' }).click();
    const dialog = page.getByRole('dialog', { name: 'Promote the canary?' });
    const words = await textOf(dialog);
    expect(words).toContain(
      `Everyone gets ${APP}@${short(C2)}: the 10% of visitors who have it now, and the other 90%, who get ${APP}@${short(C1)} today.`,
    );
    expect(words).toMatch(/one key write at the edge/);
    expect(words).toMatch(/no CDN invalidation/);
    expect(words).toMatch(/dashboard-atomic is protected: confirming is your approval/);
    // Nothing changes until it is confirmed.
    expect((await t.store().read()).value?.weight).toBe(10);
    await dialog.getByRole('textbox', { name: /Why/ }).fill('the totals hold');
    await dialog.getByRole('button', { name: 'Confirm promote canary' }).click();

    const status = page
      .getByRole('status')
      .filter({ hasText: `Canary promote succeeded: everyone gets ${APP}@${short(C2)}.` });
    await status.waitFor();
    expect(await textOf(status)).toMatch(/tagged dashboard-deploy-\d{8}-1/);
    // The card's canary line named C2 too: wait for it to go, then read the live line.
    await expect.poll(() => page.getByTestId(`canary-${STACK}`).count()).toBe(0);
    expect(await textOf(page.getByTestId(`live-${STACK}`))).toMatch(new RegExp(`Live:\\s*${short(C2)}`));
    expect((await t.store().read()).value).toEqual({ live: expect.any(String) });
    expect(await visitorGets()).toBe('v2');
    const progress = page.getByRole('region', { name: 'Progress' });
    await progress.getByText('Finished: succeeded.').waitFor();
    expect(await textOf(progress)).toContain(`Promoting the canary ${APP}@${short(C2)}: everyone gets it`);
    expect(await textOf(progress)).toContain(`Visitors now get ${APP}@${short(C2)}.`);
    await expect.poll(() => textOf(timeline(page).first())).toContain('Promote the canary');
  });

  it('Abort canary says everyone goes back to the live release, asks to confirm, and does so', async () => {
    await c2Promoted.restore();
    // Someone starts a canary of the older build from a terminal (which reads the stack as the
    // protected one the console marked it); the page shows it when it reloads.
    await startCanary(
      { ...t.site, protected: true },
      { app: APP, commit: C1, weightPercent: 25, request: request('cli canary') },
    );
    const before = (await t.store().read()).value;
    await page.reload();
    await expect
      .poll(() => textOf(page.getByTestId(`canary-${STACK}`)))
      .toContain(`${APP}@${short(C1)} gets 25%`);
    await page.getByRole('button', { name: 'Abort canary' }).click();
    const dialog = page.getByRole('dialog', { name: 'Abort the canary?' });
    expect(await textOf(dialog)).toContain(
      `Everyone goes back to the live release, ${APP}@${short(C2)}: the 25% of visitors on ${APP}@${short(C1)} get it on their next page.`,
    );
    expect(await textOf(dialog)).toMatch(/one key write at the edge[\s\S]*no CDN invalidation/);
    await dialog.getByRole('button', { name: 'Confirm abort canary' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Canary abort succeeded: everyone is back on the live release.' })
      .waitFor();
    await expect.poll(() => page.getByTestId(`canary-${STACK}`).count()).toBe(0);
    expect((await t.store().read()).value).toEqual({ live: before?.live });
    await page.getByRole('button', { name: 'Deploy latest' }).waitFor();
    expect(await visitorGets()).toBe('v2');
    // The history has the canary's start and abort as rows of their own: neither is a release to
    // go back to, redeploy or preview (C1's own deploy row offers those).
    await expect.poll(() => textOf(timeline(page).first())).toMatch(/^canary-abort/);
    const [aborted, started] = [timeline(page).nth(0), timeline(page).nth(1)];
    expect(await textOf(started)).toMatch(new RegExp(`^canary-start 25%\\s+${short(C1)}`));
    for (const row of [aborted, started]) {
      for (const name of ['Roll back to this', 'Redeploy this', 'Preview']) {
        expect(await row.getByRole('button', { name }).count()).toBe(0);
      }
    }
  });

  it('Preview in the history opens the release in a new tab until its expiry; visitors keep the live one', async () => {
    await openAt(c2Promoted);
    const first = timeline(page).filter({ hasText: 'first deploy' });
    await first.getByRole('button', { name: 'Preview' }).waitFor();
    // The live release has no Preview: the site itself shows it.
    expect(await timeline(page).first().getByRole('button', { name: 'Preview' }).count()).toBe(0);
    await first.getByRole('button', { name: 'Preview' }).click();
    const line = first.getByRole('status', { name: 'Preview link' });
    await line.waitFor();
    expect(await textOf(line)).toMatch(
      new RegExp(`Open the preview of ${APP}@${short(C1)} · works until .* · only you got this link`),
    );
    const link = line.getByRole('link', { name: `Open the preview of ${APP}@${short(C1)}` });
    expect(await link.getAttribute('target')).toBe('_blank');
    const href = (await link.getAttribute('href')) as string;
    expect(new URL(href).origin).toBe(new URL(t.edge.url).origin);
    const token = new URL(href).searchParams.get('fo_preview') as string;

    const [tab] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await tab.waitForLoadState();
    expect(await tab.locator('meta[name="release"]').getAttribute('content')).toBe('v1');
    expect(await tab.title()).toBe('Sophia v1');
    await tab.close();
    expect(await visitorGets()).toBe('v2');

    // The card lists the open preview (what, until when, who) — never the link.
    const previews = page.getByTestId(`previews-${STACK}`);
    await expect
      .poll(() => textOf(previews))
      .toMatch(new RegExp(`${APP}@${short(C1)} until .*, by release-manager \\(console\\)`));
    expect(await textOf(page.getByRole('navigation', { name: 'Environments' }))).not.toContain(token);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'atomic-preview.png'), fullPage: true });
  });
});

// Locator.innerText() is Playwright's (laid-out text with line breaks), not the DOM property the lint rule means.
// biome-ignore lint/performance/useDomNodeTextContent: see above.
const textOf = (locator: Locator) => locator.innerText();

const timeline = (p: Page) => p.getByRole('region', { name: 'History' }).getByRole('listitem');
