/**
 * The seed's three deploy steps: get_deploy_target (plan + signed handle) → run_sync (by handle,
 * approval on protected stacks, refused when the plan went stale) → invalidate_cdn (invalidate,
 * verify, record).
 */

import { approvalOf } from '../../contract/tools.ts';
import type { DeployEvent } from '../../deploy/apply.ts';
import { finishedFirstOnRecord } from '../../deploy/apply.ts';
import { type DeploySummary, deployArtifact, finishSyncedDeploy } from '../../deploy/deploy.ts';
import { pinRefusalAhead } from '../../deploy/pin-ahead.ts';
import { resolvePublishedCommit } from '../../deploy/publish.ts';
import { NOT_SWITCHED_BACK, switchedBack } from '../../deploy/switch-back-words.ts';
import { changeNoun, describePlan, finishedFirstSentence } from '../../engine/describe.ts';
import type { DeployPlan } from '../../engine/plan.ts';
import { capitalise } from '../../engine/text.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../../errors.ts';
import { readPlanContents } from '../../read/contents.ts';
import { toPlanView } from '../../read/views.ts';
import type { Site } from '../../site.ts';
import { approvalInForce } from '../../state/approval-in-force.ts';
import { adoptionWords, approvedByOf } from '../../state/approval-policy.ts';
import { registerContractTool, toolSuccess } from '../tool-result.ts';
import {
  type InfraToolContext,
  leftByError,
  refuseOtherPlans,
  STALE,
  stopAtSafePoint,
  stoppable,
} from './context.ts';

