/**
 * What every infra tool shares: the MCP server, the stack opener, the handle signer, the secrecy
 * guard, and how a call becomes the RequestInfo recorded with a deployment.
 */
import type {
  CallToolResult,
  InputRequiredResult,
  McpServer,
  ServerContext,
} from '@modelcontextprotocol/server';
import type { Config } from '../config.ts';
import { deployArtifact } from '../deploy/deploy.ts';
import type { DeployPlan } from '../engine/plan.ts';
import type { Environment } from '../environment.ts';
import { FrontendOpsError } from '../errors.ts';
import type { Approver } from '../ports.ts';
import type { RequestInfo } from '../state/records.ts';
import {
  type ApprovalGateInput,
  type ApprovalOutcome,
  describeClient,
  requireApproval,
} from './infra-approval-gate.ts';
import type { HandleSigner } from './infra-handles.ts';
import type { Secrecy } from './infra-secrecy.ts';
import type { StackOpener } from './infra-stacks.ts';

export interface InfraToolContext {
  server: McpServer;
  config: Config;
  defaultStack: string;
  signer: HandleSigner;
  lockWaitMs: number;
  isProtected(stack: string): boolean;
  /** Opens a stack by name (default: the server's) and remembers its sensitive values. */
  open(stack: string | undefined): Promise<Environment>;
  /** Wraps a handler: thrown errors become isError results, and nothing sensitive leaves. */
  guarded<A>(
    handler: (args: A, ctx: ServerContext) => Promise<CallToolResult | InputRequiredResult>,
  ): (args: A, ctx: ServerContext) => Promise<CallToolResult | InputRequiredResult>;
  requestFor(
    args: { request?: string; requestedBy?: string; planner?: string },
    ctx: ServerContext,
    fallback: string,
  ): RequestInfo;
  /** The human approval a change of a protected stack needs (server, secret, clock and config bound). */
  approve(
    ctx: ServerContext,
    env: Environment,
    change: Pick<ApprovalGateInput, 'action' | 'deployId' | 'summary' | 'tool'>,
  ): Promise<ApprovalOutcome>;
  /** The plan a deploy of app@commit would carry out now (changes nothing). */
  dryRun(env: Environment, app: string, commit: string, request: RequestInfo): Promise<DeployPlan>;
}

export function createInfraToolContext(input: {
  server: McpServer;
  config: Config;
  defaultStack: string;
  signer: HandleSigner;
  secret: Buffer;
  secrecy: Secrecy;
  opener: StackOpener;
  now: () => number;
  approver?: Approver;
  lockWaitMs: number;
}): InfraToolContext {
  const { server, secrecy, now } = input;
  return {
    server,
    config: input.config,
    defaultStack: input.defaultStack,
    signer: input.signer,
    lockWaitMs: input.lockWaitMs,
    isProtected: (stack) => input.config.protected.includes(stack),
    async open(stack) {
      const env = await input.opener(stack ?? input.defaultStack);
      secrecy.learn(env.target);
      return env;
    },
    guarded: (handler) => async (args, ctx) => {
      try {
        return secrecy.scrub(await handler(args, ctx));
      } catch (error) {
        return secrecy.scrub(secrecy.failure(error));
      }
    },
    requestFor(args, ctx, fallback) {
      const client = describeClient(server, ctx).name;
      return {
        text: args.request ?? fallback,
        actor: args.requestedBy ?? `${client} (MCP)`,
        planner: args.planner ?? `mcp:${client}`,
        at: new Date(now()).toISOString(),
      };
    },
    approve: (ctx, env, change) =>
      requireApproval({
        server,
        ctx,
        env,
        secret: input.secret,
        now,
        ...(input.approver ? { approver: input.approver } : {}),
        protectedStacks: input.config.protected,
        ...change,
      }),
    dryRun: async (env, app, commit, request) =>
      (await deployArtifact(env, { app, commit, request, dryRun: true })).plan,
  };
}

export const READ_ONLY = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

export const STALE =
  'The live release changed since this plan; ask for a new deploy target (call get_deploy_target again). Nothing was changed by this call.';

/** Makes the engine stop before any change when, under the lock, it plans something else. */
export function refuseOtherPlans(deployId: string) {
  return (event: { type: string; plan?: DeployPlan }) => {
    if (event.type === 'plan' && event.plan && event.plan.deployId !== deployId) {
      throw new FrontendOpsError('CONFLICT', STALE);
    }
  };
}

export const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
