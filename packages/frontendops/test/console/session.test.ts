/**
 * The console's browser session is no ambient credential. A browser sends a host's cookies to every
 * port of it (and another port is the same site for SameSite), so a session cookie reached any other
 * local web server the signed-in browser visited, which could replay it outside a browser. Now a
 * sign-in address hands the session id to the page in the page itself (never in an address or a
 * cookie), the page keeps it in sessionStorage (its own origin, port included) and sends it as a
 * bearer header.
 * In Chromium: another local server the operator visits learns nothing it could use, and the console
 * page keeps working (reads, a deploy with its progress stream, a pin, a reload). In process: the
 * sign-in's answer, sessions as bearers, and an old-style cookie refused.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { loadConfig } from '../../src/config.ts';
import { checkAccess, createSessions, SESSION_TTL_MS } from '../../src/console/auth.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { WORDS_MAX } from '../../src/engine/text.ts';
import { readPin } from '../../src/state/pin.ts';
import { type FileBrowser, hasChromium, openChromium } from '../support/browser.ts';
import { APP, type ConsoleEnvSnapshot, snapshotConsoleEnv, startConsoleEnv } from '../support/console-env.ts';
import { newSession as newSessionOf, sessionInPage } from '../support/console-sign-in.ts';
import { STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';

/** The repository's two dashboard commits; the second is "the latest". */
let C1: string;
let C2: string;
/** Where the page keeps its session (sessionStorage: this origin only, port included). */
const STORAGE_KEY = 'frontendops.console.session';

let t: TestDeployEnv;
let repo: TestRepo;
let server: ConsoleServer;
/** The stack as every case starts from: C1 live, C2 published, nothing pinned. */
let fresh: ConsoleEnvSnapshot;

beforeAll(async () => {
  ({ t, repo, C1, C2 } = await startConsoleEnv({ protected: true }));
  fresh = await snapshotConsoleEnv({ t, repo, C1, C2 });
  // The package's prebuilt UI (the test run's global setup builds it).
  server = await startConsole({
    config: await loadConfig(t.tmp),
    stacks: [STACK],
    openSite: async () => t.site,
    git: createLocalGit({ repoDir: repo.dir }),
    actor: 'operator (console)',
  });
});
afterAll(async () => {
  await server?.close();
  await repo?.cleanup();
  await t?.stop();
});
// A browser case pins and rolls back through the page: the cases after it, in any order, start afresh.
beforeEach(() => fresh.restore());

const origin = () => new URL(server.url).origin;
const port = () => new URL(server.url).port;
const pinUrl = (action: 'pin' | 'unpin' = 'pin') => `${origin()}/api/stacks/${STACK}/${action}`;

async function signIn(address = server.signInAddress()): Promise<Response> {
  return fetch(address, { redirect: 'manual' });
}

const newSession = () => newSessionOf(server);

function postPin(headers: Record<string, string>, action: 'pin' | 'unpin' = 'pin', message = 'why') {
  return fetch(pinUrl(action), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ message }),
  });
}

