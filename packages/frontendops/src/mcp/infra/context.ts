/**
 * What every infra tool shares: the MCP server, the stack opener, the handle signer, the secrecy
 * guard, approvals, and how a call becomes the RequestInfo recorded with a deployment.
 */
import type { McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { Config } from '../../config.ts';
import { formatAuditHead } from '../../contract/audit-head.ts';
import { approvalOf, type ToolName } from '../../contract/tools.ts';
import { deployArtifact } from '../../deploy/deploy.ts';
import type { DeploySummary } from '../../deploy/types.ts';
import { describePlan } from '../../engine/describe.ts';
import type { DeployPlan } from '../../engine/plan.ts';
import { noteLine } from '../../engine/text.ts';
import { FrontendOpsError, isFrontendOpsError } from '../../errors.ts';
import { rollbackPart, tagRequest } from '../../git/deploy-tag.ts';
import type { HiddenTarget } from '../../hidden-words.ts';
import type { ApprovalUsed, Approver } from '../../ports.ts';
import { forOperation, type Site } from '../../site.ts';
import { approvedByOf } from '../../state/approval-policy.ts';
import { assertApprovedChange, CHANGED_SINCE_APPROVED, type PlannedChange } from '../../state/approvals.ts';
import type { RequestInfo } from '../../state/records.ts';
import { issueReceipt, receiptKeyOnce } from '../receipts.ts';
import type { Secrecy } from '../secrecy.ts';
import {
  type ApprovalGateInput,
  type ApprovalOutcome,
  describeClient,
  requireApproval,
} from './approval-gate.ts';
import type { HandleSigner } from './handles.ts';
import type { StackOpener } from './stacks.ts';

export interface InfraToolContext {
  server: McpServer;
  config: Config;
  /** The stack tools act on when none is named; null when the server was started without one. */
  defaultStack: string | null;
  signer: HandleSigner;
  secrecy: Secrecy;
  lockWaitMs: number;
  /** How long a change waits for the CDN to serve it (ms); undefined: the engine's default. */
  verifyTimeoutMs: number | undefined;
  /** Opens a stack by name (default: the server's) for one call, and remembers its sensitive values. */
  open(stack: string | undefined): Promise<Site>;
  requestFor(
    args: { request?: string | undefined; requestedBy?: string | undefined; planner?: string | undefined },
    ctx: ServerContext,
    fallback: string,
  ): RequestInfo;
  /** The human approval a change of a protected stack needs (server, secret, clock and config bound). */
  approve(
    ctx: ServerContext,
    site: Site,
    change: Pick<ApprovalGateInput, 'action' | 'deployId' | 'summary' | 'tool' | 'change' | 'plan'>,
  ): Promise<ApprovalOutcome>;
  /**
   * The plan a deploy of app@commit would carry out now (changes nothing), and the stopped change
   * of that release it would finish instead, if any (DeploySummary finishes), or of another
   * release it would finish first (finishesFirst).
   */
  dryRun(
    site: Site,
    app: string,
    commit: string,
    request: RequestInfo,
  ): Promise<Pick<DeploySummary, 'plan' | 'finishes' | 'finishesFirst'>>;
  /**
   * What create_deploy_tag takes from a finished deployment besides its values: the receipt that
   * vouches for it (mcp/receipts.ts), and the words of the request that made it as its tag carries
   * them, the stack's sensitive values hidden (tagRequest: the git server, which knows no stack,
   * cannot hide them, and every later model reads the tags). Both null for a no-op, which made no
   * deployment (its planned id was never recorded) and so has none to tag, and for one that failed
   * (the CDN did not serve it): a deploy tag records a release made live.
   */
  tagging(
    change: ReceiptFields,
    target: HiddenTarget,
  ): Promise<{ receipt: string | null; request: string | null }>;
  /**
   * Loads the receipt key, refusing one others could read or replace (mcp/receipts.ts), before a
   * change: a change that went live could not be vouched for afterwards, so it is refused first.
   */
  receiptKeyUsable(): Promise<void>;
  /** A note for the server's operator (its stderr by default): a change told to stop, and what it left. */
  notice(text: string): void;
  now(): number;
}

/**
 * The changes whose answer carries a receipt to tag (a release made live for everyone), and which
 * so load the receipt key before they start (run_sync too: its deploy's receipt comes with
 * invalidate_cdn). A canary's start or abort makes nothing live for everyone, carries none, and is
 * not held up by the key (an abort is what ends a bad canary).
 */
export const ISSUES_RECEIPT: ReadonlySet<ToolName> = new Set<ToolName>([
  'invalidate_cdn',
  'rollback',
  'promote_release',
  'promote_canary',
]);

/**
 * What a deployment's receipt vouches for. A rollback's names what was live before it: a summary's
 * plan says so, a record (run_sync's) says it itself. `kind` is the change's or its record's (a
 * promote's receipt is a deploy's: rollbackPart).
 */
export type ReceiptFields = Pick<
  DeploySummary,
  'stack' | 'deployId' | 'commit' | 'artifactDigest' | 'auditHead'
> & {
  /** Who asked, in what words: the tag's words (tagRequest). */
  request: Parameters<typeof tagRequest>[0];
  kind: string;
  noop?: boolean;
  outcome: string;
} & ({ plan: Pick<DeploySummary['plan'], 'fromCommit'> } | { fromCommit: string | null });

export function createInfraToolContext(input: {
  server: McpServer;
  config: Config;
  defaultStack: string | null;
  signer: HandleSigner;
  secret: Buffer;
  secrecy: Secrecy;
  opener: StackOpener;
  now: () => number;
  approver?: Approver;
  env?: NodeJS.ProcessEnv;
  lockWaitMs: number;
  verifyTimeoutMs?: number;
  notice?: (text: string) => void;
}): InfraToolContext {
  const { server, secrecy, now } = input;
  // The user's receipt key, loaded (or made) on the first receipt.
  const receiptKey = receiptKeyOnce(input.env ?? process.env);
  return {
    server,
    config: input.config,
    defaultStack: input.defaultStack,
    signer: input.signer,
    secrecy,
    lockWaitMs: input.lockWaitMs,
    verifyTimeoutMs: input.verifyTimeoutMs,
    now,
    notice: input.notice ?? ((text) => void process.stderr.write(noteLine(text))),
    tagging: async (change, target) =>
      change.noop || change.outcome !== 'succeeded'
        ? { receipt: null, request: null }
        : {
            receipt: issueReceipt(await receiptKey(), {
              stack: change.stack,
              deployId: change.deployId,
              commit: change.commit,
              artifactDigest: change.artifactDigest,
              auditHead: change.auditHead ? formatAuditHead(change.auditHead) : null,
              ...rollbackPart({
                ...change,
                fromCommit: 'fromCommit' in change ? change.fromCommit : change.plan.fromCommit,
              }),
            }),
            request: tagRequest(change.request, target),
          },
    async receiptKeyUsable() {
      await receiptKey();
    },
    async open(stack) {
      const name = stack ?? input.defaultStack;
      if (!name) {
        throw new FrontendOpsError(
          'BAD_INPUT',
          'This server was started without a stack, and the call names none. Pass "stack" with the name of a ' +
            'configured stack, or start the server with --stack <name> (frontendops.config.json lists the stacks).',
        );
      }
      const site = await input.opener(name).catch((error: unknown) => {
        // The CLI's advice (a path to an outputs file, the local environment) is not a client's to
        // follow: a client names a stack; the server's operator configures them.
        const known = isFrontendOpsError(error, 'NOT_FOUND') ? error.details?.known : undefined;
        if (!Array.isArray(known)) throw error;
        throw new FrontendOpsError(
          'NOT_FOUND',
          `Unknown stack "${name.slice(0, 100)}" (this server knows: ${known.join(', ') || 'none'}). Nothing was changed. ` +
            `Pass one of those names as "stack"; another stack is added by the server's operator, in frontendops.config.json.`,
        );
      });
      secrecy.learnTarget(site.target);
      // Each call is told its own waits, though the server keeps the stack open for every call.
      return forOperation(site);
    },
    requestFor(args, ctx, fallback) {
      const client = describeClient(server, ctx).name;
      return {
        text: args.request ?? fallback,
        // Who asked is what the client says: recorded as its claim, beside the client's own name.
        actor: args.requestedBy ? `${args.requestedBy} (as claimed by ${client})` : `${client} (MCP)`,
        planner: args.planner ?? `mcp:${client}`,
        at: new Date(now()).toISOString(),
      };
    },
    approve: (ctx, site, change) =>
      requireApproval({
        server,
        ctx,
        site,
        secret: input.secret,
        now,
        ...(input.approver ? { approver: input.approver } : {}),
        ...(input.env ? { env: input.env } : {}),
        ...change,
      }),
    dryRun: async (site, app, commit, request) => {
      const { plan, finishes, finishesFirst } = await deployArtifact(site, {
        app,
        commit,
        request,
        dryRun: true,
      });
      return { plan, ...(finishes ? { finishes } : {}), ...(finishesFirst ? { finishesFirst } : {}) };
    },
  };
}

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

/** Why a change told to stop stopped, as the engine keeps it with its pending plan (stoppedBy). */
const STOPPED_ON_REQUEST =
  'The MCP client that asked for it cancelled the call or went away (or the server was stopped) before it went live; nothing was made live.';

/**
 * Makes a change stop at the engine's next safe point once `signal` aborts — the call's client sent
 * notifications/cancelled or went away (its transport closed, the server's stdin ended), or the server
 * is stopping: the same stop the CLI's Ctrl-C gives a deploy, and what the engine's event hook is for
 * (as refuseOtherPlans): at the plan, before anything is written, or after a copy of a file no visitor
 * is served yet (every file of an atomic release; an in-place deploy's hashed assets). The engine then
 * keeps its plan pending with why it stopped and lets its lock go; a later run of the same change
 * reuses what was copied. Past that point (visible files being replaced, the switch, the prune) it
 * goes on to its switch, so no site is left half-switched; a change that went live is finished by
 * the next run (invalidate_cdn, or any deploy).
 */
export function stopAtSafePoint<E extends { type: string; group?: string }>(
  signal: AbortSignal,
  site: Pick<Site, 'mode'>,
  onEvent: (event: E) => void,
): (event: E) => void {
  return (event) => {
    onEvent(event);
    if (!signal.aborted) return;
    const beforeAnyVisibleWrite =
      event.type === 'plan' || (event.type === 'copy' && (site.mode === 'atomic' || event.group === 'asset'));
    if (beforeAnyVisibleWrite) throw new FrontendOpsError('INTERRUPTED', STOPPED_ON_REQUEST);
  };
}

/** Changes of this process told to stop, by stack, until they have stopped (see stoppable). */
const stopping = new Map<string, Set<Promise<void>>>();

/**
 * Runs one change of a call. Once the call's `signal` aborts, the operator is told, and until the
 * change has stopped (stopAtSafePoint) a status read of its stack waits for it (changesStopped), so
 * what the status says is what the stop left; then the operator is told what it left.
 */
export async function stoppable<T>(
  t: Pick<InfraToolContext, 'notice'>,
  signal: AbortSignal,
  change: {
    stack: string;
    /** e.g. "run_sync of sophia-dashboard@3f2c1a9 on prod" */
    what: string;
    left: (outcome: { result: T } | { error: unknown }) => string;
  },
  run: () => Promise<T>,
): Promise<T> {
  const running = run();
  const settled = running.then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  const stop = () => {
    t.notice(
      `${change.what}: its client cancelled the call or went away (or the server is stopping); it stops at its next safe point (before its switch, if it has not switched yet).`,
    );
    const waiting = stopping.get(change.stack) ?? new Set<Promise<void>>();
    stopping.set(change.stack, waiting);
    const stopped: Promise<void> = settled
      .then((outcome) => t.notice(change.left(outcome)))
      .finally(() => {
        waiting.delete(stopped);
        if (waiting.size === 0 && stopping.get(change.stack) === waiting) stopping.delete(change.stack);
      });
    waiting.add(stopped);
  };
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  try {
    return await running;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** Resolves once every change of this stack that was told to stop has stopped. */
export async function changesStopped(stack: string): Promise<void> {
  for (let waiting = stopping.get(stack); waiting?.size; waiting = stopping.get(stack)) {
    await Promise.allSettled([...waiting]);
  }
}

/** What a change that ended with `error` after it was told to stop left, in one sentence. */
export function leftByError(what: string, error: unknown): string {
  return isFrontendOpsError(error, 'INTERRUPTED')
    ? `${what} stopped before the switch: nothing went live. Running the same request again does it (what was copied is reused).`
    : `${what} stopped: ${isFrontendOpsError(error) ? `${error.code}: ${error.message}` : 'it failed (see the log above)'}`;
}

/** The options an approved change is run with: a dry run first, then the real one under the gate. */
export interface ApprovedRunOptions {
  dryRun?: boolean;
  waitMs?: number;
  verifyTimeoutMs?: number;
  authorize?: (plan: DeployPlan) => Promise<ApprovalUsed | undefined>;
  onEvent?: (event: { type: string; plan?: DeployPlan }) => void;
}

type Approved = Extract<ApprovalOutcome, { approved: true }>;
/**
 * A no-op changes nothing, so there is nothing to approve; the run under the lock only asks when it
 * plans a change after all (what is live changed since the dry run `planned`: a canary aborted
 * meanwhile, say; a pin set since, which a promote of the live release would lift), which nobody was
 * shown, let alone approved: refused, nothing changed, in the words assertApprovedChange has for it.
 */
const nothingToApprove = (planned: PlannedChange): Approved => ({
  approved: true,
  by: 'nobody',
  via: 'unprotected',
  use: async (plan) => {
    assertApprovedChange(planned, plan);
    throw new FrontendOpsError('CONFLICT', CHANGED_SINCE_APPROVED);
  },
});

/**
 * One approved change, the way every changing tool but run_sync (whose plan is its handle) goes:
 * plan it (a dry run), have exactly that plan approved, then carry it out under the deploy lock,
 * using the approval there and refusing any other plan. Not approved: the gate's answer to return.
 */
export async function runApproved<S extends DeploySummary>(
  t: Pick<InfraToolContext, 'approve' | 'lockWaitMs' | 'verifyTimeoutMs' | 'notice' | 'receiptKeyUsable'>,
  ctx: ServerContext,
  site: Site,
  spec: {
    /** The tool making the change: the contract says which approval it needs. */
    tool: ToolName;
    run: (options: ApprovedRunOptions) => Promise<S>;
    /** What the person is asked to approve; default: the plan in one sentence. */
    summary?: (planned: S) => string;
    /** What the approval names; default: the planned app@commit. */
    change?: (planned: S) => ApprovalGateInput['change'];
    /** A plan that copies nothing still changes something (a promote of the live release lifts the pin). */
    changesWhenNoop?: boolean;
  },
): Promise<
  | { approved: false; result: Extract<ApprovalOutcome, { approved: false }>['result'] }
  | { approved: true; summary: S; gate: Approved }
> {
  if (ISSUES_RECEIPT.has(spec.tool)) await t.receiptKeyUsable();
  const planned = await spec.run({ dryRun: true });
  const gate =
    planned.noop && !spec.changesWhenNoop
      ? nothingToApprove(planned.plan)
      : await t.approve(ctx, site, {
          action: approvalOf(spec.tool),
          deployId: planned.deployId,
          summary: spec.summary?.(planned) ?? describePlan(planned.plan),
          change: spec.change?.(planned) ?? { app: planned.app, commit: planned.commit },
          plan: planned.plan,
          tool: spec.tool,
        });
  if (!gate.approved) return { approved: false, result: gate.result };
  const { signal } = ctx.mcpReq;
  const what = `${spec.tool} of ${planned.app}@${planned.commit.slice(0, 7)} on ${planned.stack}`;
  const summary = await stoppable(
    t,
    signal,
    {
      stack: site.target.stack,
      what,
      left: (outcome) =>
        'result' in outcome
          ? `${what} was past its switch when it was asked to stop, and finished: outcome ${outcome.result.outcome}.`
          : leftByError(what, outcome.error),
    },
    () =>
      spec.run({
        waitMs: t.lockWaitMs,
        ...(t.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: t.verifyTimeoutMs } : {}),
        authorize: gate.use,
        onEvent: stopAtSafePoint(signal, site, refuseOtherPlans(planned.deployId)),
      }),
  );
  return { approved: true, summary, gate };
}

/**
 * The fields every change result shares (the contract's changeResult, plus what was verified and
 * the audit head), read from the engine's summary and the approval that let it run.
 */
export function changeResultOf(
  summary: Pick<
    DeploySummary,
    | 'deployId'
    | 'stack'
    | 'app'
    | 'commit'
    | 'artifactDigest'
    | 'copied'
    | 'unchanged'
    | 'pruned'
    | 'retained'
    | 'outcome'
    | 'verification'
    | 'auditHead'
    | 'rolledBackTo'
  >,
  gate: { by: string; via: string; note?: string },
) {
  return {
    deployId: summary.deployId,
    stack: summary.stack,
    app: summary.app,
    commit: summary.commit,
    artifactDigest: summary.artifactDigest,
    copied: summary.copied,
    unchanged: summary.unchanged,
    pruned: summary.pruned,
    retained: summary.retained,
    outcome: summary.outcome,
    verification: summary.verification && {
      ok: summary.verification.ok,
      detail: summary.verification.detail,
    },
    approvedBy: approvedByOf(gate),
    auditHead: summary.auditHead ?? null,
    rolledBackTo: summary.rolledBackTo ?? null,
  };
}

/**
 * What a change that makes a retained or published release live answers (the contract's
 * releaseChange: rollback, promote_release): the change's fields, its receipt and words for the deploy tag,
 * what was live before it and what was invalidated.
 */
export async function releaseChangeOf(
  t: InfraToolContext,
  site: Site,
  summary: DeploySummary,
  gate: { by: string; via: string; note?: string },
) {
  return {
    ...changeResultOf(summary, gate),
    ...(await t.tagging(summary, site.target)),
    fromCommit: summary.plan.fromCommit,
    invalidationIds: summary.invalidation?.ids ?? [],
    paths: summary.invalidation?.paths ?? [],
  };
}
