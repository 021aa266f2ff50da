/**
 * Signing in as a browser does, from outside one: a sign-in address of the console, opened once,
 * answers the page with a new session's id in it (static.ts serveIndex), spending the address.
 */
import type { ConsoleServer } from '../../src/console/server.ts';
import { SESSION_META } from '../../src/console/types.ts';

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
