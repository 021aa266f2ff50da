/**
 * The console's API routes, behind the access checks in server.ts: reads (session, events, status,
 * history, one deployment, audit, plan) and the POSTs: the release actions (deploy-latest, rollback,
 * redeploy, promote — each a confirmed plan), pin, unpin, and chat.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { describeDeployEvent } from '../deploy/progress-words.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { toPinView } from '../read/views.ts';
import { describePin } from '../state/pin.ts';
import type { Sessions } from './auth.ts';
import { type ConsoleAgent, runChat } from './chat.ts';
import type { EventHub } from './events.ts';
import { decodePathPart, readJsonBody, sendError, sendJson, toApiError } from './http.ts';
import { requestWords, tagChange } from './releases.ts';
import { type ConsoleService, consoleRequest, PlanChangedError } from './service.ts';
import type { ActionResult, PinResult, PlanAction, ProgressEvent, SessionView } from './types.ts';
import { toConsolePlan } from './views.ts';

const STACK_PATH = /^\/api\/stacks\/([^/]+)\/([a-z-]+)(?:\/([^/]+))?$/;
const RUN_ID = z.string().regex(/^[A-Za-z0-9-]{8,64}$/, 'expected 8–64 letters, digits or "-"');
const DEPLOY_ID = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'expected a deploy id from the plan');
const MESSAGE = z.string().trim().max(500, 'at most 500 characters').optional();
const actionBody = z.strictObject({
  deployId: DEPLOY_ID,
  to: z.string().max(128).optional(),
  runId: RUN_ID.optional(),
  /** Why, in the person's words (recorded; a rollback's becomes the pin's reason). */
  message: MESSAGE,
});
const pinBody = z.strictObject({ message: MESSAGE });
const chatBody = z.strictObject({
  text: z.string().trim().min(1, 'say what you want').max(2000),
  /** The plan the page showed and the person confirmed: only it is approved. */
  confirm: z.strictObject({ deployId: DEPLOY_ID }).optional(),
  /** The stack selected in the page; default the console's first. */
  stack: z.string().max(300).optional(),
  runId: RUN_ID.optional(),
});
const ACTIONS: readonly PlanAction[] = ['deploy-latest', 'rollback', 'redeploy', 'promote'];

export interface RouteContext {
  service: ConsoleService;
  hub: EventHub;
  actor: string;
  agent: ConsoleAgent | undefined;
  /** Why the chat is off, for the page, when there is no agent. */
  chatReason: string | null;
  /** Plans shown in the chat and waiting for a confirmation, by deploy id: each can be confirmed once. */
  confirmations: Map<string, { stack: string; text: string }>;
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
      chatReason:
        context.agent !== undefined
          ? null
          : (context.chatReason ?? 'The agent is not available in this console. Use the buttons.'),
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
  const resource = match?.[2] ?? '';
  if (stack && !match?.[3] && (resource === 'pin' || resource === 'unpin')) {
    return postPin(req, res, context, stack, resource);
  }
  if (!stack || match?.[3] || !(ACTIONS as readonly string[]).includes(resource)) {
    return sendError(res, 404, { error: 'NOT_FOUND', message: `No API route POST ${url.pathname}.` });
  }
  const action = resource as PlanAction;
  const body = await readJsonBody(req, actionBody, '{"deployId": "<the planned deploy id>"}');
  const runId = body.runId ?? crypto.randomUUID();
  const publish = (event: ProgressEvent) => context.hub.publish({ source: 'deploy', runId, stack, event });
  const isProtected = await context.service.isProtected(stack);
  // The record says in words what was asked, and who confirmed it; the plan id is in the record itself.
  const request = {
    ...consoleRequest(requestWords(action, body.to, personOf(context.actor)), context.actor),
    ...(body.message ? { message: body.message } : {}),
  };
  try {
    const summary = await context.service.apply(stack, action, {
      deployId: body.deployId,
      ...(body.to ? { to: body.to } : {}),
      request,
      onEvent: (event) => {
        const words = describeDeployEvent(event);
        if (event.type === 'plan') {
          publish({
            type: 'plan',
            plan: { ...toConsolePlan(event.plan, action, isProtected), ...(body.to ? { to: body.to } : {}) },
            headline: words.headline,
          });
        } else if (event.type === 'copy') {
          publish({ ...event, headline: words.headline });
        } else {
          publish({ ...event, headline: words.headline });
        }
      },
    });
    const tag = await tagChange(context.service.git, summary, summary.request);
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
      tag,
      pinned: Boolean(summary.pinned),
      unpinned: Boolean(summary.unpinned),
    };
    return sendJson(res, 200, result);
  } catch (error) {
    if (error instanceof PlanChangedError) {
      publish({ type: 'error', code: 'PLAN_CHANGED', message: error.message });
      return sendError(res, 409, { error: 'PLAN_CHANGED', message: error.message, plan: error.plan });
    }
    const { status, body: apiError } = toApiError(pinnedForThePage(error));
    publish({ type: 'error', code: apiError.error, message: apiError.message });
    return sendError(res, status, apiError);
  }
}

