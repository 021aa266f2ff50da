/**
 * startConsole: the deploy console's HTTP server (node:http). It serves the built UI and a JSON API
 * over the deploy engine — the live release, the history, each deployment with its audit entry, the
 * audit verification, the plan for the latest artifact — plus confirmed deploy / rollback, a chat
 * with the agent, and progress as server-sent events. Every API call needs the start-up token; it
 * listens on 127.0.0.1 unless a host is given explicitly.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { type Environment, openStack as openConfiguredStack } from '../environment.ts';
import { badInput, FrontendOpsError } from '../errors.ts';
import type { GitHost } from '../ports.ts';
import {
  assertConsoleToken,
  checkAccess,
  createConsoleToken,
  isAllowedHost,
  isSameOrigin,
  refuseMutation,
  sameSecret,
  sessionCookie,
} from './auth.ts';
import { DEFAULT_CONSOLE_DIST, ensureConsoleUi } from './build-ui.ts';
import { type ConsoleAgent, runChat } from './chat.ts';
import { createEventHub, type EventHub } from './events.ts';
import { decodePathPart, readJsonBody, sendError, sendJson, toApiError } from './http.ts';
import { type ConsoleService, consoleRequest, createConsoleService, PlanChangedError } from './service.ts';
import { SECURITY_HEADERS, serveStatic } from './static.ts';
import type { ActionResult, PlanAction, ProgressEvent, SessionView } from './types.ts';
import { toPlanView } from './views.ts';

export type { ConsoleAgent, ConsoleAgentOptions } from './chat.ts';

export interface ConsoleOptions {
  config: Config;
  /** The environments shown, by --stack reference; the first is selected at start. */
  stacks: string[];
  /** Opens one stack; default: openStack(ref, config) from src/environment.ts. */
  openStack?: (ref: string) => Promise<Environment>;
  /** Interface to listen on; default 127.0.0.1. Anything else exposes the console to the network. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: a random token. */
  token?: string;
  /** Runs a chat request; without it the chat box says the agent is not available. */
  agent?: ConsoleAgent;
  /** Where deploy tags are read from (to show a release's tag). */
  git?: GitHost;
  /** Who the console acts as in deployment records and the audit log; default "<user> (console)". */
  actor?: string;
  /** The built UI; default dist/console at the repository root, built on first start when missing. */
  uiDir?: string;
}

export interface ConsoleServer {
  /** e.g. http://127.0.0.1:43117/ — open `${url}?token=${token}` once to sign the browser in. */
  url: string;
  token: string;
  close(): Promise<void>;
}

const STACK_PATH = /^\/api\/stacks\/([^/]+)\/([a-z-]+)(?:\/([^/]+))?$/;
const RUN_ID = z.string().regex(/^[A-Za-z0-9-]{8,64}$/, 'expected 8–64 letters, digits or "-"');
const DEPLOY_ID = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'expected a deploy id from the plan');
const actionBody = z.strictObject({
  deployId: DEPLOY_ID,
  to: z.string().max(128).optional(),
  runId: RUN_ID.optional(),
});
const chatBody = z.strictObject({
  text: z.string().trim().min(1, 'say what you want').max(2000),
  approve: z.boolean().default(false),
  /** The stack selected in the page; default the console's first. */
  stack: z.string().max(300).optional(),
  runId: RUN_ID.optional(),
});