describe('signing in', () => {
  it('a sign-in address: the page with a new session id in it (in no address), and no cookie', async () => {
    const res = await signIn();
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const id = sessionInPage(await res.text()) ?? '';
    // A session of this console, never the token itself.
    expect(id.length).toBeGreaterThanOrEqual(43);
    expect(id).not.toContain(server.token);
    // Each sign-in is a new session.
    expect(await newSession()).not.toBe(id);
  });

  it('a wrong code, or the token itself: 403, with no session and no cookie', async () => {
    for (const wrong of ['not-a-code-at-all', `${server.signInAddress().split('=')[1]}x`, '']) {
      const res = await signIn(`${server.url}?signin=${wrong}`);
      expect(res.status).toBe(403);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(sessionInPage(await res.text())).toBeNull();
    }
    const byToken = await signIn(`${server.url}?token=${server.token}`);
    expect(byToken.status).toBe(403);
    expect(sessionInPage(await byToken.text())).toBeNull();
  });

  it('a session id works as a bearer for reads and mutations; a wrong one is 401', async () => {
    const id = await newSession();
    const session = await fetch(`${origin()}/api/session`, { headers: { authorization: `Bearer ${id}` } });
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ stacks: [STACK], actor: 'operator (console)' });

    const pinned = await postPin({ authorization: `Bearer ${id}` }, 'pin', 'checking the session');
    expect(pinned.status, await pinned.clone().text()).toBe(200);
    expect(await pinned.json()).toMatchObject({ changed: true, pin: { reason: 'checking the session' } });
    const unpinned = await postPin({ authorization: `Bearer ${id}` }, 'unpin');
    expect(unpinned.status).toBe(200);
    expect(await readPin(t.site)).toBeNull();

    for (const wrong of [`${id}x`, id.slice(1), 'A'.repeat(id.length)]) {
      const refused = await fetch(`${origin()}/api/session`, {
        headers: { authorization: `Bearer ${wrong}` },
      });
      expect(refused.status, wrong).toBe(401);
      expect((await postPin({ authorization: `Bearer ${wrong}` })).status).toBe(401);
    }
    expect(await readPin(t.site)).toBeNull();
  });

  it('an old-style session cookie alone gets 401, with or without the old console header', async () => {
    const id = await newSession();
    for (const cookie of [`frontendops_console_${port()}=${id}`, `frontendops_console=${id}`]) {
      const read = await fetch(`${origin()}/api/session`, { headers: { cookie } });
      expect(read.status, cookie).toBe(401);
      const events = await fetch(`${origin()}/api/events`, { headers: { cookie } });
      expect(events.status, cookie).toBe(401);
      expect((await postPin({ cookie, 'x-frontendops-console': '1' })).status, cookie).toBe(401);
    }
    expect(await readPin(t.site)).toBeNull();
  });

  it('a session mutation from another site, another origin or as a form is refused', async () => {
    const authorization = `Bearer ${await newSession()}`;
    expect((await postPin({ authorization, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await postPin({ authorization, origin: `http://127.0.0.1:${Number(port()) + 1}` })).status).toBe(
      403,
    );
    // A sandboxed frame or a file:// page says `Origin: null`.
    expect((await postPin({ authorization, origin: 'null' })).status).toBe(403);
    // Simple requests, which a browser sends without asking first: a form, and a text/plain body holding JSON.
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', 'message=no'],
      ['text/plain', '{"message":"no"}'],
      ['multipart/form-data; boundary=x', '--x--'],
    ] as const) {
      const simple = await fetch(pinUrl(), {
        method: 'POST',
        headers: { authorization, 'content-type': type },
        body,
      });
      expect(simple.status).toBe(403);
    }
    expect(await readPin(t.site)).toBeNull();
  });
});

describe("a person's words", () => {
  it('a pin takes as long a message as the CLI and an MCP client do; one character more is refused, with nothing pinned', async () => {
    const bearer = { authorization: `Bearer ${await newSession()}` };
    const words = 'x'.repeat(WORDS_MAX);
    const pinned = await postPin(bearer, 'pin', words);
    expect(pinned.status, await pinned.clone().text()).toBe(200);
    expect((await readPin(t.site))?.reason).toBe(words);
    expect((await postPin(bearer, 'unpin')).status).toBe(200);

    const refused = await postPin(bearer, 'pin', `${words}!`);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/at most 2000 characters/);
    expect(await readPin(t.site)).toBeNull();
  });
});

