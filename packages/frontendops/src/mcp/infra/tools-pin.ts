/**
 * pin_release, unpin_release, promote_release: the pin after a rollback, as tools. Pinning and
 * unpinning change no file (no approval; audited); on a protected stack unpin_release is refused (a
 * person unpins at a terminal). A promote is a deploy that also lifts the pin: on a protected stack
 * it needs the same human approval as run_sync.
 */
import { pinRelease, promoteRelease, resolveRelease, unpinRelease } from '../../deploy/pin.ts';
import { describePromote, promotePlanWords } from '../../engine/describe.ts';
import { shortSha } from '../../engine/ids.ts';
import { capitalise } from '../../engine/text.ts';
import { FrontendOpsError } from '../../errors.ts';
import { notPinned, PIN_EFFECT, protectedUnpin, unpinnedSentence } from '../../read/pin-words.ts';
import { toPinView } from '../../read/views.ts';
import { readPin } from '../../state/pin.ts';
import type { RequestInfo } from '../../state/records.ts';
import { registerContractTool, toolSuccess } from '../tool-result.ts';
import { type InfraToolContext, releaseChangeOf, runApproved } from './context.ts';

export function registerPinTools(t: InfraToolContext): void {
  const { server, config, open, requestFor, lockWaitMs, secrecy } = t;
  const withReason = (request: RequestInfo, reason: string | undefined): RequestInfo =>
    reason ? { ...request, message: reason } : request;

  registerContractTool(
    server,
    'pin_release',
    async (args, ctx) => {
      const site = await open(args.stack);
      const { pin, created } = await pinRelease(site, {
        ...(args.to ? { to: args.to } : {}),
        request: withReason(requestFor(args, ctx, 'pin the live release'), args.reason),
        waitMs: lockWaitMs,
      });
      return toolSuccess(
        'pin_release',
        { stack: site.target.stack, pin: toPinView(pin), created },
        `${created ? 'Pinned' : 'Already pinned:'} ${site.target.stack} to ${pin.app}@${shortSha(pin.commit)} (${pin.deployId}). ${capitalise(PIN_EFFECT)}.`,
      );
    },
    secrecy.guard,
  );

  registerContractTool(
    server,
    'unpin_release',
    async (args, ctx) => {
      const site = await open(args.stack);
      // Lifting the pin lets the next approved deploy make any release live, an older one included:
      // on a protected stack that is a person's to decide, at a terminal (or by an approved promote).
      if (site.protected) {
        const stack = site.target.stack;
        throw new FrontendOpsError('APPROVAL_REQUIRED', protectedUnpin(stack));
      }
      const { cleared } = await unpinRelease(site, {
        request: withReason(requestFor(args, ctx, 'unpin'), args.reason),
        waitMs: lockWaitMs,
      });
      return toolSuccess(
        'unpin_release',
        { stack: site.target.stack, unpinned: cleared && toPinView(cleared) },
        cleared ? unpinnedSentence(site.target.stack, cleared) : notPinned(site.target.stack),
      );
    },
    secrecy.guard,
  );

  registerContractTool(
    server,
    'promote_release',
    async (args, ctx) => {
      const site = await open(args.stack);
      const release = await resolveRelease(site, args.app ?? config.app, args.to);
      const request = withReason(
        requestFor(args, ctx, `promote ${release.app}@${shortSha(release.commit)}`),
        args.reason,
      );
      const pin = await readPin(site);
      const ran = await runApproved(t, ctx, site, {
        tool: 'promote_release',
        // Its own approval (the contract's): a promote also lifts the pin and may make an older
        // release live, which an approval of a deploy (or a job allowed to deploy) does not cover.
        run: (options) =>
          promoteRelease(site, { app: release.app, commit: release.commit, request, ...options }),
        summary: (planned) => describePromote(planned.plan, pin),
        change: (planned) => ({ app: planned.app, commit: planned.commit, to: release.commit }),
        // Of the live release it only lifts the pin: what unpin_release is refused for here.
        changesWhenNoop: pin !== null,
      });
      if (!ran.approved) return ran.result;
      const { summary, gate } = ran;
      const data = {
        ...(await releaseChangeOf(t, site, summary, gate)),
        unpinned: summary.unpinned ? toPinView(summary.unpinned) : null,
      };
      const lifted = summary.unpinned ? ' The pin is cleared.' : '';
      return toolSuccess(
        'promote_release',
        data,
        summary.noop
          ? `${capitalise(promotePlanWords(summary.plan, lifted !== ''))}.${lifted || ' Nothing was pinned.'}`
          : `Promoted ${summary.app}@${shortSha(summary.commit)} on ${summary.stack} (deployment ${summary.deployId}): ${data.copied} copied, ${data.pruned} pruned, ${data.paths.length} path(s) invalidated; outcome ${summary.outcome}.${lifted}`,
      );
    },
    secrecy.guard,
  );
}
