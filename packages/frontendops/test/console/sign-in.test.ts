/**
 * Signing a browser in leaves no key behind. An address a browser opens stays in its history (and its
 * address bar, if the page then fails to load), so the address the console prints is a sign-in code
 * that works once, within SIGN_IN_TTL_MS, and never the console's token; the session it starts reaches
 * the page in the page itself, never in an address. The old console printed `/?token=<token>`: that
 * address signed any browser in again for the console's life, and its redirect put the session id in
 * the address (`/#session=<id>`), left there when the page's script did not load.
 */
import { createServer } from 'node:http';
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createSignIns, SESSION_TTL_MS, SIGN_IN_TTL_MS } from '../../src/console/auth.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { listen } from '../../src/http-listen.ts';
import { hasChromium } from '../support/browser.ts';
import { newSession, sessionInPage } from '../support/console-sign-in.ts';
import { STACK } from '../support/deploy-env.ts';
import { pageConsoleFor } from '../support/page-console.ts';

const STORAGE_KEY = 'frontendops.console.session';

describe.skipIf(!hasChromium)('signing the console in, in Chromium', () => {
  const started = pageConsoleFor();
  const origin = () => new URL(started().server.url).origin;
  const sessionAnswer = (bearer: string) =>
    fetch(`${origin()}/api/session`, { headers: { authorization: `Bearer ${bearer}` } }).then(
      (r) => r.status,
    );

  it('leaves nothing in the address or the history, and the address opened signs no other tab in', async () => {
    const { server, C1 } = started();
    const address = server.signInAddress();
    expect(address).not.toContain(server.token);
    const page = await started().openPage();
    const before = await page.evaluate(() => window.history.length);
    await page.goto(address);
    await expect.poll(() => page.getByTestId(`live-${STACK}`).textContent()).toContain(C1.slice(0, 7));
    // One entry more (the console's), and it holds neither code, token nor session.
    expect(await page.evaluate(() => [window.history.length, window.location.href])).toEqual([
      before + 1,
      `${origin()}/`,
    ]);
    const stored = (await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY)) ?? '';
    expect(await sessionAnswer(stored)).toBe(200);
    // A reload stays signed in (the session, not the address, signs it in).
    await page.reload();
    await expect.poll(() => page.getByTestId(`live-${STACK}`).textContent()).toContain(C1.slice(0, 7));

    // Whoever reads that address from the browser's history later opens it: nothing is signed in.
    const later = await started().openPage();
    const answer = await later.goto(address);
    expect(answer?.status()).toBe(403);
    expect(await later.textContent('body')).toMatch(/used already \(each works once\)/);
    expect(await later.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY)).toBeNull();
    expect(await later.context().cookies()).toEqual([]);
  });

  it('Sign out ends the tab’s session: its id, kept from before, is refused, its stream ends; a reload is not signed in', async () => {
    const { server, C1 } = started();
    const page = await started().openPage();
    await page.goto(server.signInAddress());
    await expect.poll(() => page.getByTestId(`live-${STACK}`).textContent()).toContain(C1.slice(0, 7));
    // What someone who saw the tab's storage (devtools over a shared screen) would replay.
    const seen = (await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY)) ?? '';
    expect(await sessionAnswer(seen)).toBe(200);
    // A progress stream the session holds open in this origin (as the page's own is), its answer in.
    const streamStatus = await page.evaluate(async (bearer) => {
      const response = await fetch('/api/events', { headers: { authorization: `Bearer ${bearer}` } });
      (window as unknown as { held: Response }).held = response;
      return response.status;
    }, seen);
    expect(streamStatus).toBe(200);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/session has ended/);
    expect(await sessionAnswer(seen)).toBe(401);
    // The stream ends with the session: read to its end (a stream left open would time the test out).
    const streamEnded = await page.evaluate(async () => {
      const reader = (window as unknown as { held: Response }).held.body?.getReader();
      while (reader && !(await reader.read()).done);
      return true;
    });
    expect(streamEnded).toBe(true);
    expect(await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY)).toBeNull();
    await page.reload();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/Access refused/);
    // What to do, in the console's terms: a sign-in address is printed, never the token.
    const refusal = (await page.getByRole('alert').textContent()) ?? '';
    expect(refusal).toMatch(/prints a sign-in address when it starts/);
    expect(refusal).not.toMatch(/token is printed/);
  });

  it('Sign out when the console cannot be told (stopped, unreachable, an error answer): the tab forgets its session and says so', async () => {
    const { t, C1 } = started();
    const signedInTab = async (server: Pick<ConsoleServer, 'url' | 'signInAddress'>) => {
      const page = await started().openPage();
      await page.goto(server.signInAddress());
      await expect.poll(() => page.getByTestId(`live-${STACK}`).textContent()).toContain(C1.slice(0, 7));
      const id = (await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY)) ?? '';
      expect(id).not.toBe('');
      return { page, id };
    };
    const signOutSays = async (page: Page) => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await expect.poll(() => page.getByRole('status').textContent()).toMatch(/Signed out/);
      expect(await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY)).toBeNull();
      return (await page.getByRole('status').textContent()) ?? '';
    };
    const notTold = /forgot its session, but the console could not be told/;
    const hours = `${SESSION_TTL_MS / 3_600_000} hours`;

    // The console stopped (its port closed) while the tab was open.
    const own = await startConsole({
      config: await loadConfig(t.tmp),
      stacks: [STACK],
      openSite: async () => t.site,
    });
    const stopped = await signedInTab(own);
    await own.close();
    expect(await signOutSays(stopped.page)).toMatch(notTold);

    // The network fails, or something answers an error: the session still works until its end, and the page says so.
    const { server } = started();
    for (const fail of [
      (r: Route) => r.abort('connectionrefused'),
      (r: Route) => r.fulfill({ status: 502, body: 'Bad Gateway' }),
    ]) {
      const { page, id } = await signedInTab(server);
      await page.route('**/api/sign-out', fail);
      const said = await signOutSays(page);
      expect(said).toMatch(notTold);
      // Its lifetime as the server keeps it (SESSION_TTL_MS), said by the page from that one constant.
      expect(said).toContain(`ends within ${hours} of signing in`);
      // And how to end it now: every session of the console, by its token's holder.
      expect(said).toMatch(/every session is ended \(frontendops console --sign-out-all for/);
      expect(await sessionAnswer(id)).toBe(200);
      await page.reload();
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/Access refused/);
      expect(await page.getByRole('alert').textContent()).toContain(`or ${hours} pass`);
    }

    // The session had already ended (the duplicate of this tab signed it out): refused, so ended, not "not told".
    const { page, id } = await signedInTab(server);
    const out = await fetch(`${origin()}/api/sign-out`, {
      method: 'POST',
      headers: { authorization: `Bearer ${id}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(out.status).toBe(200);
    const said = await signOutSays(page);
    expect(said).not.toMatch(notTold);
    expect(said).toMatch(/session has ended/);
  });

  it('a page whose script does not load leaves only a spent code in the address bar', async () => {
    const { server } = started();
    const page = await started().openPage((context) => context.route('**/assets/*.js', (r) => r.abort()));
    await page.goto(server.signInAddress());
    await page.waitForLoadState('load');
    const left = new URL(page.url());
    // Whatever the address holds (query or fragment), none of it is a bearer of this console,
    // and opening it again signs nothing in.
    const values = [...left.searchParams.values(), ...new URLSearchParams(left.hash.slice(1)).values()];
    expect(values.length).toBeGreaterThan(0);
    for (const value of values) expect(await sessionAnswer(value), value).toBe(401);
    const again = await fetch(left.href, { redirect: 'manual' });
    expect(again.status).toBe(403);
    expect(sessionInPage(await again.text())).toBeNull();
  });
});

describe.skipIf(!hasChromium)('sign-in addresses over HTTP', () => {
  const started = pageConsoleFor();

  /**
   * A console of this file's environment that tells `told` each sign-in address it prints for a
   * refused one (the terminal's lines); the case closes it.
   */
  async function tellingConsole(): Promise<{ server: ConsoleServer; told: string[] }> {
    const { t } = started();
    const told: string[] = [];
    const server = await startConsole({
      config: await loadConfig(t.tmp),
      stacks: [STACK],
      openSite: async () => t.site,
      onRefusedSignIn: (address) => told.push(address),
    });
    return { server, told };
  }

  const origin = () => new URL(started().server.url).origin;

  it('the token itself in an address signs nothing in; a session id never arrives in an address', async () => {
    const { server } = started();
    const byToken = await fetch(`${server.url}?token=${server.token}`, { redirect: 'manual' });
    expect(byToken.status).toBe(403);
    expect(byToken.headers.get('location')).toBeNull();
    expect(sessionInPage(await byToken.text())).toBeNull();
    for (const wrong of ['not-a-code-of-this-console', '']) {
      const refused = await fetch(`${server.url}?signin=${wrong}`, { redirect: 'manual' });
      expect(refused.status, wrong).toBe(403);
      // The refusal of the token above printed a new address: these point to it.
      expect(await refused.text()).toMatch(/printed still works/);
    }
    const signedIn = await fetch(server.signInAddress(), { redirect: 'manual' });
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers.get('location')).toBeNull();
    expect(signedIn.headers.get('set-cookie')).toBeNull();
    expect(signedIn.headers.get('cache-control')).toBe('no-store');
    expect(sessionInPage(await signedIn.text())).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('a HEAD of a sign-in address (a link checker, say) does not spend it', async () => {
    const address = started().server.signInAddress();
    expect((await fetch(address, { method: 'HEAD' })).status).toBe(200);
    expect(sessionInPage(await (await fetch(address)).text())).not.toBeNull();
  });

  it('the token makes new sign-in addresses at POST /api/sign-in-address; a session cannot', async () => {
    const { server } = started();
    const ask = (bearer: string) =>
      fetch(`${origin()}/api/sign-in-address`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: '{}',
      });
    const made = await ask(server.token);
    expect(made.status).toBe(200);
    const { address } = (await made.json()) as { address: string };
    expect(address).toMatch(new RegExp(`^${origin()}/\\?signin=[A-Za-z0-9_-]{43}$`));
    expect(sessionInPage(await (await fetch(address)).text())).not.toBeNull();
    const bySession = await ask(await newSession(server));
    expect(bySession.status).toBe(403);
    expect((await bySession.json()).message).toMatch(/Only the console token makes sign-in addresses/);
  });

  it('a refused sign-in has the console tell its terminal a new address, which works', async () => {
    const { server, told } = await tellingConsole();
    try {
      const address = server.signInAddress();
      expect((await fetch(address)).status).toBe(200);
      expect(told).toEqual([]);
      expect((await fetch(address)).status).toBe(403);
      expect(told).toHaveLength(1);
      expect(told[0]).not.toBe(address);
      expect(sessionInPage(await (await fetch(told[0] as string)).text())).not.toBeNull();
    } finally {
      await server.close();
    }
  });

  it("a local process's refused sign-ins print one new address, not one each, and never push the operator's out", async () => {
    const { server, told } = await tellingConsole();
    try {
      const address = server.signInAddress();
      // A process of this machine sends what headers it likes: none says another page sent these.
      // Well past how many unused codes the console keeps.
      const said: string[] = [];
      for (let i = 0; i < 100; i++) {
        const refused = await fetch(`${server.url}?signin=guess${i}`);
        expect(refused.status).toBe(403);
        said.push(await refused.text());
      }
      // The operator's address still signs in.
      expect(sessionInPage(await (await fetch(address)).text())).not.toBeNull();
      expect(told).toHaveLength(1);
      // The later answers say which address works.
      for (const words of said.slice(1))
        expect(words).toMatch(
          /newest sign-in address the terminal running this console .*printed still works/,
        );
      // The printed one works too; used, the next refusal prints another.
      expect(sessionInPage(await (await fetch(told[0] as string)).text())).not.toBeNull();
      expect((await fetch(`${server.url}?signin=again`)).status).toBe(403);
      expect(told).toHaveLength(2);
      expect(told[1]).not.toBe(told[0]);
    } finally {
      await server.close();
    }
  });

  it("a browser's prefetch or prerender of a sign-in address spends nothing and prints nothing", async () => {
    const { server, told } = await tellingConsole();
    try {
      const address = server.signInAddress();
      // As browsers mark them: Chromium's prerender of an address being typed (Sec-Purpose
      // "prefetch;prerender", a navigation no page started), its prefetches, Chromium's <link
      // rel=prefetch> (Purpose), Firefox before 115 (X-moz), Safari (X-Purpose).
      const speculative: Record<string, string>[] = [
        {
          'sec-purpose': 'prefetch;prerender',
          'sec-fetch-site': 'none',
          'sec-fetch-mode': 'navigate',
          'sec-fetch-dest': 'document',
        },
        { 'sec-purpose': 'prefetch', 'sec-fetch-site': 'none' },
        { 'sec-purpose': 'prefetch;anonymous-client-ip' },
        { purpose: 'prefetch' },
        { 'x-moz': 'prefetch' },
        { 'x-purpose': 'preview' },
      ];
      for (const headers of speculative) {
        for (const presented of [address, `${server.url}?signin=not-a-code`]) {
          const answer = await fetch(presented, { headers });
          expect(answer.status, JSON.stringify(headers)).toBe(503);
          expect(answer.headers.get('cache-control')).toBe('no-store');
          const said = await answer.text();
          expect(sessionInPage(said)).toBeNull();
          expect(said).toMatch(/prefetch.*spent nothing/);
        }
      }
      expect(told).toEqual([]);
      // Opened for real, it signs in.
      expect(sessionInPage(await (await fetch(address)).text())).not.toBeNull();
    } finally {
      await server.close();
    }
  });

  it("another web page cannot flood the terminal with refused sign-ins, nor push the operator's address out", async () => {
    const { server, told } = await tellingConsole();
    // Another local web server the operator's browser visits (same site: another port of the host).
    const other = await listen(
      createServer((_req, res) => res.end('<!doctype html><title>other</title>')),
      { port: 0, host: '127.0.0.1' },
    );
    const page = await started().openPage();
    try {
      const address = server.signInAddress();
      await page.goto(other.origin);
      // Well past how many unused codes the console keeps.
      const sent = await page.evaluate(async (console) => {
        for (let i = 0; i < 80; i++) await fetch(`${console}/?signin=guess${i}`, { mode: 'no-cors' });
        return 80;
      }, new URL(server.url).origin);
      expect(sent).toBe(80);
      expect(told).toEqual([]);
      expect(sessionInPage(await (await fetch(address)).text())).not.toBeNull();
    } finally {
      await page.close();
      await other.close();
      await server.close();
    }
  });
});

describe('sign-in codes', () => {
  it('each works once, within SIGN_IN_TTL_MS', () => {
    let now = 1_000_000;
    const codes = createSignIns(() => now);
    const once = codes.issue();
    expect(codes.redeem(once)).toBe(true);
    expect(codes.redeem(once)).toBe(false);
    const stale = codes.issue();
    const fresh = codes.issue();
    now += SIGN_IN_TTL_MS - 1;
    expect(codes.redeem(fresh)).toBe(true);
    now += 1;
    expect(codes.redeem(stale)).toBe(false);
    expect(codes.redeem('')).toBe(false);
  });

  it('a refused sign-in makes one only while none a refusal made is live', () => {
    let now = 1_000_000;
    const codes = createSignIns(() => now);
    const first = codes.issueOnRefusal();
    expect(first).not.toBeNull();
    expect(codes.issueOnRefusal()).toBeNull();
    // Stale: the next refusal makes another; used: so does the one after.
    now += SIGN_IN_TTL_MS;
    const second = codes.issueOnRefusal();
    expect([second === null, second === first]).toEqual([false, false]);
    expect(codes.issueOnRefusal()).toBeNull();
    expect(codes.redeem(second as string)).toBe(true);
    expect(codes.issueOnRefusal()).not.toBeNull();
  });
});
