/**
 * The atomic-release tools: start_canary, promote_canary and abort_canary (each one key write, each
 * its own approval on a protected stack, planned first so the approval names the exact change), and
 * preview_release (a signed, expiring link; it changes what no visitor sees, so it asks no approval).
 */

import type { ServerContext } from '@modelcontextprotocol/server';
import { PREVIEW_HOURS, previewSeconds } from '../../atomic/preview-hours.ts';
import type { AtomicOptions, AtomicSummary } from '../../deploy/atomic-apply.ts';
import { describePlan } from '../../engine/describe.ts';
import { shortSha } from '../../engine/ids.ts';
import { capitalise } from '../../engine/text.ts';
import type { Site } from '../../site.ts';
import { registerContractTool, toolSuccess } from '../tool-result.ts';
import { changeResultOf, type InfraToolContext, ISSUES_RECEIPT, runApproved } from './context.ts';

type AtomicRun = (site: Site, options: AtomicOptions) => Promise<AtomicSummary>;

export function registerAtomicTools(t: InfraToolContext): void {
  const { server, open, requestFor, secrecy } = t;

  registerContractTool(
    server,
    'start_canary',
    async (args, ctx) => {
      const site = await open(args.stack);
      const { startCanary } = await import('../../deploy/canary.ts');
      const { resolvePublishedCommit } = await import('../../deploy/publish.ts');
      const app = args.app ?? t.config.app;
      const commit = await resolvePublishedCommit(site.artifacts, app, args.commit);
      const run: AtomicRun = (s, options) =>
        startCanary(s, { ...options, app, commit, weightPercent: args.percent });
      const words = `send ${args.percent}% of visitors to ${app}@${shortSha(commit)}`;
      return change(t, ctx, site, {
        tool: 'start_canary',
        run,
        request: requestFor(args, ctx, words),
        change: { app, commit, weight: args.percent },
        extra: (summary) => ({ percent: summary.canary?.weight ?? args.percent }),
      });
    },
    secrecy.guard,
  );

  for (const tool of ['promote_canary', 'abort_canary'] as const) {
    const promote = tool === 'promote_canary';
    registerContractTool(
      server,
      tool,
      async (args, ctx) => {
        const site = await open(args.stack);
        const { promoteCanary, abortCanary } = await import('../../deploy/canary.ts');
        return change(t, ctx, site, {
          tool,
          run: promote ? promoteCanary : abortCanary,
          request: requestFor(args, ctx, promote ? 'promote the canary' : 'abort the canary'),
          change: null,
          extra: () => ({}),
        });
      },
      secrecy.guard,
    );
  }

  registerContractTool(
    server,
    'preview_release',
    async (args, ctx) => {
      const site = await open(args.stack);
      const { previewLink } = await import('../../deploy/preview.ts');
      const link = await previewLink(site, {
        ...(args.deployId ? { deployId: args.deployId } : {}),
        ...(args.commit ? { commit: args.commit } : {}),
        app: args.app ?? t.config.app,
        ttlSeconds: previewSeconds(args.hours ?? PREVIEW_HOURS.default),
        request: requestFor({}, ctx, 'preview a release'),
        waitMs: t.lockWaitMs,
      });
      const data = {
        url: link.url,
        releaseId: link.releaseId,
        app: link.app,
        commit: link.commit,
        deployId: link.deployId,
        expiresAt: link.expiresAt,
        copied: link.copied,
      };
      return toolSuccess(
        'preview_release',
        data,
        `Preview of ${link.app}@${shortSha(link.commit)} on ${site.target.stack}, until ${link.expiresAt}: ${link.url}`,
      );
    },
    secrecy.guard,
  );
}

/**
 * One approved change: plan it (a dry run), have it approved for exactly that plan, carry it out
 * refusing any other plan, and answer with what happened.
 */
async function change<N extends 'start_canary' | 'promote_canary' | 'abort_canary'>(
  t: InfraToolContext,
  ctx: ServerContext,
  site: Site,
  spec: {
    tool: N;
    run: AtomicRun;
    request: ReturnType<InfraToolContext['requestFor']>;
    change: { app: string; commit: string; weight?: number } | null;
    extra: (summary: AtomicSummary) => Record<string, unknown>;
  },
) {
  const ran = await runApproved(t, ctx, site, {
    tool: spec.tool,
    run: (options) => spec.run(site, { request: spec.request, ...options }),
    ...(spec.change ? { change: () => spec.change as NonNullable<typeof spec.change> } : {}),
  });
  if (!ran.approved) return ran.result;
  const { summary, gate } = ran;
  const data = {
    ...changeResultOf(summary, gate),
    // A canary's start or abort makes no release live for everyone: nothing a deploy tag records.
    ...(ISSUES_RECEIPT.has(spec.tool)
      ? await t.tagging(summary, site.target)
      : { receipt: null, request: null }),
    releaseId: summary.releaseId,
    ...spec.extra(summary),
  };
  return toolSuccess(
    spec.tool,
    data as never,
    summary.noop
      ? `${capitalise(describePlan(summary.plan))}; nothing was changed.`
      : `${capitalise(describePlan(summary.plan))}: done (deployment ${summary.deployId}, outcome ${summary.outcome}).`,
  );
}