export function registerSyncTools(t: InfraToolContext): void {
  const { server, config, open, requestFor, dryRun, signer, lockWaitMs, secrecy, tagging } = t;
  const guard = secrecy.guard;

  registerContractTool(
    server,
    'get_deploy_target',
    async ({ stack, app = config.app, commit }, ctx) => {
      const site = await open(stack);
      const full = await resolvePublishedCommit(site.artifacts, app, commit);
      const planned = await dryRun(site, app, full, requestFor({}, ctx, 'get deploy target'));
      const { plan, finishes, finishesFirst } = planned;
      // A deploy past the pin would be refused at run_sync: say so now, with the ways forward.
      // Held to the chain first: the pin's words are told as the audit log records them, or refused.
      // A stopped rollback the run finishes replaces the pin with its own, as the run judges it.
      const refusal = await pinRefusalAhead(site, { kind: plan.kind, commit: full, ...planned });
      if (refusal) throw refusal;
      // This build live is not "nothing to do" while the change that made it live (a deploy, a
      // rollback…) waits to be verified and recorded, stopped after its switch: as the dry run finds it,
      // by the rule the run finishes it by, the handle names that change, and run_sync → invalidate_cdn
      // finish it, as `frontendops deploy` would.
      const deployId = finishes?.deployId ?? plan.deployId;
      const issued = signer.issue({
        // The name this server opened the stack by: an alias that follows the bucket's marker opens
        // the environment under the marker's name, which this server may not know (run_sync opens it).
        stack: stack ?? t.defaultStack ?? plan.stack,
        app: plan.app,
        commit: plan.commit,
        deployId,
        artifactDigest: plan.artifactDigest,
      });
      const view = {
        ...toPlanView(plan, site.protected, { finishes, finishesFirst }),
        contents: await readPlanContents(site, plan),
        ...(finishes ? { deployId, noop: false } : {}),
      };
      // Finishing makes nothing live that is not live already: nothing to approve.
      const approvalRequired = site.protected && !plan.noop;
      // What its approval would adopt, said with the plan: whoever is asked to approve it sees it. A
      // recorded policy that cannot be read is run_sync's to refuse, saying so; the plan is still told.
      const adopts = approvalRequired
        ? await approvalInForce(site).then(adoptionWords, (error: unknown) => {
            if (isFrontendOpsError(error, 'TAMPERED')) return null;
            throw error;
          })
        : null;
      return toolSuccess(
        'get_deploy_target',
        { ...view, handle: issued.handle, expiresAt: issued.expiresAt, approvalRequired, adopts },
        // An app's name is written as it is (lower case), never capitalised as a sentence's first word.
        `${view.description.startsWith(`${plan.app}@`) ? view.description : capitalise(view.description)}.${approvalRequired ? ' The stack is protected: run_sync needs a human approval.' : ''} ${
          view.noop
            ? 'No run_sync is needed (with this handle it would change nothing).'
            : `Next: run_sync with the handle (valid until ${issued.expiresAt}).`
        }`,
      );
    },
    guard,
  );

  registerContractTool(
    server,
    'run_sync',
    async (args, ctx) => {
      const claims = signer.verify(args.handle);
      if (args.stack !== undefined && args.stack !== claims.stack) {
        throw badInput(
          `This handle was issued for stack ${claims.stack}, not ${args.stack}; a handle is valid for one stack only. ` +
            `Call get_deploy_target with stack "${args.stack}" for a handle of that stack.`,
        );
      }
      await t.receiptKeyUsable();
      const site = await open(claims.stack);
      const request = requestFor(args, ctx, `sync ${claims.app}@${claims.commit.slice(0, 7)}`);
      const base = {
        stack: claims.stack,
        app: claims.app,
        commit: claims.commit,
        artifactDigest: claims.artifactDigest,
        approvedBy: null,
      };

      const live = (await site.records.readPointer())?.value ?? null;
      if (live?.deployId === claims.deployId) {
        // Live already. Still waiting for invalidate_cdn (this call's answer was lost, its client
        // went away before the next step, or the change stopped after its switch), as the dry run
        // finds it: synced, and invalidate_cdn finishes it.
        const { plan, finishes } = await dryRun(site, claims.app, claims.commit, request);
        if (finishes?.deployId === claims.deployId) {
          // The stopped change its run finished first, told again as the chain holds it: a retry tags
          // it as the lost answer would have had it tagged (the same tag, never a second).
          const first = await finishedFirstChange(t, site, await finishedFirstOnRecord(site, live));
          return toolSuccess(
            'run_sync',
            {
              ...base,
              ...countsOf(plan),
              deployId: claims.deployId,
              outcome: 'synced',
              ...(first.finishedFirstChange ? { finishedFirst: first.finishedFirstChange.deployId } : {}),
              ...first,
              next: `invalidate_cdn with deployId ${claims.deployId}`,
            },
            // Named as what it was (a rollback, a canary promote…), as describeFinish names it.
            `${capitalise(changeNoun(finishes.kind))} ${claims.deployId} of ${claims.app}@${claims.commit.slice(0, 7)} is live on ${claims.stack}, synced before, and not yet verified nor recorded (it was interrupted): nothing was copied this time. Call invalidate_cdn with deployId ${claims.deployId} to finish it.`,
          );
        }
        return toolSuccess(
          'run_sync',
          {
            ...base,
            ...noopCounts(live.releases.map((r) => r.deployId)),
            deployId: claims.deployId,
            outcome: 'noop',
            next: 'invalidate_cdn (if not done yet)',
          },
          `Already synced: deployment ${claims.deployId} is live on ${claims.stack}; nothing was copied this time.`,
        );
      }
      const planned = await dryRun(site, claims.app, claims.commit, request);
      const { plan, finishesFirst } = planned;
      if (plan.deployId !== claims.deployId) throw new FrontendOpsError('CONFLICT', STALE);
      if (plan.noop) {
        return toolSuccess(
          'run_sync',
          {
            ...base,
            ...noopCounts(plan.retained),
            unchanged: plan.unchanged,
            deployId: live?.deployId ?? plan.deployId,
            outcome: 'noop',
            next: 'nothing: this build is already live',
          },
          `${capitalise(describePlan(plan))}; nothing was copied.`,
        );
      }

      // A deploy its run refuses (a pin set since the handle, or the one a stopped rollback it
      // finishes first sets) is refused now, as get_deploy_target does: no one is asked to approve it.
      const refusal = await pinRefusalAhead(site, { kind: plan.kind, commit: claims.commit, ...planned });
      if (refusal) throw refusal;
      const gate = await t.approve(ctx, site, {
        action: approvalOf('run_sync'),
        deployId: plan.deployId,
        // What the run does, as get_deploy_target said it: a stopped change it finishes first, then this plan.
        summary: toPlanView(plan, site.protected, { finishesFirst }).description,
        change: { app: claims.app, commit: claims.commit },
        plan,
        tool: 'run_sync',
      });
      if (!gate.approved) return gate.result;

      const { signal } = ctx.mcpReq;
      const what = `run_sync of ${claims.app}@${claims.commit.slice(0, 7)} on ${claims.stack} (deployment ${claims.deployId})`;
      const summary = await stoppable(
        t,
        signal,
        { stack: site.target.stack, what, left: (outcome) => syncLeft(what, outcome) },
        () =>
          deployArtifact(site, {
            app: claims.app,
            commit: claims.commit,
            request,
            stopBeforeInvalidation: true,
            waitMs: lockWaitMs,
            authorize: gate.use,
            onEvent: withProgress(stopAtSafePoint(signal, site, refuseOtherPlans(claims.deployId)), ctx),
          }),
      );
      const data = {
        ...base,
        deployId: summary.deployId,
        outcome: summary.outcome === 'noop' ? ('noop' as const) : ('synced' as const),
        copied: summary.copied,
        unchanged: summary.unchanged,
        pruned: summary.pruned,
        retained: summary.retained,
        approvedBy: approvedByOf(gate),
        ...(summary.finishedFirst ? { finishedFirst: summary.finishedFirst.deployId } : {}),
        ...(await finishedFirstChange(t, site, summary)),
        next: `invalidate_cdn with deployId ${summary.deployId}`,
      };
      // A stopped change it finished first, as get_deploy_target said it would: said first.
      const first = finishedFirstSentence(summary);
      return toolSuccess(
        'run_sync',
        data,
        `${first}Synced ${claims.app}@${claims.commit.slice(0, 7)} to ${claims.stack} as deployment ${summary.deployId}: ${data.copied} copied, ${data.unchanged} unchanged, ${data.pruned} pruned. ${
          site.mode === 'atomic'
            ? 'It is live: an atomic release switched by one key write, with nothing to invalidate. Call invalidate_cdn next to verify it through the CDN and record it.'
            : 'The site serves it once the CDN is invalidated: call invalidate_cdn next.'
        }`,
      );
    },
    guard,
  );

  registerContractTool(
    server,
    'invalidate_cdn',
    async (args, ctx) => {
      await t.receiptKeyUsable();
      const site = await open(args.stack);
      const { record, auditHead, rolledBackTo } = await finishSyncedDeploy(site, args.deployId, {
        request: requestFor(args, ctx, `invalidate ${args.deployId}`),
        waitMs: lockWaitMs,
        ...(t.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: t.verifyTimeoutMs } : {}),
      });
      const data = {
        deployId: record.deployId,
        stack: record.stack,
        app: record.app,
        commit: record.commit,
        artifactDigest: record.artifactDigest,
        invalidationIds: record.invalidation?.ids ?? [],
        paths: record.invalidation?.paths ?? [],
        pruned: record.deleted.length,
        verification: record.verification && {
          ok: record.verification.ok,
          detail: record.verification.detail,
        },
        outcome: record.outcome,
        auditHead,
        ...(await tagging({ ...record, auditHead }, site.target)),
        rolledBackTo: rolledBackTo ?? null,
      };
      const back = rolledBackTo
        ? ` ${capitalise(switchedBack(rolledBackTo))}; no deploy tag is due.`
        : record.outcome === 'failed'
          ? ` ${capitalise(NOT_SWITCHED_BACK)}; no deploy tag is due.`
          : '';
      return toolSuccess(
        'invalidate_cdn',
        data,
        `${capitalise(changeNoun(record.op ?? record.kind))} ${record.deployId} of ${record.app}@${record.commit.slice(0, 7)} on ${record.stack}: ${data.paths.length} path(s) invalidated${data.invalidationIds.length ? ` (${data.invalidationIds.join(', ')})` : ''}; ${data.verification ? (data.verification.ok ? 'the CDN serves the new release' : `verification failed: ${data.verification.detail}`) : 'no site URL to verify'}; outcome ${record.outcome}.${back}`,
      );
    },
    guard,
  );
}

