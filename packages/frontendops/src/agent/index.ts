/**
 * The FrontendOps agent's public surface: `runAgentRequest` turns words into tool calls on the infra
 * and git MCP servers, through one gate, with one audit entry per request — written by the infra
 * server (record_request): the agent never opens a stack or holds its bucket names itself.
 * Used by the CLI (`frontendops agent`, `frontendops chat`) and the console.
 */

import type { Client } from '@modelcontextprotocol/client';
import type { LanguageModel } from 'ai';
import { PREVIEW_PARAM } from '../atomic/preview-token.ts';
import { type Config, loadConfig } from '../config.ts';
import { parseResult, type ToolInput } from '../contract/tools.ts';
import { clip, hasControlCharacters, WORDS_MAX, withoutControlCharacters } from '../engine/text.ts';
import { codedText, isFrontendOpsError } from '../errors.ts';
import { LOCAL_STACK } from '../stacks/local.ts';
import { resolveStackSource } from '../stacks/resolve.ts';
import type { ApproveFn } from './approval.ts';
import { createToolGate, type ToolGate } from './gate.ts';
import {
  approvableActions,
  describeIntent,
  type Intent,
  namedChange,
  parseRequest,
  toolsFor,
} from './intents.ts';
import { type ConnectMcp, connectAgentClients, defaultMcpConfig, type McpConfig } from './mcp-clients.ts';
import { runModelPlanner } from './model-planner.ts';
import { createLanguageModel, readModelSpec } from './model-provider.ts';
import { createRedactor } from './redact.ts';
import { runRunbook } from './runbook.ts';
import { namedElsewhere } from './stack-words.ts';
import type { AgentClients, AgentEvent, AgentResult, PlannerChoice, PlannerOutcome } from './types.ts';

export { askOnTerminal } from '../terminal-ask.ts';
export { APPROVE_HINT, createCliApprover } from './approval.ts';

export { CAPABILITIES, describeIntent, type Intent, parseRequest } from './intents.ts';
export {
  type ConnectMcp,
  connectAgentClients,
  createAgentMcpClient,
  defaultMcpConfig,
  loadMcpConfig,
  type McpConfig,
} from './mcp-clients.ts';
export { MODEL_BASE_URL_ENV, MODEL_ENV, readModelSpec } from './model-provider.ts';
export type * from './types.ts';
export type { ApproveFn };

export interface AgentRequestOptions {
  /** Who asks (recorded, as a claim): an OS user, "<name> (console)", … */
  actor: string;
  planner?: PlannerChoice;
  approve: ApproveFn;
  onEvent?: (event: AgentEvent) => void;
  dryRun?: boolean;
  /** Already-connected MCP clients; otherwise the servers of `mcpConfig` (default: ours over stdio) are spawned. */
  clients?: AgentClients;
  mcpConfig?: McpConfig;
  /** How the servers are connected to (default connectAgentClients: spawned, or reached over HTTP). */
  connectMcp?: ConnectMcp;
  /** Each stderr line of servers spawned for this request (default: inherited). */
  onServerStderr?: (line: string) => void;
  /** The stack name the tools act on; default: named by `stackRef`, else the infra server's own stack. */
  stack?: string | null;
  /** --stack: a configured stack name, `local`, or an outputs JSON file (given to the spawned infra server). */
  stackRef?: string;
  config?: Config;
  cwd?: string;
  /** Where FRONTENDOPS_MODEL and the providers' keys are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** A ready language model (overrides FRONTENDOPS_MODEL). */
  model?: { id: string; model: LanguageModel };
  /** Hard limit on tool calls per request (default 16). */
  maxCalls?: number;
  /** Model steps per request (default 10). */
  maxSteps?: number;
  now?: () => Date;
  /**
   * Stops the request (the CLI: Ctrl-C). The call in flight is cancelled — a change in the infra
   * server then stops at its next safe point — no further call is made, and the answer says what the
   * stop left (read from the infra server), before the request's audit entry is written.
   */
  signal?: AbortSignal;
}

