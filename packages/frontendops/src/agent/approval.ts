/**
 * A person's approval, asked by the agent's gate before a change of a protected environment (the
 * infra server then asks for its own, stronger proof; see mcp/infra/approval-gate.ts). The server's
 * elicitation is answered from the same decision, so a person is asked once. `--yes` approves only
 * the change the request's words name: its kind (a deploy request never approves a rollback), its
 * commit ("the latest" is what latest_commit answered) and a canary's share; anything else is asked
 * at the terminal, or refused without one.
 */
import type { Client, ElicitRequest, ElicitResult } from '@modelcontextprotocol/client';
import type { ApprovalAction, ApprovalDecision, ApprovalRequest } from '../ports.ts';
import { isYes, YES_NO } from '../terminal-ask.ts';

/**
 * `asked`: the changes the request's words name (intents.ts approvableActions), decided without a
 * model; `departs`: how this change departs from what else they name (another commit, another
 * canary share), when it does.
 */
export type ApproveFn = (
  request: ApprovalRequest,
  context: { asked: readonly ApprovalAction[]; departs?: string },
) => Promise<ApprovalDecision>;

export interface CliApproverOptions {
  yes: boolean;
  /** Ask at the terminal (stdin and stderr are TTYs). */
  interactive: boolean;
  /** Who is asked (recorded with the decision). */
  actor: string;
  /** Reads one answer. */
  ask: (question: string) => Promise<string>;
}

export const APPROVE_HINT = 'Run it again with --yes to approve, or from a terminal to be asked.';

export function createCliApprover(options: CliApproverOptions): ApproveFn {
  return async (request, { asked, departs }) => {
    if (options.yes && asked.includes(request.action) && !departs) {
      return {
        approved: true,
        by: options.actor,
        via: `--yes (for the ${request.action} this request asked for)`,
      };
    }
    if (!options.interactive) {
      const why = !options.yes
        ? 'no terminal to ask and no --yes'
        : !asked.includes(request.action)
          ? `--yes approves only ${asked.length ? `a ${asked.join(' or ')}` : 'the change the request names, and it names none'}; this ${request.action} was not asked for`
          : `--yes approves only the change the request names: ${departs}`;
      return { approved: false, by: 'nobody', via: why, ...(options.yes ? {} : { next: APPROVE_HINT }) };
    }
    const note = departs ? `Note: ${departs}.\n` : '';
    const answer = await options.ask(
      `Approve: ${request.summary}\n${note}Proceed on ${request.stack}?${YES_NO}`,
    );
    return { approved: isYes(answer), by: options.actor, via: 'terminal prompt' };
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
