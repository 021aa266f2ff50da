/**
 * The console's API routes, behind the access checks in server.ts: reads (session, events, status,
 * history, one deployment, audit, plan) and the POSTs: the release actions (deploy-latest, rollback,
 * redeploy, promote — each a confirmed plan), pin, unpin, chat, and on atomic stacks the canary
 * (/api/canary/start|promote|abort) and preview links (/api/preview).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { PREVIEW_HOURS } from '../atomic/preview-hours.ts';
import { canaryPercent, commitRef, deployId, plainText } from '../contract/fields.ts';
import type { DeployEvent } from '../deploy/apply.ts';
import { type PinNotLive, pinNotLiveWords } from '../deploy/pin.ts';
import { describeDeployEvent } from '../deploy/progress-words.ts';
import { switchedBack } from '../deploy/switch-back-words.ts';
import { describeFinished, finishedFirstSentence } from '../engine/describe.ts';
import { checkDeployId, shortSha } from '../engine/ids.ts';
import type { DeployPlan } from '../engine/plan.ts';
import { capitalise, WORDS_MAX } from '../engine/text.ts';
import { alsoSaid, badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { HISTORY_PAGE_MAX } from '../read/history-page-max.ts';
import { toPinView } from '../read/views.ts';
import { CanaryChangedError } from './atomic.ts';
import { checkAccess, type Sessions, type SignIns } from './auth.ts';
import { type ConsoleAgent, runChat } from './chat.ts';
import type { EventHub } from './events.ts';
import { decodePathPart, readJsonBody, sendError, sendJson, toApiError } from './http.ts';
import { pinnedForThePage, requestWords, tagChange, tagFinishedFirst } from './releases.ts';
import { type ConsoleService, consoleRequest, PlanChangedError } from './service.ts';
import type {
  ActionResult,
  CanaryAction,
  CanaryResult,
  ChatConfirm,
  PinResult,
  PlanAction,
  PlanView,
  PreviewResult,
  ProgressEvent,
  SessionView,
} from './types.ts';
import { toConsolePlan } from './views.ts';

const STACK_PATH = /^\/api\/stacks\/([^/]+)\/([a-z-]+)(?:\/([^/]+))?$/;
const RUN_ID = z.string().regex(/^[A-Za-z0-9-]{8,64}$/, 'expected 8–64 letters, digits or "-"');
const MESSAGE = z
  .string()
  .trim()
  .max(WORDS_MAX, `at most ${WORDS_MAX} characters`)
  .superRefine(plainText('the message'))
  .optional();
/** `?limit=`: 1 to HISTORY_PAGE_MAX.reader deployments (default 50); anything else is refused, as the CLI's --limit is. */

/**
 * A change's last progress event: a no-op run that finished a stopped change says that it did (the
 * CLI's words, describeFinished), where the page would otherwise say it was already live; a change
 * the CDN did not serve says it was switched back (the words every surface uses, switchedBack).
 */
function doneEvent(summary: {
  outcome: string;
  noop?: boolean;
  finishedInterrupted?: { deployId: string; kind: string };
  finishedFirst?: { deployId: string; kind: string; outcome?: string };
  rolledBackTo?: string;
}): ProgressEvent {
  const finished = summary.noop ? summary.finishedInterrupted : undefined;
  // A stopped change the run finished before its own is said first (as run_sync says it).
  const first = finishedFirstSentence(summary);
  const back = summary.rolledBackTo ? `; ${switchedBack(summary.rolledBackTo)}` : '';
  const headline = finished
    ? `${capitalise(describeFinished(finished))}.`
    : first || back
      ? `${first}Finished: ${summary.outcome}${back}.`
      : undefined;
  return { type: 'done', outcome: summary.outcome, ...(headline ? { headline } : {}) };
}
function historyLimit(url: URL): number {
  const given = url.searchParams.get('limit');
  if (given === null) return 50;
  const limit = /^\d{1,3}$/.test(given) ? Number(given) : Number.NaN;
  if (!(limit >= 1 && limit <= HISTORY_PAGE_MAX.reader)) {
    throw badInput(
      `Invalid limit "${given.slice(0, 20)}": expected a whole number of deployments from 1 to ${HISTORY_PAGE_MAX.reader}, e.g. ?limit=50.`,
    );
  }
  return limit;
}