export async function runAgentRequest(text: string, options: AgentRequestOptions): Promise<AgentResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const cwd = options.cwd ?? process.cwd();
  const envVars = options.env ?? process.env;
  const dryRun = options.dryRun ?? false;
  const emit = (event: AgentEvent) => options.onEvent?.(event);
  const redactor = createRedactor([], envVars);

  let plannerId = 'runbook';
  let intent: Intent | null = null;
  let clients: AgentClients | null = options.clients ?? null;
  let ownClients = false;
  let stack: string | null = null;
  let gate: ToolGate | null = null;
  let outcome: PlannerOutcome;
  /** Known once the stack is: the audit entry goes to that stack, never to another. */
  let stackKnown = false;
  let connecting = false;

  try {
    const config = options.config ?? (await loadConfig(cwd, envVars));
    // The words decide what may be done, model or not: refusals stop here, other tools are never offered.
    // They are read with the configured app's name ("update the blog"), as with the dashboard's.
    intent = hasControlCharacters(text)
      ? {
          kind: 'refuse',
          reason:
            'The request contains control characters (escape sequences can rewrite a terminal or a log); write it as plain words, newlines allowed.',
        }
      : parseRequest(text, config.app);
    stack =
      options.stack !== undefined
        ? options.stack
        : options.stackRef
          ? (await resolveStackSource(options.stackRef, { config, cwd, env: envVars })).stack
          : null;
    stackKnown = true;
    const knownStacks = [
      ...Object.keys(config.stacks),
      ...config.protected,
      ...(config.defaultStack ? [config.defaultStack] : []),
      LOCAL_STACK,
    ];
    const acting = stack ?? config.defaultStack ?? null;
    const refusal = namedElsewhere(text, intent, {
      own: { app: config.app, appPath: config.appPath },
      known: knownStacks,
      acting,
    });
    if (refusal && intent.kind !== 'refuse') intent = { kind: 'refuse', reason: refusal };
    const model = selectModel(options, envVars);
    plannerId = model ? `model:${model.id}` : 'runbook';
    emit({
      type: 'intent',
      planner: plannerId,
      intent: intent.kind,
      description:
        model && intent.kind === 'unknown' ? `ask ${model.id}, reading only` : describeIntent(intent),
    });
    if (!clients) {
      connecting = true;
      clients = await (options.connectMcp ?? connectAgentClients)(
        options.mcpConfig ?? defaultMcpConfig(cwd, options.stackRef, envVars),
        {
          inheritEnv: !options.mcpConfig,
          env: envVars,
          ...(options.onServerStderr ? { onStderr: options.onServerStderr } : {}),
        },
      );
      ownClients = true;
    }
    if (intent.kind === 'refuse' || (!model && intent.kind === 'unknown')) {
      outcome = { outcome: 'refused', message: intent.reason };
    } else {
      gate = createToolGate({
        clients,
        stack,
        allowed: toolsFor(intent),
        asked: approvableActions(intent),
        named: namedChange(intent, config.appPath),
        app: config.app,
        approve: options.approve,
        dryRun,
        maxCalls: options.maxCalls ?? 16,
        redactor,
        requestInfo: { request: text, requestedBy: options.actor, planner: plannerId },
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      try {
        outcome = model
          ? await runModelPlanner({
              model: model.model,
              text,
              gate,
              redactor,
              stack,
              app: config.app,
              appPath: config.appPath,
              dryRun,
              maxSteps: options.maxSteps ?? 10,
              ...(options.onEvent ? { onEvent: options.onEvent } : {}),
              ...(options.signal ? { abortSignal: options.signal } : {}),
            })
          : await runRunbook(intent, {
              gate,
              text,
              stack,
              app: config.app,
              appPath: config.appPath,
              dryRun,
              now: startedAt,
            });
      } finally {
        gate.detach();
      }
    }
  } catch (error) {
    // Bad input before any tool ran (an unknown stack, a configuration to fix): refused with its
    // reason, as the CLI refuses bad input (exit 2); anything else is a failure.
    const badInput =
      (isFrontendOpsError(error, 'BAD_INPUT') || isFrontendOpsError(error, 'NOT_FOUND')) &&
      !gate?.calls.length;
    outcome = badInput
      ? { outcome: 'refused', message: redactor.text((error as Error).message) }
      : { outcome: 'failed', message: redactor.text(describeFailure(error)) };
  }
  // Stopped on purpose: what the stop left, said instead of the failed step it made.
  if (options.signal?.aborted && (gate?.interrupted || outcome.outcome === 'failed')) {
    outcome = await afterInterrupt(clients, gate, stack, redactor);
  }

  const result: AgentResult = {
    request: text,
    actor: options.actor,
    dryRun,
    planner: plannerId,
    intent: intent?.kind ?? 'unknown',
    ...outcome,
    calls: [...(gate?.calls ?? [])],
  };
  if (!stackKnown) {
    result.auditError = 'no audit entry was written: the request stopped before its stack was known';
  } else if (clients) {
    const written = await recordRequest(clients.infra, result, stack);
    if ('seq' in written) result.auditSeq = written.seq;
    else result.auditError = written.error;
  } else {
    result.auditError = connecting
      ? 'no audit entry was written: the agent could not start or reach its MCP servers'
      : 'no audit entry was written: the request stopped before the agent reached its servers';
  }
  if (ownClients) await clients?.close?.();
  emit({ type: 'done', result });
  return result;
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

/** The request's audit entry, written by the infra server; a failure to write never hides the answer. */
/**
 * A preview link grants a look at an unreleased build to whoever holds it: it goes to the person who
 * asked, never into the audit log (which every deployer can read). Its token is cut from the record.
 */
const withoutPreviewTokens = (text: string): string =>
  text.replace(new RegExp(`([?&]${PREVIEW_PARAM}=)[^\\s&#]+`, 'g'), '$1[withheld]');

async function recordRequest(
  infra: Client,
  result: AgentResult,
  stack: string | null,
): Promise<{ seq: number } | { error: string }> {
  const args: ToolInput<'record_request'> = {
    ...(stack ? { stack } : {}),
    request: clip(withoutControlCharacters(result.request), WORDS_MAX) || '(empty)',
    requestedBy: clip(withoutControlCharacters(result.actor), 200),
    planner: result.planner,
    intent: result.intent,
    outcome: result.outcome,
    // Answers may quote outside text (a commit subject): the record takes printable words only.
    message: clip(withoutControlCharacters(withoutPreviewTokens(result.message)), 2000),
    dryRun: result.dryRun,
    calls: result.calls.slice(0, 64).map((c) => ({
      tool: clip(c.tool, 100),
      status: c.status,
      summary: clip(withoutControlCharacters(withoutPreviewTokens(c.summary)), 500),
    })),
    ...(result.deployId ? { deployId: result.deployId } : {}),
    ...(result.commit ? { commit: result.commit } : {}),
    ...(result.tag ? { tag: result.tag } : {}),
  };
  try {
    const answer = await infra.callTool({ name: 'record_request', arguments: args });
    if (answer.isError) {
      const text = (answer.content as Array<{ type: string; text?: string }>)[0]?.text ?? '';
      return { error: `the audit entry could not be written (${text.split(':')[0] || 'error'})` };
    }
    return { seq: parseResult('record_request', answer.structuredContent).seq };
  } catch (error) {
    return { error: `the audit entry could not be written (${(error as Error).name})` };
  }
}

/**
 * What a request stopped on purpose (Ctrl-C) left: nothing, if no change was sent; else what the
 * infra server says is live once the change has stopped (its get_status waits for that): the change
 * stopped before its switch (nothing went live), or it went live and awaits the same request again
 * to be verified, recorded and tagged. When the server cannot be asked (it was stopped too), what
 * the infra server does with a change in that case, and how to see and finish it.
 */
async function afterInterrupt(
  clients: AgentClients | null,
  gate: ToolGate | null,
  stack: string | null,
  redactor: ReturnType<typeof createRedactor>,
): Promise<PlannerOutcome> {
  const change = gate?.change ?? null;
  if (!change) {
    return {
      outcome: 'failed',
      message: 'Interrupted before anything was changed: nothing was changed. Ask again to do it.',
    };
  }
  const status = clients ? await readStatusAfterStop(clients.infra, stack) : null;
  const ids = change.deployId ? { deployId: change.deployId } : {};
  const what = redactor.text(change.description);
  if (!status) {
    return {
      outcome: 'failed',
      ...ids,
      message: [
        `Interrupted during ${change.tool} (${what}), and the infra server could not be asked what it left.`,
        'It stops a change at a safe point: before its switch nothing goes live; a change past its switch stays live and is finished by the next run (its note above says which).',
        `Run the same request again to finish it; \`frontendops status\` shows what is live on ${change.stack}.`,
      ].join('\n'),
    };
  }
  const live = status.live;
  const now = live ? `${live.app}@${live.commit.slice(0, 7)} (${live.deployId})` : 'nothing';
  if (change.deployId && live?.deployId === change.deployId) {
    const recorded = live.kind !== null && status.pending?.deployId !== change.deployId;
    return {
      outcome: 'failed',
      ...ids,
      commit: live.commit,
      message: recorded
        ? `Interrupted after ${what}: deployment ${change.deployId} is live on ${status.stack} and recorded, but no deploy tag was made for it.`
        : [
            `Interrupted after ${what} went live on ${status.stack} (deployment ${change.deployId}), before it was verified and recorded: it has no deploy tag yet.`,
            'Run the same request again to finish it: it is verified, recorded and tagged.',
          ].join('\n'),
    };
  }
  if (change.deployId) {
    return {
      outcome: 'failed',
      ...ids,
      message: [
        `Stopped: nothing went live. ${status.stack} still serves ${now}; ${what} stopped before its switch.`,
        'Run the same request again to do it (what was copied is reused).',
      ].join('\n'),
    };
  }
  return {
    outcome: 'failed',
    message: `Interrupted during ${change.tool} (${what}). Live on ${status.stack} now: ${now}. If that is not what you asked for, run the same request again.`,
  };
}

/** get_status once a stopped change has stopped (the server waits for it); null when it cannot be read. */
async function readStatusAfterStop(infra: Client, stack: string | null) {
  try {
    const answer = await infra.callTool({ name: 'get_status', arguments: stack ? { stack } : {} });
    return answer.isError ? null : parseResult('get_status', answer.structuredContent);
  } catch {
    return null;
  }
}

function selectModel(
  options: AgentRequestOptions,
  env: NodeJS.ProcessEnv,
): { id: string; model: LanguageModel } | null {
  const choice = options.planner ?? 'auto';
  if (choice === 'runbook') return null;
  if (options.model) return options.model;
  const spec = readModelSpec(env);
  if (!spec) {
    if (choice === 'model') {
      throw new Error(
        'No model is configured: set FRONTENDOPS_MODEL=provider:model, or use the runbook planner.',
      );
    }
    return null;
  }
  return { id: spec.id, model: createLanguageModel(spec, env) };
}

function describeFailure(error: unknown): string {
  if (isFrontendOpsError(error)) return codedText(error.code, error.message);
  return error instanceof Error ? error.message : String(error);
}
