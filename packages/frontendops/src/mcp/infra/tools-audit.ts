/**
 * record_request: the agent's audit entry for one request, written by the server that holds the
 * stack (the agent itself never opens it). What the client says about who asked is kept as its
 * claim; the server adds the client as it saw it.
 */
import { appendAudit } from '../../state/audit.ts';
import { registerContractTool, toolSuccess } from '../tool-result.ts';
import { describeClient } from './approval-gate.ts';
import type { InfraToolContext } from './context.ts';

export const AGENT_AUDIT_TYPE = 'agent-request';

export function registerAuditTool(t: InfraToolContext): void {
  const { server, open, secrecy } = t;

  registerContractTool(
    server,
    'record_request',
    async ({ stack, ...entry }, ctx) => {
      const site = await open(stack);
      const client = describeClient(server, ctx);
      const written = await appendAudit(site.state, site.target.statePrefix, site.locker, {
        type: AGENT_AUDIT_TYPE,
        data: {
          ...entry,
          request: { text: entry.request, claimedBy: entry.requestedBy ?? null, planner: entry.planner },
          requestedBy: undefined,
          client: { name: client.name, claimed: true },
        },
        at: new Date(t.now()),
      });
      return toolSuccess(
        'record_request',
        { seq: written.seq, hash: written.hash },
        `Recorded as audit entry #${written.seq}.`,
      );
    },
    secrecy.guard,
  );
}
