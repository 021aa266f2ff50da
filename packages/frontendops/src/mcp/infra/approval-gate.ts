/**
 * The approval gate in front of run_sync and rollback on protected stacks. In order:
 * 1. an approval already recorded for this deploy id (`frontendops approve`) is accepted;
 * 2. a client that declared the elicitation capability is asked — the SDK's input-required
 *    round trip (pushed as elicitation/create to 2025-era clients); the answer comes back on the
 *    retried call together with a server-signed requestState, so an answer only counts for the
 *    question this server asked about this deploy id;
 * 3. an Approver given to the server (e.g. the console's button) is asked;
 * 4. otherwise the call is refused, saying how a person approves it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  type ClientCapabilities,
  type Implementation,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { FrontendOpsError } from '../../errors.ts';
import type { Approver } from '../../ports.ts';
import type { Site } from '../../site.ts';
import { readApproval, recordApproval, recordDecline } from '../../state/approvals.ts';
import { toolFailure } from '../tool-result.ts';

export interface ApprovalGateInput {
  server: McpServer;
  ctx: ServerContext;
  site: Site;
  action: 'deploy' | 'rollback';
  deployId: string;
  /** What would happen, naming no bucket: "sync sophia-dashboard@3f2c1a9 to … : 40 files to copy …" */
  summary: string;
  /** The tool to call again after approving, for the refusal message. */
  tool: string;
  secret: Buffer;
  approver?: Approver;
  now: () => number;
}

export type ApprovalOutcome =
  | { approved: true; by: string; via: string }
  | { approved: false; result: CallToolResult | InputRequiredResult };

const ANSWER_KEY = 'approval';

export async function requireApproval(input: ApprovalGateInput): Promise<ApprovalOutcome> {
  const { site, deployId, action, summary, now } = input;
  const stack = site.target.stack;
  if (!site.protected) return { approved: true, by: 'nobody', via: 'unprotected' };

  const recorded = await readApproval(site, deployId, now);
  if (recorded) return { approved: true, by: recorded.approvedBy, via: recorded.via };

  const client = describeClient(input.server, input.ctx);
  const token = approvalToken(input.secret, stack, deployId);
  const answer = inputResponse(input.ctx.mcpReq.inputResponses, ANSWER_KEY);
  if (answer.kind === 'elicit') {
    if (!sameToken(String(input.ctx.mcpReq.requestState() ?? ''), token)) {
      return refuse(
        new FrontendOpsError(
          'DENIED',
          `The approval answer does not belong to this deploy of ${stack} (it carries no matching request state). Nothing was changed. Call ${input.tool} again and answer the approval question it asks.`,
        ),
      );
    }
    const content = answer.content ?? {};
    const by = nameOf(content.approver) ?? `the user of ${client.name}`;
    const decision = { deployId, action, summary, by, via: 'elicitation', now };
    if (answer.action === 'accept' && content.confirm !== false) {
      await recordApproval(site, decision);
      return { approved: true, by, via: 'elicitation' };
    }
    await recordDecline(site, decision);
    return refuse(
      new FrontendOpsError(
        'DENIED',
        `Not approved: "${summary}" was declined by ${by}${answer.action === 'cancel' ? ' (cancelled)' : ''}. Nothing was changed.`,
      ),
    );
  }

  if (client.canElicit) {
    return {
      approved: false,
      result: inputRequired({
        inputRequests: {
          [ANSWER_KEY]: inputRequired.elicit({
            mode: 'form',
            message: `${stack} is a protected environment. Approve this ${action}? ${summary} (deploy id ${deployId}).`,
            requestedSchema: {
              type: 'object',
              properties: {
                confirm: {
                  type: 'boolean',
                  title: 'Approve',
                  description: `Yes: ${action === 'deploy' ? 'sync' : 'roll back'} ${stack} as described.`,
                },
                approver: {
                  type: 'string',
                  title: 'Your name',
                  description: 'Recorded in the audit log as the approver.',
                  maxLength: 100,
                },
              },
            },
          }),
        },
        requestState: token,
      }),
    };
  }

  if (input.approver) {
    const decision = await input.approver.approve({ action, stack, summary });
    const record = { deployId, action, summary, by: decision.by, via: `approver:${decision.via}`, now };
    if (decision.approved) {
      await recordApproval(site, record);
      return { approved: true, by: decision.by, via: record.via };
    }
    await recordDecline(site, record);
    return refuse(
      new FrontendOpsError(
        'DENIED',
        `Not approved: "${summary}" was declined by ${decision.by}. Nothing was changed.`,
      ),
    );
  }

  return refuse(
    new FrontendOpsError(
      'APPROVAL_REQUIRED',
      `${stack} is a protected environment: "${summary}" needs a human approval, and this MCP client ` +
        `(${client.name}) cannot ask for one (it did not declare the elicitation capability). Nothing was changed. ` +
        `A person with access to the stack approves it in a terminal with \`frontendops approve ${deployId} --stack ${stack}\`; ` +
        `then call ${input.tool} again with the same arguments. The approval is for this plan only and expires after an hour.`,
    ),
  );
}

/** Which client is calling and whether it can answer elicitation requests (per request on the 2026 era). */
export function describeClient(server: McpServer, ctx: ServerContext): { name: string; canElicit: boolean } {
  const envelope = (ctx.mcpReq.envelope ?? {}) as Record<string, unknown>;
  const capabilities = (envelope[CLIENT_CAPABILITIES_META_KEY] ?? server.server.getClientCapabilities()) as
    | ClientCapabilities
    | undefined;
  const info = (envelope[CLIENT_INFO_META_KEY] ?? server.server.getClientVersion()) as
    | Implementation
    | undefined;
  return {
    name: nameOf(info?.name) ?? 'an MCP client',
    canElicit: Boolean(capabilities?.elicitation),
  };
}

const refuse = (error: FrontendOpsError): ApprovalOutcome => ({
  approved: false,
  result: toolFailure(error),
});

const approvalToken = (secret: Buffer, stack: string, deployId: string) =>
  createHmac('sha256', secret).update(`approval\n${stack}\n${deployId}`).digest('base64url');

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A display name from an untrusted value: printable, short, or nothing. */
function nameOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = value
    .replace(/[^\p{L}\p{N} @._'()-]/gu, '')
    .trim()
    .slice(0, 100);
  return clean === '' ? undefined : clean;
}