/**
 * The stopped change a run finished first, where it made a release live for everyone
 * (finishedFirstRecord): what create_deploy_tag takes to tag it, as the CLI and the console tag it
 * (finishedFirstTag), with the receipt that vouches for it. Nothing where none is due.
 */
async function finishedFirstChange(
  t: InfraToolContext,
  site: Site,
  { finishedFirstRecord: change }: Pick<DeploySummary, 'finishedFirstRecord'>,
) {
  const { stack } = site.target;
  if (!change) return {};
  // A rollback's receipt says what it took down, as its tag does (rollbackPart); its words are the
  // request that made it, as the CLI's tag has them.
  const { receipt, request } = await t.tagging({ ...change, stack, outcome: 'succeeded' }, site.target);
  if (!receipt || request === null) return {};
  return {
    finishedFirstChange: {
      deployId: change.deployId,
      commit: change.commit,
      artifactDigest: change.artifactDigest,
      auditHead: change.auditHead,
      request,
      receipt,
    },
  };
}

const noopCounts = (retained: string[]) => ({ copied: 0, unchanged: 0, pruned: 0, retained });

const countsOf = (plan: DeployPlan) => ({
  copied: plan.copies.length,
  unchanged: plan.unchanged,
  pruned: plan.prune.length,
  retained: plan.retained,
});

/** What a sync told to stop left, for the operator. */
function syncLeft(what: string, outcome: { result: DeploySummary } | { error: unknown }): string {
  if ('error' in outcome) return leftByError(what, outcome.error);
  return outcome.result.outcome === 'noop'
    ? `${what}: there was nothing to copy; nothing changed.`
    : `${what} was past its switch when it was asked to stop: it is live, not yet verified nor recorded. Running the same request again (or invalidate_cdn with its deployId) finishes it.`;
}

/**
 * Forwards the copy progress as MCP progress notifications when the client asked for them (a
 * progressToken in the request's _meta): the agent shows them as a progress bar.
 */
function withProgress(
  onEvent: (event: DeployEvent) => void,
  ctx: {
    mcpReq: {
      _meta?: { progressToken?: string | number };
      notify: (n: { method: string; params: Record<string, unknown> }) => Promise<void>;
    };
  },
) {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return onEvent;
  let copied = 0;
  let total = 0;
  let lastSent = -1;
  return (event: DeployEvent) => {
    onEvent(event);
    if (event.type === 'plan') total = event.plan.copies.length;
    if (event.type !== 'copy' || total === 0) return;
    copied++;
    // At most ~50 notifications per sync, and always the last one.
    if (copied !== total && copied - lastSent < total / 50) return;
    lastSent = copied;
    void ctx.mcpReq
      .notify({
        method: 'notifications/progress',
        params: {
          progressToken: token,
          progress: copied,
          total,
          message: `copied ${copied}/${total} (${event.group})`,
        },
      })
      .catch(() => undefined);
  };
}
