/**
 * The console's API routes, behind the access checks in server.ts: reads (session, events, status,
 * history, one deployment, audit, plan) and the three POSTs (deploy-latest, rollback, chat).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { badInput, FrontendOpsError } from '../errors.ts';
import type { Sessions } from './auth.ts';
import { type ConsoleAgent, runChat } from './chat.ts';
import type { EventHub } from './events.ts';
import { decodePathPart, readJsonBody, sendError, sendJson, toApiError } from './http.ts';
import { type ConsoleService, consoleRequest, PlanChangedError } from './service.ts';
import type { ActionResult, PlanAction, ProgressEvent, SessionView } from './types.ts';
import { toConsolePlan } from './views.ts';

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

export interface RouteContext {
  service: ConsoleService;
  hub: EventHub;
  actor: string;
  agent: ConsoleAgent | undefined;
  token: string;
  /** Browser sessions started with the token (their ids are the cookie, never the token). */
  sessions: Sessions;
  uiDir: string;
  port: number;
  host: string;
}

export async function routeGet(res: ServerResponse, url: URL, context: RouteContext): Promise<void> {
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

export async function routePost(
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
  const isProtected = await context.service.isProtected(stack);
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
                plan: toConsolePlan(event.plan, resource, isProtected),
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

function parseAction(value: string): PlanAction {
  if (value === 'deploy-latest' || value === 'rollback') return value;
  throw new FrontendOpsError(
    'BAD_INPUT',
    `Unknown plan action "${value}": expected deploy-latest or rollback.`,
  );
}