export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  if (options.stacks.length === 0) {
    throw badInput('The console needs at least one stack to show. Pass --stack <name|outputs file|local>.');
  }
  const token = options.token ?? createConsoleToken();
  assertConsoleToken(token);
  const host = options.host ?? '127.0.0.1';
  const uiDir = await ensureConsoleUi(resolve(options.uiDir ?? DEFAULT_CONSOLE_DIST));
  const service = createConsoleService({
    config: options.config,
    stacks: options.stacks,
    openStack: options.openStack ?? ((ref) => openConfiguredStack(ref, options.config)),
    ...(options.git ? { git: options.git } : {}),
  });
  const hub = createEventHub();
  const actor = options.actor ?? `${currentUser()} (console)`;
  const context: RouteContext = { service, hub, actor, agent: options.agent, token, uiDir, port: 0, host };

  const server = createServer((req, res) => {
    handle(req, res, context).catch((error: unknown) => {
      const { status, body } = toApiError(error);
      if (!res.headersSent) sendError(res, status, body);
      else res.end();
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  context.port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${hostInUrl}:${context.port}/`,
    token,
    async close() {
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      // Environments handed in by the caller stay the caller's to close.
      if (!options.openStack) await service.close();
    },
  };
}

interface RouteContext {
  service: ConsoleService;
  hub: EventHub;
  actor: string;
  agent: ConsoleAgent | undefined;
  token: string;
  uiDir: string;
  port: number;
  host: string;
}

async function handle(req: IncomingMessage, res: ServerResponse, context: RouteContext): Promise<void> {
  if (!isAllowedHost(req, context.host, context.port) || !isSameOrigin(req)) {
    return sendError(res, 403, {
      error: 'FORBIDDEN_ORIGIN',
      message: 'This console only answers requests addressed to it from its own page.',
    });
  }
  const url = new URL(req.url ?? '/', 'http://console.invalid');
  const access = checkAccess(req, context.token);

  if (!url.pathname.startsWith('/api/')) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, methodError('GET'));
    const presented = url.searchParams.get('token');
    if (presented !== null) return signIn(res, presented, context.token);
    return serveStatic(res, context.uiDir, url.pathname);
  }
  if (!access.ok) {
    res.setHeader('www-authenticate', 'Bearer realm="frontendops-console"');
    return sendError(res, 401, {
      error: 'UNAUTHORIZED',
      message:
        'This console needs its access token. Open the address printed by `frontendops console` (it ends in ?token=…), ' +
        'or send "Authorization: Bearer <token>".',
    });
  }
  if (req.method === 'POST') {
    const refusal = refuseMutation(req, access);
    if (refusal) return sendError(res, 403, { error: 'CSRF', message: `Refused: ${refusal}.` });
    return routePost(req, res, url, context);
  }
  if (req.method !== 'GET') return sendError(res, 405, methodError('GET or POST'));
  return routeGet(res, url, context);
}

async function routeGet(res: ServerResponse, url: URL, context: RouteContext): Promise<void> {
  const { service } = context;
  if (url.pathname === '/api/session') {
    const session: SessionView = {
      stacks: service.stacks,
      actor: context.actor,
      chat: context.agent !== undefined,
    };
    return sendJson(res, 200, session);
  }
  if (url.pathname === '/api/events') return context.hub.subscribe(res);
  const match = STACK_PATH.exec(url.pathname);
  const stack = match?.[1] && decodePathPart(match[1]);
  if (!match || !stack)
    return sendError(res, 404, { error: 'NOT_FOUND', message: `No API route ${url.pathname}.` });
  const [, , resource, id] = match;
  if (resource === 'status' && !id) return sendJson(res, 200, await service.status(stack));
  if (resource === 'history' && !id) {
    const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 50) || 50, 1), 200);
    return sendJson(res, 200, { deployments: await service.history(stack, limit) });
  }
  if (resource === 'deployments' && id)
    return sendJson(res, 200, await service.deployment(stack, decodePathPart(id)));
  if (resource === 'audit' && !id) return sendJson(res, 200, await service.audit(stack));
  if (resource === 'plan' && !id) {
    const action = parseAction(url.searchParams.get('action') ?? 'deploy-latest');
    const to = url.searchParams.get('to') ?? undefined;
    return sendJson(res, 200, await service.plan(stack, action, to));
  }
  return sendError(res, 404, { error: 'NOT_FOUND', message: `No API route ${url.pathname}.` });
}

async function routePost(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: RouteContext,
): Promise<void> {
  if (url.pathname === '/api/chat') return postChat(req, res, context);
  const match = STACK_PATH.exec(url.pathname);
  const stack = match?.[1] && decodePathPart(match[1]);
  const resource = match?.[2];
  if (!stack || match?.[3] || (resource !== 'deploy-latest' && resource !== 'rollback')) {
    return sendError(res, 404, { error: 'NOT_FOUND', message: `No API route POST ${url.pathname}.` });
  }
  const body = await readJsonBody(req, actionBody, '{"deployId": "<the planned deploy id>"}');
  const runId = body.runId ?? crypto.randomUUID();
  const publish = (event: ProgressEvent) => context.hub.publish({ source: 'deploy', runId, stack, event });
  const text =
    resource === 'rollback'
      ? `Roll back ${stack}${body.to ? ` to ${body.to}` : ' to the previous release'} (confirmed plan ${body.deployId})`
      : `Deploy the latest build to ${stack} (confirmed plan ${body.deployId})`;
  try {
    const summary = await context.service.apply(stack, resource, {
      deployId: body.deployId,
      ...(body.to ? { to: body.to } : {}),
      request: consoleRequest(text, context.actor),
      onEvent: (event) =>
        publish(
          event.type === 'plan'
            ? {
                type: 'plan',
                plan: toPlanView(event.plan, resource, context.service.isProtected(event.plan.stack)),
              }
            : event,
        ),
    });
    publish({ type: 'done', outcome: summary.outcome });
    const result: ActionResult = {
      runId,
      deployId: summary.deployId,
      outcome: summary.outcome,
      commit: summary.commit,
      copied: summary.copied,
      pruned: summary.pruned,
      invalidation: summary.invalidation,
      verification: summary.verification && {
        ok: summary.verification.ok,
        detail: summary.verification.detail,
      },
      durationMs: summary.durationMs,
      error: summary.error ?? null,
    };
    return sendJson(res, 200, result);
  } catch (error) {
    if (error instanceof PlanChangedError) {
      publish({ type: 'error', code: 'PLAN_CHANGED', message: error.message });
      return sendError(res, 409, { error: 'PLAN_CHANGED', message: error.message, plan: error.plan });
    }
    const { status, body: apiError } = toApiError(error);
    publish({ type: 'error', code: apiError.error, message: apiError.message });
    return sendError(res, status, apiError);
  }
}

async function postChat(req: IncomingMessage, res: ServerResponse, context: RouteContext): Promise<void> {
  const body = await readJsonBody(req, chatBody, '{"text": "what\'s live?", "approve": false}');
  if (!context.agent) {
    return sendError(res, 503, {
      error: 'NO_AGENT',
      message:
        'The agent is not available in this console. Use the buttons, or `frontendops agent "<request>"` in a terminal.',
    });
  }
  const stack = body.stack ?? context.service.stacks[0] ?? '';
  if (!context.service.stacks.includes(stack)) {
    throw badInput(
      `The chat can act on ${context.service.stacks.join(', ')}; "${stack}" is not one of them.`,
    );
  }
  const runId = body.runId ?? crypto.randomUUID();
  const publish = (event: ProgressEvent) => context.hub.publish({ source: 'chat', runId, event });
  try {
    const reply = await runChat(context.agent, {
      text: body.text,
      approve: body.approve,
      stack,
      actor: context.actor,
      runId,
      onEvent: publish,
    });
    publish({ type: 'done', outcome: reply.ok ? 'answered' : 'not done' });
    return sendJson(res, 200, reply);
  } catch (error) {
    const { status, body: apiError } = toApiError(error);
    publish({ type: 'error', code: apiError.error, message: apiError.message });
    return sendError(res, status, apiError);
  }
}

/** `/?token=…`: a right token sets the session cookie; either way the token leaves the address bar. */
function signIn(res: ServerResponse, presented: string, token: string): void {
  const ok = sameSecret(presented, token);
  res.writeHead(303, {
    ...SECURITY_HEADERS,
    location: ok ? '/' : '/?signin=failed',
    'cache-control': 'no-store',
    ...(ok ? { 'set-cookie': sessionCookie(token) } : {}),
  });
  res.end();
}

function parseAction(value: string): PlanAction {
  if (value === 'deploy-latest' || value === 'rollback') return value;
  throw new FrontendOpsError(
    'BAD_INPUT',
    `Unknown plan action "${value}": expected deploy-latest or rollback.`,
  );
}

const methodError = (allowed: string) => ({ error: 'METHOD_NOT_ALLOWED', message: `Use ${allowed} here.` });

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'someone';
  }
}
