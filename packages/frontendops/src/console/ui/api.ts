/**
 * The browser side of the console API. Every call sends `Authorization: Bearer <session id>`; there is
 * no cookie, because a browser sends a host's cookies to every port of it, so any other local web
 * server this browser visited would receive one and could replay it. The session id arrives once, in
 * the page a sign-in address (`/?signin=<code>`, spent by it) answers, never in an address;
 * adoptSession moves it into sessionStorage (this origin's only, port included: another port's pages
 * cannot read it; it survives a reload) and the spent code out of the address bar.
 * Without a session, calls go out without the header and the server's 401 says what to do.
 */
import { escapeControlCharacters } from '../../engine/text.ts';
import { type ApiError, SESSION_META } from '../types.ts';

/** sessionStorage's key; the storage itself is this origin's (scheme, host and port) and this tab's. */
const STORAGE_KEY = 'frontendops.console.session';
const SESSION_ID = /^[A-Za-z0-9_-]{16,256}$/;

/** Kept here too, for a browser that refuses sessionStorage (the session then lasts until a reload). */
let session: string | null = null;

/**
 * Run once, before anything else on the page: takes the session a sign-in started out of the page
 * (SESSION_META) into sessionStorage, and the spent sign-in code out of the address (and so out of
 * the history entry); a newer sign-in replaces an older session.
 */
export function adoptSession(): void {
  const url = new URL(window.location.href);
  if (url.searchParams.has('signin') || url.searchParams.has('token')) {
    url.searchParams.delete('signin');
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
  }
  const meta = document.querySelector<HTMLMetaElement>(`meta[name="${SESSION_META}"]`);
  const fromPage = meta?.content ?? null;
  meta?.remove();
  if (fromPage !== null && SESSION_ID.test(fromPage)) {
    session = fromPage;
    try {
      window.sessionStorage.setItem(STORAGE_KEY, fromPage);
    } catch {
      // Storage refused: the session lives in this page only.
    }
    return;
  }
  try {
    const stored = window.sessionStorage.getItem(STORAGE_KEY);
    session = stored !== null && SESSION_ID.test(stored) ? stored : null;
  } catch {
    session = null;
  }
}

/**
 * Ends this tab's session at the server (POST /api/sign-out), then forgets it here: its id is refused
 * from then on, wherever it was seen. Forgotten here even when the server cannot be told (it rejects
 * then). A 401 is no failure: the console refuses the id already (it expired, a duplicate of this tab
 * signed it out, or the console restarted), which is all signing out asks.
 */
export async function signOut(): Promise<void> {
  try {
    await postJson('/api/sign-out', {});
  } catch (error) {
    if (!(error instanceof ApiFailure && error.status === 401)) throw error;
  } finally {
    session = null;
    try {
      window.sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // Storage refused: there was nothing kept in it.
    }
  }
}

/** The headers that authenticate this page's calls: the session as a bearer, or none without one. */
export function authHeaders(): Record<string, string> {
  return session ? { authorization: `Bearer ${session}` } : {};
}

export class ApiFailure extends Error {
  readonly status: number;
  readonly body: ApiError;
  constructor(status: number, body: ApiError) {
    super(body.message);
    this.status = status;
    this.body = body;
  }
}

/**
 * What the server sent, as the page shows it: every string with its control and format characters
 * written as \uXXXX, as the CLI shows them (engine/text.ts). Commit subjects and authors come from
 * git, answers from a model, records from any client: a U+202E RIGHT-TO-LEFT OVERRIDE in a commit
 * subject would reorder what a confirm dialog says, U+200B hide a difference, ESC ride along unseen.
 * Newlines and tabs stay text; object keys are kept (the page shows none). Every answer and event
 * the page reads goes through here, so no component has to remember to.
 */
export function visible<T>(value: T): T {
  if (typeof value === 'string') return escapeControlCharacters(value) as T;
  if (Array.isArray(value)) return value.map(visible) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visible(item)])) as T;
  }
  return value;
}

// credentials: 'omit': a cookie left by an older console on this host counts for nothing anyway.
/**
 * GET, the answer's strings made visible (see `visible`); `asSent` keeps them as the server sent
 * them, for names the page sends back (the session's stack references).
 */
export async function getJson<T>(path: string, options: { asSent?: boolean } = {}): Promise<T> {
  const answer = await parse<T>(
    await fetch(path, { credentials: 'omit', headers: { accept: 'application/json', ...authHeaders() } }),
  );
  return options.asSent ? answer : visible(answer);
}

/** POST, the answer's strings made visible (see `visible`). */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return visible(
    await parse<T>(
      await fetch(path, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'content-type': 'application/json', ...authHeaders() },
        body: JSON.stringify(body),
      }),
    ),
  );
}

export const stackPath = (stack: string, resource: string) =>
  `/api/stacks/${encodeURIComponent(stack)}/${resource}`;

export const newRunId = () => crypto.randomUUID();

async function parse<T>(response: Response): Promise<T> {
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { error: 'BAD_RESPONSE', message: text.slice(0, 200) };
  }
  if (!response.ok) {
    // A refusal's words can quote what was sent (or come from anyone answering on this port).
    const body = visible(json ?? {}) as Partial<ApiError>;
    throw new ApiFailure(response.status, {
      ...body,
      error: body.error ?? String(response.status),
      message: body.message ?? escapeControlCharacters(response.statusText),
    });
  }
  return json as T;
}