describe('sessions', () => {
  const request = (authorization?: string) =>
    ({ headers: authorization ? { authorization } : {} }) as IncomingMessage;
  const TOKEN = 'the-console-token-0123456789';

  it('the token and a live session are accepted, each saying which it was; nothing else is', () => {
    const sessions = createSessions();
    const id = sessions.start();
    expect(checkAccess(request(`Bearer ${TOKEN}`), TOKEN, sessions)).toEqual({ ok: true, via: 'token' });
    expect(checkAccess(request(`Bearer ${id}`), TOKEN, sessions)).toEqual({ ok: true, via: 'session' });
    expect(checkAccess(request(`bearer ${id}`), TOKEN, sessions)).toEqual({ ok: true, via: 'session' });
    for (const wrong of [undefined, `Bearer ${id}x`, `Basic ${id}`, `Bearer ${TOKEN} x`, 'Bearer '])
      expect(checkAccess(request(wrong), TOKEN, sessions), String(wrong)).toEqual({ ok: false });
    // Another console's session is not one of this console's.
    expect(checkAccess(request(`Bearer ${createSessions().start()}`), TOKEN, sessions)).toEqual({
      ok: false,
    });
  });

  it('a session expires after SESSION_TTL_MS', () => {
    let now = 1_000_000;
    const sessions = createSessions(() => now);
    const id = sessions.start();
    now += SESSION_TTL_MS - 1;
    expect(checkAccess(request(`Bearer ${id}`), TOKEN, sessions).ok).toBe(true);
    now += 1;
    expect(checkAccess(request(`Bearer ${id}`), TOKEN, sessions)).toEqual({ ok: false });
    // The token does not expire.
    expect(checkAccess(request(`Bearer ${TOKEN}`), TOKEN, sessions).ok).toBe(true);
  });
});

