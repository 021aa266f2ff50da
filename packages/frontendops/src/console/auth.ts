/**
 * Access to the console: one random token, presented as `Authorization: Bearer <token>` (scripts, the
 * CLI), and browser sessions: separate random ids, kept in memory and expiring (or ended sooner by
 * their page's sign-out), that the page presents as `Authorization: Bearer <session id>` on every
 * API call.
 *
 * The token's holder ends every session at once with POST /api/sign-out `{"all": true}` (a session
 * ends only its own: one seen by someone else must not sign the operator out).
 *
 * A browser signs in with a sign-in address (`/?signin=<code>`), never with the token: an address a
 * browser opens stays in its history, so what it carries must be worthless once used. A code works
 * once, within SIGN_IN_TTL_MS of being made (the console prints one at start, and a new one when one is
 * refused while the last it printed so is spent or stale; its token's holder asks for more at POST
 * /api/sign-in-address). Its GET spends it, unless the browser says it only prefetches it, and
 * answers the page with the new session id in the page itself (a meta element, `no-store`), never in
 * an address: a page that then fails to load leaves only a spent code in the address bar. The page
 * moves the id into its sessionStorage (its own origin, port included) and the code out of the address.
 *
 * There is no cookie, nor any other credential a browser attaches by itself: a browser sends a host's
 * cookies to every port of it (and another port is the same site for SameSite), so any other local web
 * server the signed-in browser visited received a session cookie, and could replay it from outside a
 * browser, where any header can be set. A request from another page carries no credential at all, so
 * it cannot be a cross-site request forgery; mutations still must be JSON POSTs, from no Origin or this
 * server's own, and not marked cross-site by Fetch Metadata. (No custom "from the console" header is
 * asked for: it guarded the cookie, and with an Authorization header only the console's own page can
 * send, it would prove nothing more.)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { badInput } from '../errors.ts';
import { isLoopbackBind, loopbackHostNames } from '../loopback.ts';
import { SESSION_TTL_MS } from './types.ts';

/** How long a browser session lasts: in types.ts, where the page reads it too. */
export { SESSION_TTL_MS };

/** How long a sign-in address works, unused (it works once). */
export const SIGN_IN_TTL_MS = 15 * 60_000;
/**
 * Unused sign-in codes kept at most (the oldest goes first). Only the token's holder makes them
 * without end: a refused sign-in makes one only while none it made is live (issueOnRefusal).
 */
const MAX_SIGN_IN_CODES = 64;
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
  const sessions = secrets(now);
  return {
    start: () => sessions.add(SESSION_TTL_MS, Number.POSITIVE_INFINITY),
    valid: (id: string) => sessions.has(id),
    /** Ends a live session (its page signed out): true when it was one. */
    end: (id: string) => sessions.take(id),
    /** Ends every session (the token's holder asked, which voids every unused sign-in code too): how many were live. */
    endAll: () => sessions.clear(),
  };
}
/** The sign-in codes of one console: random, each working once, within SIGN_IN_TTL_MS. */
export function createSignIns(now: () => number = Date.now) {
  const codes = secrets(now);
  const issue = () => codes.add(SIGN_IN_TTL_MS, MAX_SIGN_IN_CODES);
  /** The code the last refused sign-in made. */
  let refusals: string | undefined;
  return {
    issue,
    /**
     * A new code for a refused sign-in, or null while the one the last refusal made is live (unused,
     * within SIGN_IN_TTL_MS): a local process can send refused sign-ins without end, and a code each
     * would fill the terminal and push the operator's unused codes out.
     */
    issueOnRefusal(): string | null {
      if (refusals !== undefined && codes.has(refusals)) return null;
      refusals = issue();
      return refusals;
    },
    /** True for a live code, which is spent by it. */
    redeem: (code: string) => codes.take(code),
    /** Voids every live code (every session was ended: what an unused one would start is ended too). */
    voidAll: () => {
      codes.clear();
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;
export type SignIns = ReturnType<typeof createSignIns>;

/** `Authorization: Bearer <token | session id>`, nothing else: a cookie, if a browser still has one, counts for nothing. */
export function checkAccess(req: IncomingMessage, token: string, sessions: Sessions): Access {
  const bearer = bearerOf(req);
  if (bearer === undefined) return { ok: false };
  if (sameSecret(bearer, token)) return { ok: true, via: 'token' };
  if (sessions.valid(bearer)) return { ok: true, via: 'session' };
  return { ok: false };
}

/** What `Authorization: Bearer <…>` presents, if the request has one. */
export function bearerOf(req: IncomingMessage): string | undefined {
  return /^Bearer (\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
}

/** Why a mutation is refused, or null when it may proceed. */
export function refuseMutation(req: IncomingMessage, access: Access): string | null {
  if (!access.ok) return 'missing or wrong token';
  if (!/^application\/json\b/i.test(header(req, 'content-type') ?? ''))
    return 'a mutation must be a JSON POST (Content-Type: application/json)';
  if (!isSameOrigin(req)) return 'the request came from another origin';
  // Belt and braces (another page cannot hold the bearer): a browser's own word that it is not the console's page.
  if (fromAnotherPage(req)) return 'the request came from another site';
  return null;
}

/**
 * A browser's own word (Fetch Metadata) that another page (another site, or another port of this
 * host) sent the request: not this console's page, nor an address opened as it is (typed, pasted,
 * from the terminal). Such a page can send any number of `?signin=` guesses without seeing answers.
 */
export function fromAnotherPage(req: IncomingMessage): boolean {
  const site = header(req, 'sec-fetch-site');
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}

/**
 * A browser's own word that it fetches the address ahead of a navigation that may never come: a
 * prefetch or prerender (Sec-Purpose: `prefetch`, `prefetch;prerender`, …, as Chromium marks what it
 * loads while an address is typed), Chromium's `<link rel=prefetch>` (Purpose: prefetch), Firefox
 * before 115 (X-moz: prefetch), Safari (X-Purpose: preview). Such a request must spend no sign-in code.
 */
export function isSpeculative(req: IncomingMessage): boolean {
  return ['sec-purpose', 'purpose', 'x-moz', 'x-purpose'].some((name) =>
    /^\s*(prefetch|preview)\b/i.test(header(req, name) ?? ''),
  );
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

/** Random ids, each until its expiry, compared in constant time; expired ones are dropped as met. */
function secrets(now: () => number) {
  const known = new Map<string, number>();
  const find = (presented: string): string | undefined => {
    let found: string | undefined;
    for (const [id, expires] of known) {
      if (expires <= now()) known.delete(id);
      else if (found === undefined && sameSecret(presented, id)) found = id;
    }
    return found;
  };
  return {
    add(ttlMs: number, max: number): string {
      find('');
      while (known.size >= max) known.delete(known.keys().next().value as string);
      const id = randomBytes(32).toString('base64url');
      known.set(id, now() + ttlMs);
      return id;
    },
    has: (presented: string) => find(presented) !== undefined,
    take(presented: string): boolean {
      const id = find(presented);
      if (id !== undefined) known.delete(id);
      return id !== undefined;
    },
    /** Forgets every id: how many were live. */
    clear(): number {
      find('');
      const live = known.size;
      known.clear();
      return live;
    },
  };
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
