/**
 * The FrontendOps agent's public surface: `runAgentRequest` turns words into tool calls on the infra
 * and git MCP servers, through one policy gate, with one audit entry per request. Used by the CLI
 * (`frontendops agent`, `frontendops chat`) and the console. Any new export here becomes public API.
 */
import type { LanguageModel } from 'ai';
import { type Config, loadConfig } from '../config.ts';
import { type Environment, openStack } from '../environment.ts';
import { isFrontendOpsError } from '../errors.ts';
import { LOCAL_S3_CREDENTIALS } from '../local/env-file.ts';
import { resolveStackSource } from '../stacks/resolve.ts';
import type { ApproveFn } from './approval.ts';
import { recordAgentRequest } from './audit.ts';
import { describeIntent, type Intent, parseRequest } from './intents.ts';
import { connectAgentClients, defaultMcpConfig, type McpConfig } from './mcp-clients.ts';
import { runModelPlanner } from './model-planner.ts';
import { createLanguageModel, readModelSpec } from './model-provider.ts';
import { createPolicyGate } from './policy-gate.ts';
import { createRedactor, type Redactor } from './redact.ts';
import { type PlannerOutcome, runRunbook } from './runbook.ts';
import type { AgentClients, AgentEvent, AgentResult, PlannerChoice } from './types.ts';

export { APPROVE_HINT, createCliApprover } from './approval.ts';
export { CAPABILITIES, describeIntent, type Intent, parseRequest } from './intents.ts';
export {
  connectAgentClients,
  createAgentMcpClient,
  defaultMcpConfig,
  loadMcpConfig,
  type McpConfig,
} from './mcp-clients.ts';
export { MODEL_BASE_URL_ENV, MODEL_ENV, readModelSpec } from './model-provider.ts';
export type * from './types.ts';
export type { ApproveFn };

export const DEFAULT_STACK = 'dashboard-hosting-prod';

export interface AgentRequestOptions {
  /** Who asks (recorded): an OS user, "console:<name>", … */
  actor: string;
  planner?: PlannerChoice;
  approve: ApproveFn;
  onEvent?: (event: AgentEvent) => void;
  dryRun?: boolean;
  /** Already-connected MCP clients; otherwise the servers of `mcpConfig` (default: ours over stdio) are spawned. */
  clients?: AgentClients;
  mcpConfig?: McpConfig;
  /** The stack name the tools act on; default: named by `stackRef` (or FRONTENDOPS_STACK), else dashboard-hosting-prod. */
  stack?: string;
  /** --stack: a configured stack name, an outputs JSON file, or the local environment's stack. */
  stackRef?: string;
  /** An already-open environment for the audit entry (the console, tests); null = do not write one. */
  environment?: Environment | null;
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
}

export async function runAgentRequest(text: string, options: AgentRequestOptions): Promise<AgentResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const cwd = options.cwd ?? process.cwd();
  const envVars = options.env ?? process.env;
  const dryRun = options.dryRun ?? false;
  const emit = (event: AgentEvent) => options.onEvent?.(event);
  const base = { request: text, actor: options.actor, dryRun, calls: [] as AgentResult['calls'] };

  let plannerId = 'runbook';
  let intent: Intent | null = null;
  let auditEnv: Environment | null = null;
  let ownEnv = false;
  let clients: AgentClients | null = null;
  let ownClients = false;
  let redactor: Redactor = createRedactor([...Object.values(LOCAL_S3_CREDENTIALS)], envVars);
  let outcome: PlannerOutcome;
  let calls: AgentResult['calls'] = [];

  try {
    const config = options.config ?? (await loadConfig(cwd));
    const stackRef = options.stackRef ?? envVars.FRONTENDOPS_STACK;
    const stack =
      options.stack ??
      (stackRef ? (await resolveStackSource(stackRef, { config, cwd })).stack : DEFAULT_STACK);
    const model = selectModel(options, envVars);
    plannerId = model ? `model:${model.id}` : 'runbook';
    intent = model ? null : parseRequest(text);
    emit({
      type: 'intent',
      planner: plannerId,
      intent: intent?.kind ?? 'model',
      description: intent ? describeIntent(intent) : `ask ${model?.id} to plan "${text}"`,
    });

    ({ env: auditEnv, own: ownEnv } = await openAuditEnvironment(options, stackRef ?? stack, config, cwd));
    redactor = createRedactor([...Object.values(LOCAL_S3_CREDENTIALS), ...targetSecrets(auditEnv)], envVars);
    if (intent?.kind === 'refuse') {
      outcome = { outcome: 'refused', message: intent.reason };
    } else {
      clients = options.clients ?? null;
      if (!clients) {
        clients = await connectAgentClients(options.mcpConfig ?? defaultMcpConfig(cwd, stackRef), {
          inheritEnv: !options.mcpConfig,
          env: envVars,
        });
        ownClients = true;
      }
      const gate = createPolicyGate({
        clients,
        stack,
        protectedStacks: config.protected,
        approve: options.approve,
        dryRun,
        maxCalls: options.maxCalls ?? 16,
        redactor,
        requestInfo: { request: text, requestedBy: options.actor, planner: plannerId },
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      });
      calls = gate.calls as AgentResult['calls'];
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
            })
          : await runRunbook(intent as Intent, {
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
    outcome = { outcome: 'failed', message: redactor.text(describeFailure(error)) };
  }

  const result: AgentResult = {
    ...base,
    planner: plannerId,
    intent: intent?.kind ?? (plannerId === 'runbook' ? 'unknown' : 'model'),
    ...outcome,
    calls: [...calls],
  };
  if (auditEnv) {
    const written = await recordAgentRequest(auditEnv, result, startedAt);
    if ('seq' in written) result.auditSeq = written.seq;
    else result.auditError = written.error;
  } else if (options.environment !== null) {
    result.auditError = 'the stack could not be opened, so no audit entry was written';
  }
  if (ownClients) await clients?.close?.();
  if (ownEnv) auditEnv?.close();
  emit({ type: 'done', result });
  return result;
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

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

async function openAuditEnvironment(
  options: AgentRequestOptions,
  stackRef: string,
  config: Config,
  cwd: string,
): Promise<{ env: Environment | null; own: boolean }> {
  if (options.environment !== undefined) return { env: options.environment, own: false };
  try {
    return { env: await openStack(stackRef, config, cwd), own: true };
  } catch {
    return { env: null, own: false };
  }
}

/** Values of the target that must never reach a model (the agent process may know them for the audit). */
function targetSecrets(env: Environment | null): string[] {
  if (!env) return [];
  const t = env.target;
  return [t.artifactsBucket, t.hostingBucket, t.stateBucket, t.endpoint, t.distributionId].filter(
    (v): v is string => typeof v === 'string',
  );
}

function describeFailure(error: unknown): string {
  if (isFrontendOpsError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
