/**
 * Access to the console: one random token, presented as `Authorization: Bearer <token>`, or traded
 * once at `/?token=<token>` for a session: a separate random id in an HttpOnly, SameSite=Strict
 * cookie. The cookie never carries the token (cookies are shared by every port of a host, so another
 * local server could read it; a session id dies with this console and cannot be turned into the
 * token), and its name carries the port, so two consoles do not overwrite each other's. Mutations
 * also need proof that the request came from the console's own page (CSRF): the bearer header, or
 * the cookie plus a custom header a cross-site form cannot send, and an Origin that names this server.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { badInput } from '../errors.ts';

export const CONSOLE_COOKIE = 'frontendops_console';
/** How long a browser session lasts without signing in again with the token. */
export const SESSION_TTL_MS = 12 * 60 * 60_000;
/** Sent by the console's own scripts on every POST; a cross-site form or <img> cannot set it. */
export const CONSOLE_HEADER = 'x-frontendops-console';
const MIN_TOKEN_LENGTH = 16;

export type Access = { ok: true; via: 'bearer' | 'cookie' } | { ok: false };

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

export const cookieName = (port: number) => `${CONSOLE_COOKIE}_${port}`;

export function checkAccess(req: IncomingMessage, token: string, sessions: Sessions, port: number): Access {
  const bearer = /^Bearer (\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
  if (bearer !== undefined) return sameSecret(bearer, token) ? { ok: true, via: 'bearer' } : { ok: false };
  const cookie = readCookie(req, cookieName(port));
  if (cookie !== undefined && sessions.valid(cookie)) return { ok: true, via: 'cookie' };
  return { ok: false };
}

/** Why a mutation is refused, or null when it may proceed. */
export function refuseMutation(req: IncomingMessage, access: Access): string | null {
  if (!access.ok) return 'missing or wrong token';
  if (!/^application\/json\b/i.test(header(req, 'content-type') ?? ''))
    return 'a mutation must be a JSON POST (Content-Type: application/json)';
  if (!isSameOrigin(req)) return 'the request came from another origin';
  if (access.via === 'cookie') {
    if (header(req, CONSOLE_HEADER) !== '1')
      return `a cookie-authenticated mutation must carry the ${CONSOLE_HEADER} header`;
    const site = header(req, 'sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return 'the request came from another site';
  }
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
 * On loopback only loopback Host names are served, so a page on a rebound DNS name cannot reach
 * the console through the user's browser. Elsewhere (an explicit --host) the token is the guard.
 */
export function isAllowedHost(req: IncomingMessage, bindHost: string, port: number): boolean {
  if (!isLoopback(bindHost)) return true;
  const host = header(req, 'host');
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

export function sessionCookie(sessionId: string, port: number): string {
  return `${cookieName(port)}=${sessionId}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Constant-time: both sides are hashed to one length first. */
export function sameSecret(presented: string, token: string): boolean {
  return presented.length > 0 && timingSafeEqual(digest(presented), digest(token));
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (header(req, 'cookie') ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
