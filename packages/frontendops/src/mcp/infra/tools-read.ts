/** The tools that change nothing: plan_deploy (dry run), get_status, get_history — the read models. */
import { asItRuns, pinnedAhead, refusedByView } from '../../deploy/pin-ahead.ts';
import { resolvePublishedCommit } from '../../deploy/publish.ts';
import { readPlanContents } from '../../read/contents.ts';
import { leftOutWords, readHistory } from '../../read/history.ts';
import { PIN_EFFECT } from '../../read/pin-words.ts';
import { readStatus } from '../../read/status.ts';
import { describeCanary, toPlanView } from '../../read/views.ts';
import { registerContractTool, toolSuccess } from '../tool-result.ts';
import { changesStopped, type InfraToolContext } from './context.ts';

export function registerReadTools(t: InfraToolContext): void {
  const { server, config, open, requestFor, dryRun, secrecy } = t;

  registerContractTool(
    server,
    'plan_deploy',
    async ({ stack, app = config.app, commit }, ctx) => {
      const site = await open(stack);
      const full = await resolvePublishedCommit(site.artifacts, app, commit);
      const planned = await dryRun(site, app, full, requestFor({}, ctx, 'plan deploy'));
      const { plan } = planned;
      const [contents, ahead] = await Promise.all([
        readPlanContents(site, plan),
        // A deploy past the pin is refused (get_deploy_target, run_sync): the dry run says so, in
        // the refusal's words, and still answers for a promote, which goes past it.
        pinnedAhead(site, { kind: plan.kind, commit: full, ...planned }),
      ]);
      // The refusal's words say that nothing was changed: said once.
      const refused = refusedByView(ahead.refusal);
      const view = {
        // Its run finishes a stopped change: said as get_deploy_target says it (none when refused
        // before it finishes one: asItRuns).
        ...toPlanView(plan, site.protected, asItRuns(planned, ahead)),
        contents,
        ...(refused ? { refusedBy: refused } : {}),
      };
      return toolSuccess(
        'plan_deploy',
        view,
        `Dry run: ${view.description}. ${refused ? `A deploy of it is refused now (${refused.code}): ${refused.message}` : 'Nothing was changed.'}`,
      );
    },
    secrecy.guard,
  );

  registerContractTool(
    server,
    'get_status',
    async ({ stack }) => {
      const site = await open(stack);
      // A change told to stop (its client cancelled or went away) is waited for: the answer is what
      // the stop left, not a moment of it.
      await changesStopped(site.target.stack);
      const status = await readStatus(site);
      const { live } = status;
      return toolSuccess(
        'get_status',
        status,
        live
          ? `${status.stack}: ${live.app}@${live.commit.slice(0, 7)} live since ${live.releasedAt} (${live.deployId}); ${status.releases.length} retained release(s)${status.pending ? `; deploy ${status.pending.deployId} is pending` : ''}${status.pin ? `; pinned to ${status.pin.commit.slice(0, 7)} by ${status.pin.by} (${PIN_EFFECT})` : ''}${status.canary ? `; ${describeCanary(status.canary)}` : ''}; ${status.mode} releases.`
          : `${status.stack}: nothing deployed yet.`,
      );
    },
    secrecy.guard,
  );

  registerContractTool(
    server,
    'get_history',
    async ({ stack, limit = 20, before }) => {
      const page = await readHistory(await open(stack), { limit, ...(before ? { before } : {}) });
      const newest = page.deployments[0];
      const leftOut = leftOutWords(page);
      const more = page.next ? ' More: pass before.' : '';
      const policy = page.policyChanges.map((change) => ` ${change.at}: ${change.description}`).join('');
      return toolSuccess(
        'get_history',
        page,
        (newest
          ? `${page.deployments.length} deployment(s) of ${page.stack}; newest ${newest.deployId} (${newest.commit.slice(0, 7)}, ${newest.outcome}).${leftOut ? ` ${leftOut}` : ''}${more}`
          : leftOut
            ? `${page.stack}: ${leftOut}${more}`
            : `No deployments of ${page.stack} yet.`) + policy,
      );
    },
    secrecy.guard,
  );
}