const actionBody = z.strictObject({
  deployId: deployId,
  to: z.string().max(128).optional(),
  runId: RUN_ID.optional(),
  /** Why, in the person's words (recorded; a rollback's becomes the pin's reason). */
  message: MESSAGE,
  /** A promote: the pin its plan showed (null: none), the only one it lifts; another one now is refused. */
  pin: z
    .strictObject({ deployId, at: z.string().max(40) })
    .nullable()
    .optional(),
});
/** An unpin names the pin the page showed (its release, when it was set): another one is not cleared. */
const unpinBody = z.strictObject({
  message: MESSAGE,
  pin: z.strictObject({ deployId, at: z.string().max(40) }).optional(),
});
/** A pin names the live release the page showed: if another went live since, nothing is pinned. */
const pinBody = z.strictObject({ message: MESSAGE, deployId: deployId.optional() });
const chatBody = z.strictObject({
  text: z.string().trim().min(1, 'say what you want').max(WORDS_MAX),
  /** The plan the page showed and the person confirmed: only it is approved. */
  confirm: z.strictObject({ deployId: deployId }).optional(),
  /** The stack selected in the page; default the console's first. */
  stack: z.string().max(300).optional(),
  runId: RUN_ID.optional(),
});
const ACTIONS: readonly PlanAction[] = ['deploy-latest', 'rollback', 'redeploy', 'promote'];
const STACK_NAME = z.string().min(1, 'name the stack').max(300);
const canaryBody = z.strictObject({
  stack: STACK_NAME,
  /** The canary's deploy id as the page showed it: anything else running now is refused. */
  deployId: deployId.optional(),
  message: MESSAGE,
  runId: RUN_ID.optional(),
});
const canaryStartBody = canaryBody.extend({
  /** The deploy plan's id (the canary gets the same one): a plan changed meanwhile is refused. */
  deployId: deployId.optional(),
  /** A published commit; default the latest build. */
  commit: commitRef.optional(),
  percent: canaryPercent,
});
const previewBody = z.strictObject({
  stack: STACK_NAME,
  /** A deployment of the history… */
  deployId: deployId.optional(),
  /** …or a published commit of the app. */
  commit: commitRef.optional(),
  /** How long the link works, in hours (PREVIEW_HOURS). */
  hours: z
    .number()
    .int('whole hours')
    .min(PREVIEW_HOURS.min, `at least ${PREVIEW_HOURS.min} hour`)
    .max(PREVIEW_HOURS.max, `at most ${PREVIEW_HOURS.max} hours`)
    .optional(),
  runId: RUN_ID.optional(),
});
const CANARY_PATH = /^\/api\/canary\/(start|promote|abort)$/;

export interface RouteContext {
  service: ConsoleService;
  hub: EventHub;
  actor: string;
  agent: ConsoleAgent | undefined;
  /** Why the chat is off, for the page, when there is no agent. */
  chatReason: string | null;
  /**
   * Plans shown in the chat and waiting for a confirmation, by deploy id: each can be confirmed once,
   * and approves only the change shown (`plan`: its kind and the stack the gate named).
   */
  confirmations: Map<string, { stack: string; text: string; plan: ChatConfirm }>;
  token: string;
  /** Browser sessions, started by sign-in addresses (the page sends its id as a bearer; it is never the token). */
  sessions: Sessions;
  /** The live sign-in codes; signInAddress makes a new one into an address, addressOf a given one. */
  signIns: SignIns;
  signInAddress: () => string;
  addressOf: (code: string) => string;
  onRefusedSignIn: ((address: string) => void) | undefined;
  uiDir: string;
  port: number;
  host: string;
}

