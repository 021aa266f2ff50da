/**
 * Human approval for protected environments. The agent's Approver is asked once per high-impact call
 * (by the policy gate); the infra server's own approval question (an MCP elicitation during run_sync or
 * rollback) is answered from that same decision, so a person is asked once and the server still gets
 * an explicit answer. Without --yes and without a terminal the answer is "no", saying how to approve.
 */
import { createInterface } from 'node:readline/promises';
import type { Client, ElicitRequest, ElicitResult } from '@modelcontextprotocol/client';
import type { ApprovalDecision, ApprovalRequest } from '../ports.ts';

export type ApproveFn = (request: ApprovalRequest) => Promise<ApprovalDecision>;

export interface CliApproverOptions {
  yes: boolean;
  /** Ask on this terminal; default: when stdin and stderr are TTYs. */
  interactive?: boolean;
  /** Who is asked (recorded with the decision); default the OS user. */
  actor: string;
  /** Reads one answer; default readline on stdin/stderr. */
  ask?: (question: string) => Promise<string>;
}

export const APPROVE_HINT = 'Run it again with --yes to approve, or from a terminal to be asked.';

export function createCliApprover(options: CliApproverOptions): ApproveFn {
  const interactive = options.interactive ?? Boolean(process.stdin.isTTY && process.stderr.isTTY);
  return async (request) => {
    if (options.yes) return { approved: true, by: options.actor, via: '--yes' };
    if (!interactive) return { approved: false, by: 'nobody', via: 'no terminal to ask and no --yes' };
    const ask = options.ask ?? askOnTerminal;
    const answer = await ask(`Approve: ${request.summary}\nProceed on ${request.stack}? [y/N] `);
    return { approved: /^y(es)?$/i.test(answer.trim()), by: options.actor, via: 'terminal prompt' };
  };
}

/**
 * Fills an elicitation form from a decision: booleans say yes/no, a choice picks its approve-like
 * option, free text gets who approved. Only form mode is answered; anything else is declined.
 */
export function answerElicitation(params: ElicitRequest['params'], decision: ApprovalDecision): ElicitResult {
  if (!decision.approved) return { action: 'decline' };
  if ('mode' in params && params.mode === 'url') return { action: 'decline' };
  const schema = (params as { requestedSchema?: { properties?: Record<string, PropertySchema> } })
    .requestedSchema;
  const content: Record<string, string | number | boolean | string[]> = {};
  for (const [key, property] of Object.entries(schema?.properties ?? {})) {
    const value = fillProperty(key, property, decision);
    if (value !== undefined) content[key] = value;
  }
  return { action: 'accept', content };
}

/** Registers the handler that answers elicitation/create requests on one client. */
export function handleElicitations(
  client: Client,
  respond: (params: ElicitRequest['params']) => Promise<ElicitResult>,
): void {
  client.setRequestHandler('elicitation/create', (request) => respond(request.params));
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

interface PropertySchema {
  type?: string;
  enum?: unknown[];
  oneOf?: Array<{ const?: unknown }>;
  default?: unknown;
}

function fillProperty(key: string, property: PropertySchema, decision: ApprovalDecision) {
  const options = (property.enum ?? property.oneOf?.map((o) => o.const) ?? []).filter(
    (o): o is string => typeof o === 'string',
  );
  if (options.length > 0)
    return options.find((o) => /approve|accept|yes|confirm|proceed/i.test(o)) ?? options[0];
  if (property.type === 'boolean') return true;
  if (property.type === 'string') {
    if (/reason|comment|note/i.test(key)) return `approved via ${decision.via}`;
    return decision.by;
  }
  if ((property.type === 'number' || property.type === 'integer') && typeof property.default === 'number') {
    return property.default;
  }
  return undefined;
}

async function askOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}
