/**
 * Access to the console: one random token, presented as `Authorization: Bearer <token>`, or traded
 * once at `/?token=<token>` for a session: a separate random id, kept in memory and expiring, that the
 * page then presents as `Authorization: Bearer <session id>` on every API call.
 *
 * There is no cookie, nor any other credential a browser attaches by itself: a browser sends a host's
 * cookies to every port of it (and another port is the same site for SameSite), so any other local web
 * server the signed-in browser visited received a session cookie, and could replay it from outside a
 * browser, where any header can be set. The sign-in instead hands the id to the page in the fragment
 * of its redirect (`/#session=<id>`), which a browser never sends to a server; the page moves it into
 * its sessionStorage (its own origin, port included) and out of the address bar. A request from
 * another page carries no credential at all, so it cannot be a cross-site request forgery; mutations
 * still must be JSON POSTs, from no Origin or this server's own, and not marked cross-site by Fetch
 * Metadata. (No custom "from the console" header is asked for: it guarded the cookie, and with an
 * Authorization header only the console's own page can send, it would prove nothing more.)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { badInput } from '../errors.ts';
import { isLoopbackBind, loopbackHostNames } from '../loopback.ts';

/** How long a browser session lasts without signing in again with the token. */
export const SESSION_TTL_MS = 12 * 60 * 60_000;
const MIN_TOKEN_LENGTH = 16;

/** Who is calling: the holder of the token (a script, the CLI) or a browser session it started. */
export type Access = { ok: true; via: 'token' | 'session' } | { ok: false };

export function createConsoleToken(): string {
  return randomBytes(24).toString('base64url');
}

export function assertConsoleToken(token: string): void {
  if (token.length < MIN_TOKEN_LENGTH || !/^[A-Za-z0-9._~-]+$/.test(token)) {
    throw badInput(
      `The console token must be at least ${MIN_TOKEN_LENGTH} characters of letters, digits, ".", "_", "~" or "-". ` +
        'Leave it out to have a random one generated.',
    );
  }
}

/** The browser sessions of one console: random ids, kept in memory, each expiring. */
export function createSessions(now: () => number = Date.now) {
  const sessions = new Map<string, number>();
  return {
    start(): string {
      const id = randomBytes(32).toString('base64url');
      sessions.set(id, now() + SESSION_TTL_MS);
      return id;
    },
    valid(id: string): boolean {
      for (const [known, expires] of sessions) {
        if (expires <= now()) sessions.delete(known);
        else if (sameSecret(id, known)) return true;
      }
      return false;
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;

/** `Authorization: Bearer <token | session id>`, nothing else: a cookie, if a browser still has one, counts for nothing. */
export function checkAccess(req: IncomingMessage, token: string, sessions: Sessions): Access {
  const bearer = /^Bearer (\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
  if (bearer === undefined) return { ok: false };
  if (sameSecret(bearer, token)) return { ok: true, via: 'token' };
  if (sessions.valid(bearer)) return { ok: true, via: 'session' };
  return { ok: false };
}

/** Why a mutation is refused, or null when it may proceed. */
export function refuseMutation(req: IncomingMessage, access: Access): string | null {
  if (!access.ok) return 'missing or wrong token';
  if (!/^application\/json\b/i.test(header(req, 'content-type') ?? ''))
    return 'a mutation must be a JSON POST (Content-Type: application/json)';
  if (!isSameOrigin(req)) return 'the request came from another origin';
  // Belt and braces (another page cannot hold the bearer): a browser's own word that it is not the console's page.
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return 'the request came from another site';
  return null;
}

/** A browser's Origin header, when present, must name this very server (scheme + Host). */
export function isSameOrigin(req: IncomingMessage): boolean {
  const origin = header(req, 'origin');
  if (origin === undefined) return true;
  const host = header(req, 'host');
  return host !== undefined && origin === `http://${host}`;
}

/**
 * On loopback only loopback Host names are served (loopbackHostNames), each with the console's port,
 * so a page on a rebound DNS name cannot reach the console through the user's browser.
 * Elsewhere (an explicit --host) the token is the guard.
 */
export function isAllowedHost(req: IncomingMessage, bindHost: string, port: number): boolean {
  if (!isLoopbackBind(bindHost)) return true;
  const host = header(req, 'host');
  return host !== undefined && loopbackHostNames(bindHost).some((name) => host === `${name}:${port}`);
}

/** Constant-time: both sides are hashed to one length first. */
export function sameSecret(presented: string, token: string): boolean {
  return presented.length > 0 && timingSafeEqual(digest(presented), digest(token));
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