export async function routeGet(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: RouteContext,
): Promise<void> {
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
  // The stream ends with the access that opened it (a session's end): asked again before each write.
  if (url.pathname === '/api/events')
    return context.hub.subscribe(res, () => checkAccess(req, context.token, context.sessions).ok);
  const match = STACK_PATH.exec(url.pathname);
  const stack = match?.[1] && decodePathPart(match[1]);
  if (!match || !stack)
    return sendError(res, 404, { error: 'NOT_FOUND', message: `No API route ${url.pathname}.` });
  const [, , resource, id] = match;
  if (resource === 'status' && !id) return sendJson(res, 200, await service.status(stack));
  if (resource === 'history' && !id) {
    return sendJson(res, 200, await service.history(stack, historyLimit(url)));
  }
  if (resource === 'deployments' && id)
    return sendJson(res, 200, await service.deployment(stack, deployIdOf(decodePathPart(id))));
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
  if (url.pathname === '/api/preview') return postPreview(req, res, context);
  const canary = CANARY_PATH.exec(url.pathname);
  if (canary) return postCanary(req, res, context, `canary-${canary[1]}` as CanaryAction);
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
  // Read before the change: its tags hide the stack's sensitive values (tagRequest).
  const target = await context.service.target(stack);
  // The record says in words what was asked, and who confirmed it; the plan id is in the record itself.
  const request = {
    ...consoleRequest(requestWords(action, body.to, personOf(context.actor)), context.actor),
    ...(body.message ? { message: body.message } : {}),
  };
  try {
    const summary = await context.service.apply(stack, action, {
      deployId: body.deployId,
      ...(body.to ? { to: body.to } : {}),
      ...(body.pin !== undefined ? { pin: body.pin } : {}),
      request,
      onEvent: (event) =>
        publish(
          progressOf(event, (plan) => ({
            ...toConsolePlan(plan, action, isProtected),
            ...(body.to ? { to: body.to } : {}),
          })),
        ),
    });
    // The stopped change it finished first is tagged first, as it went live first.
    const firstTag = await tagFinishedFirst(context.service.git, summary, target);
    const tag = await tagChange(context.service.git, summary, summary.request, target);
    publish(doneEvent(summary));
    const result: ActionResult = {
      runId,
      deployId: summary.deployId,
      outcome: summary.outcome,
      commit: summary.commit,
      copied: summary.copied,
      pruned: summary.pruned,
      invalidation: summary.invalidation,
      verification: verificationOf(summary.verification),
      durationMs: summary.durationMs,
      error: summary.error ?? null,
      tag,
      ...(summary.finishedInterrupted ? { finishedInterrupted: summary.finishedInterrupted.deployId } : {}),
      ...(summary.finishedFirst ? { finishedFirst: summary.finishedFirst.deployId } : {}),
      ...(firstTag ? { finishedFirstTag: firstTag } : {}),
      pinned: Boolean(summary.pinned),
      unpinned: Boolean(summary.unpinned),
      rolledBackTo: summary.rolledBackTo ?? null,
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

/** An engine event as the page shows it: people's words beside the engine's. */
function progressOf(event: DeployEvent, planView: (plan: DeployPlan) => PlanView): ProgressEvent {
  const words = describeDeployEvent(event);
  if (event.type === 'plan') return { type: 'plan', plan: planView(event.plan), headline: words.headline };
  if (event.type === 'copy') return { ...event, headline: words.headline };
  return { ...event, headline: words.headline };
}

/**
 * POST /api/canary/start|promote|abort {stack, deployId?, message?} (start: percent, commit?): the
 * page showed the canary (or the deploy plan) and the person confirmed; the engine's run takes the
 * stack's lock, verifies through the edge and writes the audit log; a promote gets its deploy tag.
 */
async function postCanary(
  req: IncomingMessage,
  res: ServerResponse,
  context: RouteContext,
  action: CanaryAction,
): Promise<void> {
  const body: z.infer<typeof canaryBody> & { percent?: number; commit?: string | undefined } =
    action === 'canary-start'
      ? await readJsonBody(
          req,
          canaryStartBody,
          '{"stack": "<stack>", "percent": 10, "deployId": "<the planned deploy id>", "message": "why (optional)"}',
        )
      : await readJsonBody(
          req,
          canaryBody,
          '{"stack": "<stack>", "deployId": "<the canary\'s deploy id>", "message": "why (optional)"}',
        );
  const { stack } = body;
  // An unknown stack is refused here, before anything is said on the event stream.
  const isProtected = await context.service.isProtected(stack);
  // Read before the change: a promote's tag hides the stack's sensitive values (tagRequest).
  const target = await context.service.target(stack);
  const runId = body.runId ?? crypto.randomUUID();
  const publish = (event: ProgressEvent) => context.hub.publish({ source: 'deploy', runId, stack, event });
  const person = personOf(context.actor);
  try {
    const { summary, request } = await context.service.canary(stack, action, {
      ...(body.deployId ? { deployId: body.deployId } : {}),
      ...(body.percent !== undefined ? { percent: body.percent } : {}),
      ...(body.commit ? { commit: body.commit } : {}),
      request: (words) => ({
        ...consoleRequest(`${words} (confirmed in the console by ${person})`, context.actor),
        ...(body.message ? { message: body.message } : {}),
      }),
      onEvent: (event) => publish(progressOf(event, (plan) => toConsolePlan(plan, action, isProtected))),
    });
    // Only a promote makes a release live for everyone: it is the one with a deploy tag (as the CLI's).
    const tag =
      action === 'canary-promote' ? await tagChange(context.service.git, summary, request, target) : null;
    publish(doneEvent(summary));
    const result: CanaryResult = {
      runId,
      stack,
      action,
      deployId: summary.deployId,
      app: summary.app,
      commit: summary.commit,
      outcome: summary.outcome,
      percent: summary.canary?.weight ?? null,
      copied: summary.copied,
      pruned: summary.pruned,
      verification: verificationOf(summary.verification),
      durationMs: summary.durationMs,
      error: summary.error ?? null,
      tag,
      rolledBackTo: summary.rolledBackTo ?? null,
    };
    return sendJson(res, 200, result);
  } catch (error) {
    if (error instanceof CanaryChangedError) {
      publish({ type: 'error', code: 'PLAN_CHANGED', message: error.message });
      return sendError(res, 409, { error: 'PLAN_CHANGED', message: error.message });
    }
    const { status, body: apiError } = toApiError(pinnedForThePage(error));
    publish({ type: 'error', code: apiError.error, message: apiError.message });
    return sendError(res, status, apiError);
  }
}

/**
 * POST /api/preview {stack, deployId | commit, hours?}: a signed, expiring link to that release,
 * answered to this request only. The event stream, which every session of the console reads, says
 * what was done but never carries the link; status lists open previews without it.
 */
async function postPreview(req: IncomingMessage, res: ServerResponse, context: RouteContext): Promise<void> {
  const body = await readJsonBody(
    req,
    previewBody,
    '{"stack": "<stack>", "deployId": "<a deploy id from the history>"} or {"stack": "<stack>", "commit": "<a published commit>"}',
  );
  const { stack } = body;
  await context.service.isProtected(stack);
  const runId = body.runId ?? crypto.randomUUID();
  const publish = (event: ProgressEvent) => context.hub.publish({ source: 'deploy', runId, stack, event });
  const named = body.deployId ?? (body.commit ? shortSha(body.commit) : 'a release');
  try {
    const link = await context.service.preview(stack, {
      ...(body.deployId ? { deployId: body.deployId } : {}),
      ...(body.commit ? { commit: body.commit } : {}),
      ...(body.hours ? { hours: body.hours } : {}),
      request: consoleRequest(
        `Preview ${named} (asked in the console by ${personOf(context.actor)})`,
        context.actor,
      ),
      onEvent: (event) => {
        if (event.type === 'copy') publish({ ...event, headline: describeDeployEvent(event).headline });
        else if (event.type === 'step') publish({ ...event, headline: previewHeadline(event) });
      },
    });
    const hours = body.hours ?? PREVIEW_HOURS.default;
    publish({
      type: 'done',
      outcome: `preview link of ${link.app}@${shortSha(link.commit)} made, open for ${hours} hour${hours === 1 ? '' : 's'}`,
    });
    const result: PreviewResult = {
      stack,
      app: link.app,
      commit: link.commit,
      deployId: link.deployId,
      url: link.url,
      expiresAt: link.expiresAt,
      copied: link.copied,
      verification: verificationOf(link.verification),
    };
    return sendJson(res, 200, result);
  } catch (error) {
    const { status, body: apiError } = toApiError(error);
    publish({ type: 'error', code: apiError.error, message: apiError.message });
    return sendError(res, status, apiError);
  }
}

function previewHeadline(event: Extract<DeployEvent, { type: 'step' }>): string {
  if (event.step === 'record') {
    return `Preview ${event.detail.replace(/^preview of (\S+) until .*$/, 'of $1')}: recorded in the audit log.`;
  }
  if (event.step === 'verify') {
    return /serves the new/.test(event.detail)
      ? 'Checked: the link shows the release.'
      : `The link does not show the release yet: ${event.detail}.`;
  }
  return describeDeployEvent(event).headline;
}

/** POST pin / unpin: the page asked the person to confirm first; who and why are recorded. */
async function postPin(
  req: IncomingMessage,
  res: ServerResponse,
  context: RouteContext,
  stack: string,
  resource: 'pin' | 'unpin',
): Promise<void> {
  const body: {
    message?: string | undefined;
    deployId?: string | undefined;
    pin?: { deployId: string; at: string } | undefined;
  } =
    resource === 'pin'
      ? await readJsonBody(
          req,
          pinBody,
          '{"deployId": "<the live deploy id the page showed>", "message": "why (optional)"}',
        )
      : await readJsonBody(
          req,
          unpinBody,
          '{"pin": {"deployId": "<the pin the page showed>", "at": "<when it was set>"}, "message": "why (optional)"}',
        );
  const words = `${resource === 'pin' ? 'Pin the live release' : 'Unpin'} (confirmed in the console by ${personOf(context.actor)})`;
  const request = {
    ...consoleRequest(words, context.actor),
    ...(body.message ? { message: body.message } : {}),
  };
  const done =
    resource === 'pin'
      ? await context.service.pin(stack, request, body.deployId).catch((error: unknown) => {
          throw pinNotLiveForThePage(error);
        })
      : await context.service.unpin(stack, request, body.pin);
  const result: PinResult = { stack, pin: done.pin && toPinView(done.pin), changed: done.changed };
  return sendJson(res, 200, result);
}

/** What the page shows of a release check: whether the release was served whole, and what was seen. */
const verificationOf = (verification: { ok: boolean; detail: string } | null) =>
  verification && { ok: verification.ok, detail: verification.detail };

/** "alice (console)" → "alice": the person who confirmed, for the words of a request. */
const personOf = (actor: string) => actor.replace(/ \(console\)$/, '');

/**
 * A pin refused because the release the page showed is no longer live, in the page's words: the
 * history's "Roll back to this" is the way back to it, not a CLI command. What else the refusal said
 * is kept.
 */
export function pinNotLiveForThePage(error: unknown): unknown {
  if (!isFrontendOpsError(error, 'CONFLICT')) return error;
  const refused = error.details?.pinNotLive as PinNotLive | undefined;
  if (!refused) return error;
  const { shown } = refused;
  const also = alsoSaid(error);
  return new FrontendOpsError(
    'CONFLICT',
    `${pinNotLiveWords(refused)} ` +
      (refused.kept
        ? `to go back to ${shown} and pin it, reload the page and use "Roll back to this" on ${shown} in the history: a rollback pins.`
        : `if ${shown} went live here (the history lists what did), reload the page and use "Roll back to this" on ${shown} there: a rollback pins.`) +
      (also ? ` ${also}` : ''),
  );
}

async function postChat(req: IncomingMessage, res: ServerResponse, context: RouteContext): Promise<void> {
  const body = await readJsonBody(
    req,
    chatBody,
    '{"text": "what\'s live?"} (to confirm a plan the chat showed, send the same text again with "confirm": {"deployId": "<its deploy id>"})',
  );
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
  const waiting = body.confirm ? context.confirmations.get(body.confirm.deployId) : undefined;
  if (body.confirm) {
    if (!waiting || waiting.stack !== stack || waiting.text !== body.text) {
      return sendError(res, 409, {
        error: 'CONFIRMATION_USED',
        message:
          'This confirmation was already used, or a newer request replaced it. Nothing was changed. Ask again to see the plan as it is now.',
      });
    }
  }
  for (const [deployId, shown] of context.confirmations) {
    if (shown.stack === stack) context.confirmations.delete(deployId);
  }
  try {
    const reply = await runChat(context.agent, {
      text: body.text,
      confirm: waiting?.plan ?? null,
      stack,
      actor: context.actor,
      runId,
      onEvent: publish,
    });
    if (reply.confirm)
      context.confirmations.set(reply.confirm.deployId, { stack, text: body.text, plan: reply.confirm });
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

/**
 * A deploy id from the address, checked before anything asks the storage for it: anything else
 * (a path, a NUL, 3,000 characters) is refused here, in words, rather than sent on as an object key.
 */
function deployIdOf(value: string): string {
  return checkDeployId(
    value,
    'Nothing was read. Pick one from the history (GET /api/stacks/<stack>/history, or the page’s History).',
  );
}

function parseAction(value: string): PlanAction {
  if ((ACTIONS as readonly string[]).includes(value)) return value as PlanAction;
  throw new FrontendOpsError('BAD_INPUT', `Unknown plan action "${value}": expected ${ACTIONS.join(', ')}.`);
}
