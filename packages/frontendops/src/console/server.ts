/**
 * startConsole: the deploy console's HTTP server (node:http). It serves the built UI and a JSON API
 * over the deploy engine — the live release, the history, each deployment with its audit entry, the
 * audit verification, the plan for the latest artifact — plus confirmed deploy / rollback, a chat
 * with the agent, and progress as server-sent events. Every API call needs the start-up token, or a
 * browser session started with it, as a bearer header (auth.ts); it listens on 127.0.0.1 unless a
 * host is given explicitly.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { badInput } from '../errors.ts';
import { listen } from '../http-listen.ts';
import type { GitHost } from '../ports.ts';
import type { Site } from '../site.ts';
import { openSite as openConfiguredStack } from '../stacks/open.ts';
import {
  assertConsoleToken,
  bearerOf,
  checkAccess,
  createConsoleToken,
  createSessions,
  createSignIns,
  fromAnotherPage,
  isAllowedHost,
  isSameOrigin,
  isSpeculative,
  refuseMutation,
  SIGN_IN_TTL_MS,
} from './auth.ts';
import type { ConsoleAgent } from './chat.ts';
import { createConfigReader } from './config-reader.ts';
import { createEventHub } from './events.ts';
import { readJsonBody, sendError, sendJson, toApiError } from './http.ts';
import { type RouteContext, routeGet, routePost } from './routes.ts';
import { createConsoleService } from './service.ts';
import { SECURITY_HEADERS, serveIndex, serveStatic } from './static.ts';

export type { ConsoleAgent, ConsoleAgentOptions } from './chat.ts';

/** The UI the package build (scripts/build.js) puts beside the compiled server: <package>/dist/console-ui. */
export const CONSOLE_UI_DIR = fileURLToPath(new URL('../../dist/console-ui/', import.meta.url));

export interface ConsoleOptions {
  config: Config;
  /**
   * Reads the configuration again (config.ts loadConfig), at each request: protection and approvers
   * edited in the file apply at once (console/config-reader.ts). Not with `openSite`.
   */
  loadConfig?: () => Promise<Config>;
  /** The environments shown, by --stack reference; the first is selected at start. */
  stacks: string[];
  /** Opens one stack; default: openSite(ref, config, cwd) from stacks/open.ts. */
  openSite?: (ref: string) => Promise<Site>;
  /** Where stack references and the config's relative paths are resolved; default the working directory. */
  cwd?: string;
  /** The environment the console was given (default process.env): what the default openSite reads (its env). */
  env?: NodeJS.ProcessEnv;
  /** Interface to listen on; default 127.0.0.1. Anything else exposes the console to the network. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: a random token. */
  token?: string;
  /** Runs a chat request; without it the chat box says the agent is not available (and why: chatReason). */
  agent?: ConsoleAgent;
  /** Why there is no agent, in words for the page (e.g. a model that is not configured right). */
  chatReason?: string;
  /** Where deploy tags are read from (to show a release's tag). */
  git?: GitHost;
  /** Who the console acts as in deployment records and the audit log; default "<user> (console)". */
  actor?: string;
  /** The built UI; default the package's prebuilt dist/console-ui. */
  uiDir?: string;
  /** How long a change waits for the CDN to serve it (verifyServed); default verifyServed's. */
  verifyTimeoutMs?: number;
  /** The clock sessions and sign-in codes expire by; default Date.now. */
  now?: () => number;
  /**
   * Told a new sign-in address when one is refused (used, stale or wrong) and the last it was told
   * is used or stale, for the terminal the operator started the console from: the next browser or
   * tab signs in with it.
   */
  onRefusedSignIn?: (address: string) => void;
}

export interface ConsoleServer {
  /** e.g. http://127.0.0.1:43117/ */
  url: string;
  /** The bearer token of scripts and the CLI; never part of an address. */
  token: string;
  /** A new sign-in address (`${url}?signin=<code>`): it signs one browser tab in, once, within SIGN_IN_TTL_MS. */
  signInAddress(): string;
  /** Stops listening, ends every connection, and returns once the requests being answered are done. */
  close(): Promise<void>;
}

