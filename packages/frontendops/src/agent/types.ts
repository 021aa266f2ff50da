/** Shapes shared by the agent's planners, its gate, the CLI and the console. */
import type { Client } from '@modelcontextprotocol/client';
import type { ApprovalDecision, ApprovalRequest } from '../ports.ts';

export type { ApprovalDecision, ApprovalRequest };

/** Which planner turns words into tool calls. 'auto' = the model when FRONTENDOPS_MODEL is set, else the runbook. */
export type PlannerChoice = 'auto' | 'runbook' | 'model';

/** Already-connected MCP clients (e.g. in-process servers over InMemoryTransport). */
export interface AgentClients {
  infra: Client;
  git: Client;
  /** Closes whatever the clients hold (child processes, transports). */
  close?(): Promise<void>;
}

/** One tool call as the gate saw it: what was asked, whether it ran, and a short result summary. */
export interface ToolCallRecord {
  tool: string;
  args: Record<string, unknown>;
  /** 'ok' ran and succeeded; 'error' ran and the tool reported isError; 'refused' stopped by the gate; 'skipped' dry-run. */
  status: 'ok' | 'error' | 'refused' | 'skipped';
  /** One line, no secrets. */
  summary: string;
  durationMs: number;
}

export type AgentEvent =
  | { type: 'intent'; planner: string; intent: string; description: string }
  | { type: 'call'; tool: string; args: Record<string, unknown> }
  | { type: 'result'; call: ToolCallRecord }
  | { type: 'progress'; tool: string; progress: number; total?: number; message?: string }
  /** A call a dry run would make (not made). */
  | { type: 'plan-step'; tool: string; args: Record<string, unknown>; readOnly: boolean }
  | { type: 'approval'; request: ApprovalRequest; decision: ApprovalDecision }
  | { type: 'text'; text: string }
  | { type: 'done'; result: AgentResult };

export type AgentOutcome = 'succeeded' | 'noop' | 'answered' | 'planned' | 'refused' | 'declined' | 'failed';

/** What a planner (runbook or model) ends with: the outcome and what it did, in words and data. */
export interface PlannerOutcome {
  outcome: AgentOutcome;
  /** The final words for a person: a summary, an answer, or why not. */
  message: string;
  deployId?: string;
  commit?: string;
  tag?: string;
  /** The tag of a stopped change the run finished before its own (finishedFirstChange), made first. */
  finishedFirstTag?: string;
  filesChanged?: number;
  invalidationIds?: string[];
  siteUrl?: string;
  /** Read-only answers (status, history, plan), as structured data. */
  data?: Record<string, unknown>;
}

export interface AgentResult extends PlannerOutcome {
  request: string;
  actor: string;
  /** "runbook" or "model:<provider:model>". */
  planner: string;
  intent: string;
  calls: ToolCallRecord[];
  dryRun: boolean;
  /** Set when the audit entry could not be written (the request itself still happened). */
  auditError?: string;
  auditSeq?: number;
}