/** POST pin / unpin: the page asked the person to confirm first; who and why are recorded. */
async function postPin(
  req: IncomingMessage,
  res: ServerResponse,
  context: RouteContext,
  stack: string,
  resource: 'pin' | 'unpin',
): Promise<void> {
  const body = await readJsonBody(req, pinBody, '{"message": "why (optional)"}');
  const words = `${resource === 'pin' ? 'Pin the live release' : 'Unpin'} (confirmed in the console by ${personOf(context.actor)})`;
  const request = {
    ...consoleRequest(words, context.actor),
    ...(body.message ? { message: body.message } : {}),
  };
  const done =
    resource === 'pin'
      ? await context.service.pin(stack, request)
      : await context.service.unpin(stack, request);
  const result: PinResult = { stack, pin: done.pin && toPinView(done.pin), changed: done.changed };
  return sendJson(res, 200, result);
}

/** "alice (console)" → "alice": the person who confirmed, for the words of a request. */
const personOf = (actor: string) => actor.replace(/ \(console\)$/, '');

/** A PINNED refusal in the page's words: the buttons are the ways forward, not CLI commands. */
function pinnedForThePage(error: unknown): unknown {
  if (!isFrontendOpsError(error, 'PINNED')) return error;
  const pin = error.details?.pin as Parameters<typeof describePin>[0] | undefined;
  if (!pin) return error;
  return new FrontendOpsError(
    'PINNED',
    `This stack is pinned to ${describePin(pin)}. Nothing was changed. Promote a release (it goes live for everyone and the pin is cleared), or unpin to deploy as usual.`,
  );
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
  // A confirmation counts once, for the plan the page showed with these words; a newer request to
  // this stack replaces every waiting one (its button stops working).
  if (body.confirm) {
    const waiting = context.confirmations.get(body.confirm.deployId);
    if (!waiting || waiting.stack !== stack || waiting.text !== body.text) {
      return sendError(res, 409, {
        error: 'CONFIRMATION_USED',
        message:
          'This confirmation was already used, or a newer request replaced it. Nothing was changed. Ask again to see the plan as it is now.',
      });
    }
  }
  for (const [deployId, waiting] of context.confirmations) {
    if (waiting.stack === stack) context.confirmations.delete(deployId);
  }
  try {
    const reply = await runChat(context.agent, {
      text: body.text,
      confirm: body.confirm ?? null,
      stack,
      actor: context.actor,
      runId,
      onEvent: publish,
    });
    if (reply.confirm) context.confirmations.set(reply.confirm.deployId, { stack, text: body.text });
    publish({
      type: 'done',
      outcome: reply.confirm ? 'waiting for your confirmation' : reply.ok ? 'answered' : 'not done',
    });
    return sendJson(res, 200, reply);
  } catch (error) {
    const { status, body: apiError } = toApiError(error);
    publish({ type: 'error', code: apiError.error, message: apiError.message });
    return sendError(res, status, apiError);
  }
}

function parseAction(value: string): PlanAction {
  if ((ACTIONS as readonly string[]).includes(value)) return value as PlanAction;
  throw new FrontendOpsError('BAD_INPUT', `Unknown plan action "${value}": expected ${ACTIONS.join(', ')}.`);
}