export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  if (options.stacks.length === 0) {
    throw badInput('The console needs at least one stack to show. Pass --stack <name|outputs file|local>.');
  }
  const token = options.token ?? createConsoleToken();
  assertConsoleToken(token);
  const host = options.host ?? '127.0.0.1';
  const uiDir = resolve(options.uiDir ?? CONSOLE_UI_DIR);
  const given = options.openSite;
  const service = createConsoleService({
    config: options.config,
    ...(given || !options.loadConfig
      ? {}
      : { readConfig: createConfigReader(options.config, options.loadConfig) }),
    stacks: options.stacks,
    openSite: given
      ? (ref) => given(ref)
      : (ref, config) =>
          openConfiguredStack(ref, config, options.cwd ?? process.cwd(), {
            ...(options.env ? { env: options.env } : {}),
          }),
    ...(options.git ? { git: options.git } : {}),
    ...(options.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: options.verifyTimeoutMs } : {}),
  });
  const hub = createEventHub();
  const actor = options.actor ?? `${currentUser()} (console)`;
  const context: RouteContext = {
    service,
    hub,
    actor,
    agent: options.agent,
    chatReason: options.chatReason ?? null,
    confirmations: new Map(),
    token,
    sessions: createSessions(options.now),
    signIns: createSignIns(options.now),
    signInAddress: () => '',
    addressOf: () => '',
    onRefusedSignIn: options.onRefusedSignIn,
    uiDir,
    port: 0,
    host,
  };

  /** The requests being answered: close() waits for them (see there). */
  const answering = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    // Every answer (JSON, the progress stream, the page, a refusal) is taken as the type it says,
    // never sniffed: a JSON answer quoting what was sent is never run as a page or a script.
    res.setHeader('x-content-type-options', 'nosniff');
    const answered = handle(req, res, context)
      .catch((error: unknown) => {
        const { status, body } = toApiError(error);
        if (!res.headersSent) sendError(res, status, body);
        else res.end();
      })
      .finally(() => answering.delete(answered));
    answering.add(answered);
  });
  const listening = await listen(server, { port: options.port ?? 0, host });
  context.port = listening.port;
  context.addressOf = (code) => `${listening.origin}/?signin=${code}`;
  context.signInAddress = () => context.addressOf(context.signIns.issue());

  return {
    url: `${listening.origin}/`,
    token,
    signInAddress: context.signInAddress,
    async close() {
      hub.close();
      await listening.close();
      // A request whose connection just closed (its page went away) is still reading or changing its
      // stack: it finishes before the stacks close, and before the caller closes what it handed in,
      // so none fails on a closed client, nor touches a stack once this returns.
      await Promise.allSettled(answering);
      // Environments handed in by the caller stay the caller's to close.
      if (!options.openSite) await service.close();
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, context: RouteContext): Promise<void> {
  if (!isAllowedHost(req, context.host, context.port) || !isSameOrigin(req)) {
    return sendError(res, 403, {
      error: 'FORBIDDEN_ORIGIN',
      message:
        `This console only answers requests addressed to it from its own page. Open the address the console printed (${consoleOrigin(context)}/?signin=…) ` +
        'in your browser, as it is written: another name for this machine, or a request from another page, is refused.',
    });
  }
  const url = new URL(req.url ?? '/', 'http://console.invalid');
  const access = checkAccess(req, context.token, context.sessions);

  if (!url.pathname.startsWith('/api/')) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, methodError('GET'));
    // `token=`: an address of an older console, which signed in with the token itself. Only a GET
    // spends a code: a HEAD (a link checker, say) is answered the page, with no session.
    const presented = url.searchParams.get('signin') ?? url.searchParams.get('token');
    if (presented !== null && req.method === 'GET') return signIn(req, res, presented, context);
    return serveStatic(res, context.uiDir, url.pathname);
  }
  if (!access.ok) {
    res.setHeader('www-authenticate', 'Bearer realm="frontendops-console"');
    return sendError(res, 401, {
      error: 'UNAUTHORIZED',
      message:
        'This console needs a sign-in. Open a sign-in address of this console (it ends in ?signin=…): ' +
        '`frontendops console` printed one, and prints a new one when one is refused. Scripts send "Authorization: Bearer <token>".',
    });
  }
  if (req.method === 'POST') {
    const refusal = refuseMutation(req, access);
    if (refusal) return sendError(res, 403, { error: 'CSRF', message: `Refused: ${refusal}.` });
    if (url.pathname === '/api/sign-in-address') return newSignInAddress(res, access.via, context);
    if (url.pathname === '/api/sign-out') return signOut(req, res, access.via, context);
    return routePost(req, res, url, context);
  }
  if (req.method !== 'GET') return sendError(res, 405, methodError('GET or POST'));
  return routeGet(req, res, url, context);
}

