/**
 * Signing in as a browser does, from outside one: a sign-in address of the console, opened once,
 * answers the page with a new session's id in it (static.ts serveIndex), spending the address.
 */
import type { BrowserContextOptions, Page } from 'playwright-core';
import type { ConsoleServer } from '../../src/console/server.ts';
import { SESSION_META } from '../../src/console/types.ts';
import type { FileBrowser } from './browser.ts';

/** The session id the page a sign-in address answers carries, or null when it carries none. */
export function sessionInPage(html: string): string | null {
  return new RegExp(`<meta name="${SESSION_META}" content="([A-Za-z0-9_-]+)">`).exec(html)?.[1] ?? null;
}

/** A new browser session of the console, started with a new sign-in address. */
export async function newSession(server: Pick<ConsoleServer, 'signInAddress'>): Promise<string> {
  const res = await fetch(server.signInAddress());
  const id = sessionInPage(await res.text());
  if (res.status !== 200 || id === null) throw new Error(`no session: the sign-in answered ${res.status}`);
  return id;
}

/**
 * A page signed in to the console as a person's browser is, with a new sign-in address: in a context
 * of its own at the console's origin (`options` added: a viewport, say). Its context is the page's
 * (page.context()), closed with the file's browser or before.
 */
export async function signedInPage(
  browser: FileBrowser,
  server: Pick<ConsoleServer, 'url' | 'signInAddress'>,
  options: BrowserContextOptions = {},
): Promise<Page> {
  const context = await browser.newContext({ baseURL: new URL(server.url).origin, ...options });
  const page = await context.newPage();
  await page.goto(server.signInAddress());
  return page;
}