describe.skipIf(!hasChromium)('in Chromium: another local server the operator visits', () => {
  let rogue: Server;
  let rogueUrl = '';
  const rogueSaw: { url: string; headers: Record<string, string | string[] | undefined> }[] = [];
  /** One browser for both cases: each has a context of its own (its own cookies, storage and routes). */
  let browser: FileBrowser;

  beforeAll(async () => {
    browser = await openChromium();
    // Some other local web server: a dev server, another tool's UI, a malicious package's helper.
    rogue = createServer((req, res) => {
      rogueSaw.push({ url: req.url ?? '', headers: { ...req.headers } });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>something else</title><p>hello</p>');
    });
    await new Promise<void>((resolve) => rogue.listen(0, '127.0.0.1', resolve));
    const address = rogue.address();
    rogueUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => rogue?.close(resolve));
  });

  it('receives no console credential, cannot call the API with anything it saw, and the console page keeps working', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    try {
      /** Every request a tab makes to the console, with all its headers (none for one cut short). */
      const watch = (tab: Page) => {
        const seen: { url: string; headers: Promise<Record<string, string>> }[] = [];
        tab.on('request', (request) => {
          if (request.url().startsWith(origin()))
            seen.push({ url: request.url(), headers: request.allHeaders().catch(() => ({})) });
        });
        return seen;
      };
      const page = await context.newPage();
      const consoleRequests = watch(page);

      await page.goto(server.signInAddress());
      const live = page.getByTestId(`live-${STACK}`);
      await expect.poll(() => textOf(live)).toContain(C1.slice(0, 7));
      const signedIn = new URL(page.url());
      const stored = await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY);

      // The operator's browser later opens some other local page, in this tab and in another one.
      await page.goto(rogueUrl);
      expect(rogueSaw.length).toBeGreaterThan(0);
      // No cookie at all: the browser holds none for this host, so none goes to any of its ports.
      for (const request of rogueSaw) expect(request.headers.cookie, request.url).toBeUndefined();
      expect(await context.cookies()).toEqual([]);

      // The page kept its session in sessionStorage, and neither the sign-in code nor the session is left in
      // the address bar (or the history entry).
      expect(stored).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      const id = stored as string;
      expect(signedIn.search).toBe('');
      expect(signedIn.hash).toBe('');

      // The other page's scripts look for what they can, and try the console's API from the browser.
      const look = () => ({
        cookie: document.cookie,
        session: JSON.stringify({ ...sessionStorage }),
        local: JSON.stringify({ ...localStorage }),
      });
      const sameTab = await page.evaluate(look);
      const other = await context.newPage();
      const otherRequests = watch(other);
      await other.goto(rogueUrl);
      const tried = await other.evaluate(
        async ({ consoleOrigin, stack }) => {
          const answers: string[] = [];
          for (const init of [
            { method: 'GET', url: `${consoleOrigin}/api/session` },
            {
              method: 'POST',
              url: `${consoleOrigin}/api/stacks/${stack}/pin`,
              headers: { 'content-type': 'text/plain' },
              body: '{"message":"from another page"}',
            },
          ]) {
            try {
              const res = await fetch(init.url, { ...init, mode: 'no-cors', credentials: 'include' });
              answers.push(res.type);
            } catch (error) {
              answers.push(String(error));
            }
          }
          return answers;
        },
        { consoleOrigin: origin(), stack: STACK },
      );
      const otherTab = await other.evaluate(look);
      await other.close();
      for (const loot of [sameTab, otherTab])
        expect(loot).toEqual({ cookie: '', session: '{}', local: '{}' });
      expect(tried).toHaveLength(2);
      await expect.poll(() => otherRequests.map((r) => new URL(r.url).pathname)).toContain('/api/session');
      for (const r of otherRequests) {
        const headers = await r.headers;
        expect(headers.authorization, r.url).toBeUndefined();
        expect(headers.cookie, r.url).toBeUndefined();
      }
      const seen = JSON.stringify([rogueSaw, sameTab, otherTab]);
      expect(seen).not.toContain(id);
      expect(seen).not.toContain(server.token);
      expect(await readPin(t.site)).toBeNull();

      // Outside a browser, replaying what it saw — its headers, and every long string in them as a
      // bearer or a cookie — gets nowhere.
      const candidates = new Set(seen.match(/[A-Za-z0-9_-]{16,}/g) ?? []);
      expect(candidates.size).toBeGreaterThan(0);
      for (const { headers } of rogueSaw) {
        const replay = Object.fromEntries(
          Object.entries(headers).filter(
            (e): e is [string, string] =>
              typeof e[1] === 'string' && !['host', 'connection', 'content-length', 'origin'].includes(e[0]),
          ),
        );
        expect((await fetch(`${origin()}/api/session`, { headers: replay })).status).toBe(401);
        expect((await postPin({ ...replay, 'x-frontendops-console': '1' })).status).toBe(401);
      }
      for (const candidate of candidates) {
        const replays: Record<string, string>[] = [
          { authorization: `Bearer ${candidate}` },
          { cookie: `frontendops_console_${port()}=${candidate}`, 'x-frontendops-console': '1' },
        ];
        for (const headers of replays) expect((await postPin(headers)).status, candidate).toBe(401);
      }
      expect(await readPin(t.site)).toBeNull();

      // Back in the console's tab: still signed in (sessionStorage lasts as long as the tab).
      await page.goto(server.url);
      await expect.poll(() => textOf(live)).toContain(C1.slice(0, 7));
      // A reload keeps the session too.
      await page.reload();
      await expect.poll(() => textOf(live)).toContain(C1.slice(0, 7));
      await expect.poll(() => textOf(page.getByRole('region', { name: 'Plan' }))).toContain(C2.slice(0, 7));

      // A deploy through the page's own API path, its progress on the event stream…
      await page.getByRole('button', { name: 'Deploy latest' }).click();
      const dialog = page.getByRole('dialog', { name: 'Deploy the latest build?' });
      await dialog.getByRole('button', { name: 'Confirm deploy' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Deploy succeeded: ${C2.slice(0, 7)}` })
        .waitFor();
      await page.getByRole('region', { name: 'Progress' }).getByText('Finished: succeeded.').waitFor();
      expect((await t.site.records.readPointer())?.value.commit).toBe(C2);
      // …and a pin of what the page shows live once it shows the deploy's release (the dialog names
      // the release the pin keeps: the one the page showed live when it opened).
      await expect.poll(() => textOf(live)).toContain(C2.slice(0, 7));
      await page.getByRole('region', { name: 'Plan' }).getByRole('button', { name: 'Pin' }).click();
      const pinDialog = page.getByRole('dialog', { name: `Pin ${STACK}?` });
      await expect.poll(() => textOf(pinDialog)).toContain(`@${C2.slice(0, 7)} (${C2.slice(0, 7)}-`);
      await pinDialog.getByRole('textbox', { name: /Why/ }).fill('holding for the demo');
      await pinDialog.getByRole('button', { name: 'Pin' }).click();
      await page.getByRole('status').filter({ hasText: 'Pinned' }).waitFor();
      expect(await readPin(t.site)).toMatchObject({ commit: C2, reason: 'holding for the demo' });

      // Every API call the console's page made carried the session as a bearer header and no cookie;
      // no address (the event stream's included) names the session.
      const api = consoleRequests.filter((r) => new URL(r.url).pathname.startsWith('/api/'));
      const checked = new Set<string>();
      for (const r of api) {
        const headers = await r.headers;
        if (Object.keys(headers).length === 0) continue; // cut short (the tab went elsewhere)
        expect(headers.authorization, r.url).toBe(`Bearer ${id}`);
        expect(headers.cookie, r.url).toBeUndefined();
        checked.add(new URL(r.url).pathname);
      }
      for (const path of [
        '/api/session',
        '/api/events',
        `/api/stacks/${STACK}/deploy-latest`,
        `/api/stacks/${STACK}/pin`,
      ])
        expect(checked).toContain(path);
      for (const r of consoleRequests) expect(r.url).not.toContain(id);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('the progress stream sends the session as a header, and opens again after it fails or ends', async () => {
    // Two releases to roll back between, made here: this case does not lean on the one before's deploy.
    await deployArtifact(t.site, {
      app: APP,
      commit: C2,
      request: {
        text: 'a deploy made elsewhere',
        actor: 'alice',
        planner: 'cli',
        at: new Date().toISOString(),
      },
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    try {
      const page = await context.newPage();
      const attempts: { url: string; authorization: string | undefined }[] = [];
      // The first attempt gets a stream that ends after one event (in the format's corners: CRLF, a
      // comment, retry, a two-line event), the second fails (the network), the rest reach the console.
      // In this order the page waits the stream's 300 ms before each, not its own 2 s before it heard one.
      const synthetic = {
        source: 'deploy',
        runId: 'a-stream-that-ended',
        stack: STACK,
        event: { type: 'step', step: 'test', detail: 'd', headline: 'A step from a stream that then ended' },
      };
      const json = JSON.stringify(synthetic);
      const split = json.indexOf('"event"');
      await page.route('**/api/events', async (route) => {
        attempts.push({ url: route.request().url(), authorization: route.request().headers().authorization });
        if (attempts.length === 1)
          return route.fulfill({
            status: 200,
            contentType: 'text/event-stream; charset=utf-8',
            body: `retry: 300\r\n: a comment\r\n\r\ndata: ${json.slice(0, split)}\r\ndata:${json.slice(split)}\r\n\r\ndata: {"unfinished`,
          });
        if (attempts.length === 2) return route.abort('connectionreset');
        return route.continue();
      });
      await page.goto(server.signInAddress());
      const id = await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY);
      expect(id).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      const progress = page.getByRole('region', { name: 'Progress' });
      await progress.getByText('A step from a stream that then ended').waitFor();
      await expect.poll(() => attempts.length).toBeGreaterThanOrEqual(3);

      // What the console itself says on the reopened stream reaches the page: a rollback's progress.
      await page
        .getByRole('region', { name: 'Plan' })
        .getByRole('button', { name: 'Roll back', exact: true })
        .click();
      await page
        .getByRole('dialog', { name: 'Roll back?' })
        .getByRole('button', { name: 'Confirm rollback' })
        .click();
      await page
        .getByRole('status')
        .filter({ hasText: `Rollback succeeded: ${C1.slice(0, 7)}` })
        .waitFor();
      await progress.getByText('Finished: succeeded.').waitFor();
      expect(await textOf(progress)).not.toContain('A step from a stream that then ended');
      for (const attempt of attempts) {
        expect(attempt.authorization).toBe(`Bearer ${id}`);
        expect(new URL(attempt.url).search).toBe('');
      }
    } finally {
      await context.close();
    }
  }, 120_000);
});

// Locator.innerText() is Playwright's (laid-out text with line breaks), not the DOM property the lint rule means.
// biome-ignore lint/performance/useDomNodeTextContent: see above.
const textOf = (locator: Locator) => locator.innerText();