/**
 * `/?signin=<code>`: a live code is spent, and the page is answered with a new session's id in it
 * (serveIndex; `no-store`), never in an address, so whatever the browser keeps of this address is a
 * spent code (see auth.ts). Any other code, or an older console's `?token=`, signs nothing in: the
 * answer says what to do, and the terminal the console runs in is told a new address, one at a time
 * (auth.ts issueOnRefusal).
 */
async function signIn(
  req: IncomingMessage,
  res: ServerResponse,
  presented: string,
  context: RouteContext,
): Promise<void> {
  // Another page's request neither spends a code nor has a new one made: such a page could send
  // guesses without end, each printing an address and pushing out the operator's unused one.
  if (fromAnotherPage(req))
    return refuseSignIn(
      res,
      'A sign-in address signs in only when opened as it is (pasted in the address bar, or from the terminal), never from another page; this request spent nothing.\n',
    );
  // A browser's prefetch or prerender (an address being typed, say) would spend the code on a page
  // nobody may open: not a success, so the browser drops it and asks again when it is opened.
  if (isSpeculative(req))
    return refuseSignIn(
      res,
      'A sign-in address is not prefetched nor prerendered: this request spent nothing. Open the address to sign in.\n',
      503,
    );
  if (context.signIns.redeem(presented))
    return serveIndex(res, context.uiDir, { session: context.sessions.start() });
  const fresh = context.signIns.issueOnRefusal();
  if (fresh !== null) context.onRefusedSignIn?.(context.addressOf(fresh));
  refuseSignIn(
    res,
    `This sign-in address signs nothing in: it was used already (each works once), is older than ${SIGN_IN_TTL_MS / 60_000} minutes, every session was ended since it was printed, or it is not this console's.\n` +
      (fresh !== null
        ? 'The terminal running this console (`frontendops console`, or `npm start`) has just printed a new one; '
        : 'The newest sign-in address the terminal running this console (`frontendops console`, or `npm start`) printed still works (a refused one prints a new one only once that one is used or stale); ') +
      'for the console `npm start` serves, `npx frontendops console` in its directory prints one too. Open that one.\n',
  );
}

function refuseSignIn(res: ServerResponse, message: string, status = 403): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(message);
}

/** POST /api/sign-in-address, for the token's holder only (a session cannot renew itself): a new sign-in address. */
function newSignInAddress(res: ServerResponse, via: 'token' | 'session', context: RouteContext): void {
  if (via === 'token') sendJson(res, 200, { address: context.signInAddress() });
  else
    sendError(res, 403, {
      error: 'DENIED',
      message: 'Only the console token makes sign-in addresses: run `frontendops console` for one.',
    });
}

/**
 * POST /api/sign-out, from a page: its session ends now, not at its expiry, so its id (seen in
 * devtools over a shared screen, say) is refused from then on, and the progress stream it opened
 * ends at once (events.ts). The token is no session: it lasts as long as the console does; its
 * holder ends every session with `{"all": true}` (a session cannot: one seen by someone else would
 * sign everyone out). Either way the ended sessions' streams end with them.
 */
async function signOut(
  req: IncomingMessage,
  res: ServerResponse,
  via: 'token' | 'session',
  context: RouteContext,
): Promise<void> {
  const { all } = await readJsonBody(
    req,
    z.object({ all: z.boolean().optional() }).strict(),
    '{} to end this session, or {"all": true} with the console token to end every session',
  );
  if (all && via === 'session')
    return sendError(res, 403, {
      error: 'DENIED',
      message:
        'Only the console token ends every session; a session signs out itself only (send {}). To end every session, send {"all": true} with the token, or stop the console.',
    });
  if (all) {
    // A sign-in address printed before and not yet opened (seen where a session id was) starts none.
    context.signIns.voidAll();
    const sessions = context.sessions.endAll();
    context.hub.sweep();
    return sendJson(res, 200, { signedOut: true, sessions });
  }
  if (via === 'token')
    throw badInput(
      'The console token is not a session and cannot be signed out: it works as long as the console runs. To end it, stop the console (Ctrl-C in its terminal); to end every browser session, send {"all": true}.',
    );
  context.sessions.end(bearerOf(req) ?? '');
  context.hub.sweep();
  sendJson(res, 200, { signedOut: true });
}

/** The console's own address, as it printed it (http-listen.ts): an IPv6 host in brackets. */
const consoleOrigin = (context: RouteContext) =>
  `http://${context.host.includes(':') ? `[${context.host}]` : context.host}:${context.port}`;

const methodError = (allowed: string) => ({
  error: 'METHOD_NOT_ALLOWED',
  message: `Use ${allowed} here.`,
});

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'someone';
  }
}
