/** `frontendops deploy` and `frontendops rollback`: the engine, driven by a person at a terminal or in CI. */
import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { needsApproval } from '../../contract/approval-question.ts';
import type { AtomicSummary } from '../../deploy/atomic-apply.ts';
import type { DeploySummary } from '../../deploy/deploy.ts';
import { switchedBack } from '../../deploy/switch-back-words.ts';
import type { DeployOptions } from '../../deploy/types.ts';
import { noteLine } from '../../engine/text.ts';
import type { ApprovalAction, GitHost } from '../../ports.ts';
import { finishedRollbackPin, PIN_EFFECT } from '../../read/pin-words.ts';
import type { Site } from '../../site.ts';
import type { PolicyInForce } from '../../state/approval-policy.ts';
import {
  describeReplacedPin,
  type PinAhead,
  rollbackPinAhead,
  stoppedRollbackPin,
} from '../../state/pin-words.ts';
import {
  APP_OPTION_HELP,
  type CliContext,
  cliRequest,
  inAJob,
  jobEnvironment,
  loadCliConfig,
  lockWait,
  parsePercent,
  printJson,
  STACK_OPTION_HELP,
  WAIT_OPTION,
  withSite,
} from '../context.ts';
import { say } from '../io.ts';

export interface CommonFlags {
  stack?: string;
  verbose?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  wait: string;
  message?: string;
  open?: boolean;
  tag: boolean;
  repo?: string;
  github?: string;
}

export interface DeployFlags extends CommonFlags {
  app?: string;
  commit?: string;
  latest?: boolean;
  canary?: string;
}

export function register(program: Command, ctx: CliContext): void {
  addCommon(
    program
      .command('deploy')
      .description('Deploy a published build: plan, then copy, go live, prune, invalidate, verify, tag')
      .option('--commit <sha>', 'the published commit to deploy (a short sha is enough)')
      .option('--latest', 'deploy the newest commit touching the app (the default without --commit)')
      .option('--app <name>', APP_OPTION_HELP)
      .option(
        '--canary <percent>',
        'atomic stacks: send this share of visitors (1-99, e.g. 10 or 10%) to the build instead of everyone; then `frontendops canary promote|abort`',
      ),
    'deploy',
  )
    .addHelpText(
      'after',
      `
Examples:
  $ frontendops deploy                                 the latest build to the local environment
  $ frontendops deploy --stack prod --commit 3f2c1a9 --message "fix the KPI totals"
  $ frontendops deploy --stack prod --dry-run          what would change
  $ frontendops deploy --stack prod --yes --json       in CI, where the job's reviewers approved
  $ frontendops deploy --stack prod --canary 10%       10% of visitors first (atomic stacks)`,
    )
    .action(async (flags: DeployFlags) => {
      if (flags.commit && flags.latest) {
        const { badInput } = await import('../../errors.ts');
        throw badInput('Pass either --commit <sha> or --latest, not both.');
      }
      const { deployArtifact } = await import('../../deploy/deploy.ts');
      const weightPercent = flags.canary === undefined ? undefined : await parsePercent(flags.canary);
      await withSite(ctx, flags.stack, async (site, config) => {
        const app = flags.app ?? config.app;
        const opened = await openGit(ctx, flags);
        if (weightPercent === undefined) await assertTagToken(ctx, flags, opened);
        const { commit, git } = await chooseCommit(ctx, site, config, app, flags, opened);
        if (weightPercent !== undefined) {
          const { startCanary } = await import('../../deploy/canary.ts');
          const request = cliRequest(
            ctx.io,
            `deploy ${app}@${commit.slice(0, 7)} to ${weightPercent}% first`,
            flags.message,
          );
          const common = {
            request,
            app,
            commit,
            weightPercent,
            waitMs: await lockWait(ctx, flags),
            ...(flags.json || flags.dryRun ? {} : { onEvent: await progressPrinter(ctx) }),
          };
          const approved = await approveIfProtected(ctx, site, flags, 'canary', null, () =>
            startCanary(site, { ...common, dryRun: true, onEvent: () => {} }),
          );
          const summary = await startCanary(site, { ...common, ...approved, dryRun: Boolean(flags.dryRun) });
          // Not live for everyone yet: the deploy tag comes with `canary promote`.
          await finish(ctx, site, summary, { ...flags, tag: false, open: false }, null);
          return;
        }
        await assertTaggable(ctx, flags, git, commit);
        const request = cliRequest(ctx.io, `deploy ${app}@${commit.slice(0, 7)}`, flags.message);
        const common = {
          request,
          waitMs: await lockWait(ctx, flags),
          ...(flags.json || flags.dryRun ? {} : { onEvent: await progressPrinter(ctx, flags.verbose) }),
        };
        const approved = await approveIfProtected(ctx, site, flags, 'deploy', git, () =>
          deployArtifact(site, { ...common, app, commit, dryRun: true, onEvent: () => {} }),
        );
        const summary = await deployArtifact(site, {
          ...common,
          ...approved,
          app,
          commit,
          dryRun: Boolean(flags.dryRun),
        });
        await finish(ctx, site, summary, flags, git);
      });
    });

  addCommon(
    program
      .command('rollback')
      .description('Roll back to a retained release (default: the previous one); moves only what differs')
      .option(
        '--to <deployId|commit|tag>',
        'the deployment, commit or tag (a deploy tag, a release tag) to go back to (a short sha is enough)',
      ),
    'rollback',
  )
    .addHelpText(
      'after',
      `
Examples:
  $ frontendops rollback --stack prod                   back to the release before the live one
  $ frontendops rollback --stack prod --to 3f2c1a9      back to that commit's release
  $ frontendops rollback --stack prod --to 3f2c1a9-0123456789 --yes
  $ frontendops rollback --stack prod --to dashboard-deploy-20261203-4`,
    )
    .action(async (flags: CommonFlags & { to?: string }) => {
      const { rollbackRelease } = await import('../../deploy/deploy.ts');
      await withSite(ctx, flags.stack, async (site) => {
        const git = await openGit(ctx, flags);
        const to =
          flags.to === undefined
            ? undefined
            : await releaseNamed(flags.to, git, { command: 'rollback', stack: site.target.stack });
        const common = {
          request: cliRequest(ctx.io, `rollback${flags.to ? ` to ${flags.to}` : ''}`, flags.message),
          waitMs: await lockWait(ctx, flags),
          ...(to ? { to } : {}),
          ...(flags.json || flags.dryRun ? {} : { onEvent: await progressPrinter(ctx, flags.verbose) }),
        };
        const approved = await approveIfProtected(ctx, site, flags, 'rollback', git, () =>
          rollbackRelease(site, { ...common, dryRun: true, onEvent: () => {} }),
        );
        const summary = await rollbackRelease(site, {
          ...common,
          ...approved,
          dryRun: Boolean(flags.dryRun),
        });
        await finish(ctx, site, summary, flags, git);
      });
    });
}

/**
 * The release `rollback --to` and `promote` name, as the engine reads it: a deploy id as `history`
 * shows it, or a commit sha, as given; a tag of the repository (a deploy tag, a release tag) as the
 * commit it points at. Any other name git would resolve (HEAD, a branch) moves as work goes on, so it
 * is refused (BAD_INPUT), saying what is taken; so is a tag where there is no repository to read it.
 */
export async function releaseNamed(
  to: string,
  git: GitHost | null,
  where: { command: 'promote' | 'rollback'; stack: string },
): Promise<string> {
  const [{ COMMIT_REF, DEPLOY_ID }, { isFrontendOpsError }] = await Promise.all([
    import('../../engine/ids.ts'),
    import('../../errors.ts'),
  ]);
  if (DEPLOY_ID.test(to) || COMMIT_REF.test(to)) return to;
  // Tags only, by their exact name (never one that only starts with it): a name git cannot hold as a
  // tag is simply none.
  const tag = git
    ? await git.readTag(to).catch((error: unknown) => {
        if (isFrontendOpsError(error, 'BAD_INPUT')) return null;
        throw error;
      })
    : null;
  if (tag) return tag.sha;
  throw await notARelease(to, where, git !== null);
}

/** What promote and rollback --to say of a name that is no deploy id, no commit sha and no tag the repository knows. */
async function notARelease(
  ref: string,
  { command, stack }: { command: 'promote' | 'rollback'; stack: string },
  haveGit: boolean,
) {
  const [{ badInput }, { clip, escapeControlCharacters }] = await Promise.all([
    import('../../errors.ts'),
    import('../../engine/text.ts'),
  ]);
  const shown = escapeControlCharacters(ref.length > 80 ? `${clip(ref, 80)}…` : ref);
  return badInput(
    `"${shown}" is not a release ${command === 'rollback' ? 'rollback --to' : 'promote'} can take: expected a deploy id as \`frontendops history\` shows it (e.g. 3f2c1a9-0123456789), a commit sha (7 to 64 lower-case hex digits; a short sha is enough), or a tag of the git repository (a deploy tag, a release tag; not a branch or HEAD, which move)${haveGit ? ', and the repository has no such tag' : ', and there is no git repository here to read a tag from'}. Nothing was changed. See \`frontendops history --stack ${stack}\` for deploy ids, commits and tags${haveGit ? '' : '; for a tag, run it in the repository or pass --repo <dir> or --github <owner/repo>'}.`,
  );
}

export function addCommon(command: Command, verb: string): Command {
  return command
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--verbose', "also print the engine's detail: deploy ids, pointer, invalidation ids")
    .option('--dry-run', 'print the plan and change nothing')
    .option('--yes', `approve a ${verb} of a protected environment without asking`)
    .option('--message <text>', 'why (recorded in the deployment record and the audit log)')
    .option('--json', 'print one JSON summary object')
    .option('--open', 'open the site in a browser when done')
    .option('--no-tag', 'do not create the git deploy tag')
    .option('--repo <dir>', 'git repository for the deploy tag (default: the working directory)')
    .option('--github <owner/repo>', 'create the deploy tag on GitHub (token from GITHUB_TOKEN)')
    .option(...WAIT_OPTION);
}

/**
 * --commit (a short sha resolves against the published builds), else the latest (see read/latest.ts).
 * `opened` is the git host when the caller has looked for it already (null: there is none).
 */
export async function chooseCommit(
  ctx: CliContext,
  site: Site,
  config: Config,
  app: string,
  flags: Pick<DeployFlags, 'commit' | 'repo' | 'github'>,
  opened?: GitHost | null,
): Promise<{ commit: string; git: GitHost | null }> {
  const git = opened === undefined ? await openGit(ctx, flags) : opened;
  if (flags.commit) {
    const { resolvePublishedCommit } = await import('../../deploy/publish.ts');
    return { commit: await resolvePublishedCommit(site.artifacts, app, flags.commit, git), git };
  }
  if (!git) {
    const [{ badInput }, { touching }] = await Promise.all([
      import('../../errors.ts'),
      import('../../engine/text.ts'),
    ]);
    throw badInput(
      `The latest ${app} is the newest commit${touching(config.appPath)}, and there is no git repository here to ask. Run it in the repository, pass --repo <dir> or --github <owner/repo>, or name the build with --commit <sha>.`,
    );
  }
  const { requireLatestPublished } = await import('../../read/latest.ts');
  const latest = await requireLatestPublished({
    git,
    artifacts: site.artifacts,
    app,
    appPath: config.appPath,
  });
  return { commit: latest.sha, git };
}

/**
 * A deploy that will make its tag checks first that it can: a commit the tag's repository lacks, or
 * a GitHub repository with no token to write to, would leave the release live and untagged, and the
 * command failing after its change. (A rollback learns its destination as it runs: see finish.)
 */
export async function assertTaggable(
  ctx: CliContext,
  flags: CommonFlags,
  git: GitHost | null,
  commit: string,
): Promise<void> {
  if (!flags.tag || flags.dryRun || !git) return;
  await assertTagToken(ctx, flags, git);
  const [{ badInput }, { describeGitHost }] = await Promise.all([
    import('../../errors.ts'),
    import('../../adapters/git-host.ts'),
  ]);
  const where = describeGitHost(flags, ctx.io.env, ctx.io.cwd);
  if (!(await git.getCommit(commit))) {
    const short = commit.slice(0, 7);
    throw badInput(
      `Commit ${short} is not in the ${where}, where its deploy tag goes: the release would go live without its tag. Nothing was changed. Run it in the repository that holds ${short}, name that one with --repo <dir> or --github <owner/repo>, or pass --no-tag.`,
    );
  }
}

/** A deploy tag for GitHub needs a token: refused before the commit is looked up or anything written. */
async function assertTagToken(ctx: CliContext, flags: CommonFlags, git: GitHost | null): Promise<void> {
  if (!flags.tag || flags.dryRun || !git) return;
  const [{ badInput }, { describeGitHost, githubRepository }] = await Promise.all([
    import('../../errors.ts'),
    import('../../adapters/git-host.ts'),
  ]);
  const github = githubRepository(flags, ctx.io.env);
  if (github && !ctx.io.env.GITHUB_TOKEN) {
    throw badInput(
      `The deploy tag goes to the ${describeGitHost(flags, ctx.io.env, ctx.io.cwd)}, and GITHUB_TOKEN is not set: GitHub needs a token to create it. Nothing was changed. Set GITHUB_TOKEN to a token that may write ${github}'s contents, or pass --no-tag.`,
    );
  }
}

export async function openGit(
  ctx: CliContext,
  flags: Pick<CommonFlags, 'repo' | 'github'>,
): Promise<GitHost | null> {
  const { selectGitHost } = await import('../../adapters/git-host.ts');
  const { isFrontendOpsError } = await import('../../errors.ts');
  try {
    return await selectGitHost(flags, ctx.io.env, ctx.io.cwd);
  } catch (error) {
    if (!flags.repo && !flags.github && isFrontendOpsError(error, 'BAD_INPUT')) return null;
    throw error;
  }
}

/**
 * A change of a protected environment needs a person's yes: `--yes`, or the answer at a terminal
 * after seeing the plan (`preview`: the change's dry run). In a GitHub Actions job (GITHUB_ACTIONS,
 * which GitHub sets for every step, the Action's included), `--yes` on a stack whose configuration
 * names the environment that approves its jobs (`approval.github`) is that environment's approval,
 * and covers only the actions its `actions` list, as it does for the agent's changes through the
 * infra server: a job approved to deploy makes no older release live by a promote or a rollback.
 */
export async function approveIfProtected(
  ctx: CliContext,
  site: Site,
  flags: { dryRun?: boolean; yes?: boolean },
  action: ApprovalAction,
  git: GitHost | null,
  preview: () => Promise<DeploySummary>,
  verb?: string,
): Promise<Pick<DeployOptions, 'authorize'>> {
  if (flags.dryRun || !site.protected) return {};
  // In a job, who approves is what both the configuration and the audit log's record accept
  // (approval-policy.ts): a job whose environment either names is held to it.
  const inForce = inAJob(ctx)
    ? await (await import('../../state/approval-in-force.ts')).approvalInForce(site)
    : null;
  const github = inForce ? jobEnvironment(ctx, inForce) : undefined;
  const ofAJob = github !== undefined;
  if (flags.yes && !ofAJob) return {};
  const planned = await preview();
  // What was judged here (without the lock) is what may run: the run plans again under the lock, and
  // another change may have landed meanwhile. A no-op judged to need no one's yes, or a deploy a
  // job's policy covers, must not become a promote of an older release, nor a change a person
  // approved become another.
  const bound = await boundTo(planned);
  // A change that would do nothing needs no one's yes (as on a terminal, and at the infra server),
  // but for a promote of the live release that lifts a pin: in a job, a change as unpin is.
  const pin =
    ofAJob && action === 'promote' ? await (await import('../../state/pin.ts')).readPin(site) : null;
  if (planned.noop && pin === null) return bound;
  if (flags.yes) {
    const [{ FrontendOpsError }, { describeRefusedChange }, { capitalise }] = await Promise.all([
      import('../../errors.ts'),
      import('../../engine/describe.ts'),
      import('../../engine/text.ts'),
    ]);
    // A refusal first says what the change would have done, as its approver would be told: a promote
    // of the live release changes no file, but the pin goes (not "nothing to do").
    const change = `${capitalise(describeRefusedChange(action, planned.plan, pin))}. `;
    const configured = inForce?.configured.github;
    if (inForce && (!configured || configured.actions.includes(action))) {
      if (!inForce.policy.github?.actions.includes(action)) {
        const { howToAdopt, notRecorded } = await import('../../state/approval-policy.ts');
        const stack = site.target.stack;
        throw new FrontendOpsError(
          'APPROVAL_REQUIRED',
          `${change}${stack} is a protected environment: in a GitHub Actions job, --yes is the approval of the GitHub environment that approves its changes, but ${
            configured
              ? notRecorded(inForce, stack, 'job').join('; ')
              : `the audit log records the GitHub environment "${github?.environment}" of ${github?.repository} as the one that approves them, which frontendops.config.json no longer names`
          }. Nothing was changed. ${capitalise(howToAdopt(inForce, stack))}; or run it from a terminal.`,
        );
      }
    }
    if (github && !github.actions.includes(action)) {
      const stack = site.target.stack;
      const notYet = inForce ? await notCountingYet(inForce, action, stack) : '';
      throw new FrontendOpsError(
        'APPROVAL_REQUIRED',
        `${change}${stack} is a protected environment: in a GitHub Actions job, --yes is the approval of the "${github.environment}" environment's reviewers, which covers ${github.actions.join(' and ')} (approval.github.actions), not ${action}. Nothing was changed. Add "${action}" to approval.github.actions of ${stack} in frontendops.config.json${notYet || ','} or run it from a terminal.`,
      );
    }
    return inForce?.policy.github ? jobApproval(ctx, site, action, inForce, planned, change) : bound;
  }
  await confirmOnTerminal(ctx, site, planned, git, verb);
  return bound;
}

/**
 * `unpin` in a GitHub Actions job on a protected stack whose policy names the environment that
 * approves its jobs: lifting a pin (an operator's freeze, a rollback's) lets the job's deploys make
 * any release live, an older one included, which is what a promote does in one step, so it needs that
 * environment to approve promote, in the configuration and the audit log's record (approveIfProtected
 * judges a job's --yes the same way). Anywhere else unpinning needs no approval: it changes nothing
 * visitors get.
 */
export async function assertJobMayUnpin(ctx: CliContext, site: Site): Promise<void> {
  if (!site.protected || !inAJob(ctx)) return;
  const inForce = await (await import('../../state/approval-in-force.ts')).approvalInForce(site);
  const github = jobEnvironment(ctx, inForce);
  if (!github || inForce.policy.github?.actions.includes('promote')) return;
  const { FrontendOpsError } = await import('../../errors.ts');
  const stack = site.target.stack;
  const notYet = await notCountingYet(inForce, 'promote', stack);
  throw new FrontendOpsError(
    'APPROVAL_REQUIRED',
    `${stack} is a protected environment: in a GitHub Actions job, unpin lifts the pin, after which the job's deploys can make any release live, an older one included, as a promote does; the "${github.environment}" environment's reviewers approve ${github.actions.join(' and ')} (approval.github.actions), not promote. Nothing was changed. Add "promote" to approval.github.actions of ${stack} in frontendops.config.json${notYet || ','} or unpin from a terminal: \`frontendops unpin --stack ${stack}\`.`,
  );
}

/**
 * Why adding `action` to approval.github.actions would not be enough by itself, where the audit log
 * records a policy (approval-policy.ts): what it would still not record, and how that is adopted, in
 * the words every other such refusal uses. Empty where nothing is recorded (the configuration counts
 * until the first approved change records it). It ends with the separator before the terminal's way.
 */
async function notCountingYet(
  inForce: PolicyInForce,
  action: ApprovalAction,
  stack: string,
): Promise<string> {
  const github = inForce.configured.github;
  if (!inForce.recorded || !github) return '';
  const { howToAdopt, notRecorded, policyInForce } = await import('../../state/approval-policy.ts');
  const widened = policyInForce(
    { ...inForce.configured, github: { ...github, actions: [...github.actions, action] } },
    inForce.recorded,
  );
  const missing = notRecorded(widened, stack, 'job');
  return missing.length > 0
    ? `, which alone does not make it count: ${missing.join('; ')}; ${howToAdopt(widened, stack)};`
    : '';
}

/**
 * A job's --yes that counted (its environment's approval): the run's authorize holds its plan to
 * `planned` as boundTo does, then records the approval used as every other is (consumeApproval), with
 * the policy in force, so the first job's yes records the configured one (trust on first use) and a
 * later one adopts nothing its reviewers were not shown, as the infra server's OIDC approval does.
 * As that one, it is the run attempt's one approval of `action` (githubRunKey): a second deploy of the
 * same attempt, through the CLI or the infra server, is refused, the first one named.
 */
async function jobApproval(
  ctx: CliContext,
  site: Site,
  action: ApprovalAction,
  inForce: PolicyInForce,
  planned: DeploySummary,
  /** What the change would do, as its refusals say first (approveIfProtected). */
  change: string,
): Promise<Pick<DeployOptions, 'authorize'>> {
  const github = inForce.policy.github;
  if (!github) return boundTo(planned);
  const [
    { assertApprovedChange, consumeApproval, usedFor },
    { githubEnvironmentBy, githubRunKey },
    { FrontendOpsError },
    { adoptedNothingWords, approvedByOf },
  ] = await Promise.all([
    import('../../state/approvals.ts'),
    import('../../approval/github-oidc.ts'),
    import('../../errors.ts'),
    import('../../state/approval-policy.ts'),
  ]);
  const { env } = ctx.io;
  const stack = site.target.stack;
  const approves = `${change}${stack} is a protected environment: in a GitHub Actions job, --yes is the approval of the "${github.environment}" environment's reviewers for one ${action} per run attempt`;
  const run = { run_id: env.GITHUB_RUN_ID, run_attempt: env.GITHUB_RUN_ATTEMPT, actor: env.GITHUB_ACTOR };
  if (!run.run_id || !run.run_attempt) {
    throw new FrontendOpsError(
      'APPROVAL_REQUIRED',
      `${approves}, but GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, which GitHub sets for every step, are not set. Nothing was changed. Run it as a step of the job with GitHub's variables, or from a terminal.`,
    );
  }
  const nonce = githubRunKey({ ...run, repository: github.repository }, action);
  const usedBefore = (used: Awaited<ReturnType<typeof usedFor>>) =>
    new FrontendOpsError(
      'APPROVAL_REQUIRED',
      `${approves}, and run ${run.run_id} attempt ${run.run_attempt} used it for the ${action} ${used?.deployId ?? 'unknown'} at ${used?.usedAt ?? 'an unknown time'}. Nothing was changed. Re-run the job (a new attempt, which the environment's reviewers approve again), or run it from a terminal.`,
    );
  // Said before the run waits for the lock; under it, consumeApproval decides.
  const usedAlready = await usedFor(site, nonce);
  if (usedAlready) throw usedBefore(usedAlready);
  const by = githubEnvironmentBy(github, run);
  return {
    authorize: async (plan, context) => {
      assertApprovedChange(planned.plan, plan, context);
      const approval = { by, via: 'github-environment' as const };
      const first = await consumeApproval(site, nonce, {
        action,
        deployId: plan.deployId,
        approval,
        now: Date.now(),
        judged: inForce,
        records: inForce.policy,
      });
      if (!first) throw usedBefore(await usedFor(site, nonce));
      // It counted, recording the policy in force: what the configuration adds beyond it is said, in
      // the words of the infra server's approvedBy, since its reviewers were not shown it.
      const note = adoptedNothingWords(inForce, 'its reviewers were not shown it');
      if (note) say(ctx.io.stderr, `approved by ${approvedByOf({ ...approval, note })}`);
      return { nonce, ...approval };
    },
  };
}

/** The run's authorize: its plan under the lock must be the change `planned` (changeDigest). */
async function boundTo(planned: DeploySummary): Promise<Pick<DeployOptions, 'authorize'>> {
  const { assertApprovedChange } = await import('../../state/approvals.ts');
  return {
    authorize: async (plan, context) => {
      assertApprovedChange(planned.plan, plan, context);
      return undefined;
    },
  };
}

/** A person must say yes to a change of a protected environment, after seeing what it will do. */
export async function confirmOnTerminal(
  ctx: CliContext,
  site: Site,
  preview: DeploySummary,
  git: GitHost | null,
  verb?: string,
): Promise<void> {
  const { describePlan } = await import('../../engine/describe.ts');
  const { FrontendOpsError } = await import('../../errors.ts');
  const what = `${verb ? `${verb}: ` : ''}${describePlan(preview.plan)}`;
  if (!ctx.io.stdin.isTTY) {
    throw new FrontendOpsError(
      'APPROVAL_REQUIRED',
      `${needsApproval(site, what)} Run it in a terminal and answer the prompt, or pass --yes to approve. Nothing was changed.`,
    );
  }
  // What is in it, before the question: commits, files by kind, the CDN refresh.
  for (const line of await contentsLines(ctx, site, preview, git)) say(ctx.io.stderr, line);
  const { askYesNo } = await import('../../terminal-ask.ts');
  const output = ctx.io.stderr as NodeJS.WritableStream;
  if (!(await askYesNo(`${site.target.stack} is protected. Approve: ${what}?`, ctx.io.stdin, output))) {
    throw new FrontendOpsError(
      'DENIED',
      `Not approved: "${what}" was declined at the prompt. Nothing was changed.`,
    );
  }
}

export async function progressPrinter(ctx: CliContext, verbose = false) {
  const { createProgressPrinter } = await import('../progress.ts');
  return createProgressPrinter(ctx.io.stderr, { verbose });
}

/** The commits (git host), files by kind and CDN refresh of a planned change, as lines. */
async function contentsLines(
  ctx: CliContext,
  site: Site,
  summary: DeploySummary,
  git: GitHost | null,
): Promise<string[]> {
  return planContentsLines(ctx, site, summary.plan, git);
}

/** What a planned change carries, as lines: the commits it adds (git host), files by kind, the CDN refresh. */
export async function planContentsLines(
  ctx: CliContext,
  site: Site,
  plan: DeploySummary['plan'],
  git: GitHost | null,
): Promise<string[]> {
  const [{ readPlanContents, readReleaseCommits }, { releaseContentsLines }] = await Promise.all([
    import('../../read/contents.ts'),
    import('../../read/contents-text.ts'),
  ]);
  const { appPath } = await loadCliConfig(ctx);
  const [contents, commits] = await Promise.all([
    readPlanContents(site, plan),
    readReleaseCommits(git, { from: plan.fromCommit, to: plan.commit, path: appPath, kind: plan.kind }),
  ]);
  return releaseContentsLines({ commits, contents });
}

export async function finish(
  ctx: CliContext,
  site: Site,
  done: DeploySummary,
  flags: CommonFlags,
  git: GitHost | null,
  /** `promote`: the deploy that goes past the pin and lifts it, said as such (its dry run too). */
  as?: 'promote',
): Promise<void> {
  // What the pin does to a deploy past it, as its run will say it (a promote goes past it). A run
  // refused in place before it finishes a stopped change finishes nothing: its dry run names none
  // (asItRuns), and its refusal names the change it leaves.
  const ahead =
    done.dryRun && done.kind === 'deploy' && as !== 'promote'
      ? await import('../../deploy/pin-ahead.ts').then(async (m) => {
          const judged = await m.pinnedAhead(site, done);
          return { refusal: m.refusedByView(judged.refusal), summary: m.asItRuns(done, judged) };
        })
      : null;
  const summary = ahead?.summary ?? done;
  const refusal = ahead?.refusal ?? null;
  // The change is made and recorded: a tag that failed is a step after it, so the run failed (1),
  // never a refusal (2, "nothing was changed"). The summary still follows.
  const { tag, firstTag, firstUntagged, untagged }: TagsMade = await tagIfDeployed(
    ctx,
    site,
    summary,
    flags,
    git,
  ).catch(untaggedBy);
  const json = {
    ...summaryJson(summary, as === 'promote'),
    ...(refusal ? { refusedBy: refusal } : {}),
    siteUrl: site.target.siteUrl ?? null,
    tag: tag ?? null,
    // The deploy tag of the stopped change it finished first (finishedFirst), made before its own.
    ...(firstTag ? { finishedFirstTag: firstTag } : {}),
    // Why that tag was not made, as the note on stderr says it.
    ...(firstUntagged ? { finishedFirstUntagged: firstUntagged } : {}),
  };
  const takenDown = await rolledBackNote(site, summary);
  if (summary.outcome === 'failed' || untagged) ctx.exitCode = 1;
  if (untagged) {
    say(
      ctx.io.stderr,
      `error: ${summary.app}@${summary.commit.slice(0, 7)} is live and recorded, but its deploy tag was not made: ${untagged}`,
    );
  }
  if (flags.json) printJson(ctx, { ...json, ...(takenDown ? { rolledBackAway: takenDown } : {}) });
  else {
    // A stopped change this run finished, or a dry run's run finishes, is said in the words every
    // surface uses (engine/describe.ts), as what it was.
    const stopped = summary.finishes ?? (summary.noop ? summary.finishedInterrupted : undefined);
    const words = stopped && (await import('../../engine/describe.ts'));
    const finishing =
      words &&
      (summary.finishes
        ? words.describeFinish(summary.finishes, summary.stack, as === 'promote')
        : summary.finishedInterrupted && words.describeFinished(summary.finishedInterrupted));
    report(ctx, summary, json, as, finishing || undefined);
    // A stopped change of another release, which the run finishes (or finished) before this plan.
    if (summary.finishesFirst || summary.finishedFirst) {
      const { describeFinish, describeFinished } = await import('../../engine/describe.ts');
      say(
        ctx.io.stdout,
        `  first: ${summary.finishesFirst ? describeFinish(summary.finishesFirst, summary.stack, as === 'promote') : summary.finishedFirst && describeFinished(summary.finishedFirst)}`,
      );
      if (firstTag) say(ctx.io.stdout, `  its tag: ${firstTag}`);
    }
    if (takenDown) say(ctx.io.stdout, `  note: ${takenDown}`);
    if (summary.dryRun && !summary.noop)
      for (const line of await contentsLines(ctx, site, summary, git)) say(ctx.io.stdout, `  ${line}`);
    // A run that only finishes a stopped change does to the pin what its kind does (a stopped
    // promote had not lifted it yet), unless that change is a rollback, whose pin describeFinish says.
    if (summary.dryRun && (!summary.noop || (summary.finishes && !summary.finishes.pins))) {
      const [{ describePin }, { readPinAsRecorded }] = await Promise.all([
        import('../../state/pin.ts'),
        import('../../state/recorded-state.ts'),
      ]);
      if (summary.kind === 'rollback')
        say(
          ctx.io.stdout,
          `  note: a rollback pins ${site.target.stack} to the release it goes back to: ${PIN_EFFECT}.`,
        );
      // Who pinned is told only as the audit chain records it (a forged pin is refused, as the run would).
      const pin = as === 'promote' ? await readPinAsRecorded(site) : null;
      if (pin && pin.commit !== summary.commit)
        say(
          ctx.io.stdout,
          `  note: ${site.target.stack} is pinned to ${describePin(pin)}; this promote goes past it and lifts the pin.`,
        );
    }
    if (refusal)
      say(ctx.io.stdout, `  note: a deploy would be refused (${refusal.code}): ${refusal.message}`);
  }
  if (flags.open && site.target.siteUrl && !summary.dryRun && summary.outcome !== 'failed') {
    await ctx.io.openUrl?.(site.target.siteUrl);
  }
}

/**
 * A change that makes live again a release someone rolled back away from (it was taken down on
 * purpose) says so, from the recent history: a note, never a refusal. Read after the change (or its
 * dry run), so it adds no request before it.
 */
async function rolledBackNote(site: Site, summary: DeploySummary): Promise<string | null> {
  if (summary.noop || summary.outcome === 'failed') return null;
  const { rolledBackAway, describeRolledBackAway } = await import('../../read/history.ts');
  const rollback = await rolledBackAway(site, summary).catch(() => null);
  return rollback && describeRolledBackAway(rollback);
}

/**
 * A run's deploy tags: its own (or why not: untagged, a failure after the change), and the one of a
 * stopped change it finished first (or why not).
 */
interface TagsMade {
  tag?: string;
  untagged?: string;
  firstTag?: string;
  firstUntagged?: string;
}

/**
 * Every deploy path makes the deploy tag; without a repository here it is skipped, saying so. A
 * stopped change the run finished first (finishedFirstRecord) gets its own tag too, made first.
 */
async function tagIfDeployed(
  ctx: CliContext,
  site: Site,
  summary: DeploySummary,
  flags: CommonFlags,
  known: GitHost | null,
): Promise<TagsMade> {
  // A no-op that finished an interrupted change of this release tags that change, which went live
  // and was recorded now (the run that made it live stopped before its tag): taggedChange.
  const done = summary.noop ? summary.finishedInterrupted : undefined;
  const own = !(summary.noop && !done) && summary.outcome !== 'failed';
  const first = summary.finishedFirstRecord;
  if (!flags.tag || summary.dryRun || (!own && !first)) return {};
  const git = known ?? (await openGit(ctx, flags));
  if (!git) {
    const why = 'not in a git repository (pass --repo <dir> or --github <owner/repo>)';
    ctx.io.stderr.write(noteLine(`no deploy tag: ${why}`));
    return first ? { firstUntagged: why } : {};
  }
  const [{ createDeployTag, finishedFirstTag, taggedChange, tagRequest }, { isFrontendOpsError }] =
    await Promise.all([import('../../git/deploy-tag.ts'), import('../../errors.ts')]);
  // Every tag's words with the stack's secrets hidden: the agent can list tags (tagRequest).
  const firstInput = finishedFirstTag(summary, site.target);
  // Its tag not made is said (on stderr, and why in --json), and never keeps the run's own from being made.
  let firstUntagged: string | undefined;
  const firstTag = firstInput
    ? await createDeployTag(git, firstInput).then(
        (made) => made.name,
        (error: unknown) => {
          if (!isFrontendOpsError(error)) throw error;
          firstUntagged = error.message;
          // The host's refusal (git's output, GitHub's answer) is quoted: noteLine escapes it.
          ctx.io.stderr.write(
            noteLine(`no deploy tag for ${firstInput.deployId}, finished first: ${error.message}`),
          );
          return undefined;
        },
      )
    : undefined;
  const firstSaid = { ...(firstTag ? { firstTag } : {}), ...(firstUntagged ? { firstUntagged } : {}) };
  if (!own) return firstSaid;
  // Its own tag not made (untagged) keeps what was said of the first's.
  const ownTag = await createDeployTag(git, {
    sha: summary.commit,
    request: tagRequest(summary.request, site.target),
    app: summary.app,
    stack: summary.stack,
    ...taggedChange(summary),
  }).then((made) => ({ tag: made.name }), untaggedBy);
  return { ...ownTag, ...firstSaid };
}

/** The run's own deploy tag not made, and why: the run failed after its change (finish). */
function untaggedBy(error: unknown): { untagged: string } {
  return { untagged: error instanceof Error ? error.message : String(error) };
}

/** The one summary object of --json: deploy id, commit, counts, invalidation, verification, duration. */
export function summaryJson(
  summary: DeploySummary,
  /** A promote: it lifts the pin a rollback it finishes would set (describeFinish's liftsPin). */
  liftsPin = false,
) {
  return {
    deployId: summary.deployId,
    kind: summary.kind,
    stack: summary.stack,
    app: summary.app,
    commit: summary.commit,
    artifactDigest: summary.artifactDigest,
    outcome: summary.outcome,
    dryRun: summary.dryRun,
    copied: summary.dryRun ? summary.plan.copies.length : summary.copied,
    unchanged: summary.unchanged,
    pruned: summary.dryRun ? summary.plan.prune.length : summary.pruned,
    retained: summary.retained.length,
    invalidation: {
      paths: summary.invalidation?.paths ?? summary.plan.invalidationPaths,
      ids: summary.invalidation?.ids ?? [],
    },
    verification: summary.verification,
    durationMs: summary.durationMs,
    ...(summary.request.message ? { message: summary.request.message } : {}),
    ...(summary.rolledBackTo ? { rolledBackTo: summary.rolledBackTo } : {}),
    ...(summary.plan.unretained?.length ? { unretained: summary.plan.unretained } : {}),
    ...(summary.pinned ? { pinned: summary.pinned } : {}),
    ...(summary.unpinned ? { unpinned: summary.unpinned } : {}),
    ...(summary.finishedInterrupted ? { finishedInterrupted: summary.finishedInterrupted.deployId } : {}),
    ...(summary.finishes ? { finishes: summary.finishes.deployId } : {}),
    ...(summary.finishesFirst ? { finishesFirst: summary.finishesFirst.deployId } : {}),
    ...(summary.finishedFirst ? { finishedFirst: summary.finishedFirst.deployId } : {}),
    // A dry run's: the pin its run sets or leaves (a rollback's, or the stopped rollback's it
    // finishes), under the run's name and in a pin's shape, but when it is set.
    ...(summary.dryRun ? pinTheRunLeaves(summary, liftsPin) : {}),
    ...(summary.error ? { error: summary.error } : {}),
    ...atomicJson(summary),
  };
}

/**
 * The pin a dry run's run sets or leaves: a rollback pins its release (its finish of a stopped
 * rollback of it, that rollback's pin); a deploy leaves the pin of a stopped rollback it finishes; a
 * promote lifts it.
 */
function pinTheRunLeaves(summary: DeploySummary, liftsPin: boolean): { pinned?: PinAhead } {
  const stopped = summary.finishes ?? summary.finishesFirst;
  const byStopped = stopped?.pins ? stoppedRollbackPin(summary.stack, stopped) : null;
  if (summary.kind === 'rollback') {
    if (summary.finishes?.pins && byStopped) return { pinned: byStopped };
    const deployId =
      summary.finishes?.deployId ??
      (summary.noop ? (summary.plan.fromDeployId ?? summary.deployId) : summary.deployId);
    return { pinned: rollbackPinAhead(summary.stack, { ...summary, deployId }, summary.request) };
  }
  return byStopped && !liftsPin ? { pinned: byStopped } : {};
}

/** Atomic releases: which release, and what the release pointer says afterwards. */
function atomicJson(
  summary: DeploySummary,
): Partial<Pick<AtomicSummary, 'mode' | 'op' | 'releaseId' | 'pointer' | 'canary' | 'drift'>> {
  const atomic = summary as Partial<AtomicSummary>;
  if (atomic.mode !== 'atomic') return {};
  return {
    mode: 'atomic' as const,
    ...(atomic.op ? { op: atomic.op } : {}),
    ...(atomic.releaseId ? { releaseId: atomic.releaseId } : {}),
    ...(atomic.pointer ? { pointer: atomic.pointer } : {}),
    canary: atomic.canary ?? null,
    ...(atomic.drift !== undefined ? { drift: atomic.drift } : {}),
  };
}

function report(
  ctx: CliContext,
  summary: DeploySummary,
  s: ReturnType<typeof summaryJson> & { siteUrl: string | null; tag: string | null },
  verb?: string,
  /**
   * The stopped change this run finished (describeFinished), or a dry run's run finishes
   * (describeFinish), said.
   */
  finishing?: string,
): void {
  const out = ctx.io.stdout;
  const what = `${verb ?? s.op ?? s.kind} ${s.app}@${s.commit.slice(0, 7)} → ${s.stack}`;
  if (summary.dryRun && finishing) {
    say(out, `dry run: ${what} would ${finishing}. Nothing changed.`);
    return;
  }
  if (summary.dryRun) {
    say(
      out,
      `dry run: ${what} would copy ${s.copied}, keep ${s.unchanged}, prune ${s.pruned}, invalidate ${s.invalidation.paths.length} path(s). Nothing changed.`,
    );
    // An atomic release's files other than its shared assets go under its own prefix: said so.
    for (const copy of summary.plan.copies)
      say(
        out,
        `  copy ${copy.path}${copy.key === copy.path.slice(1) ? '' : ` as /${copy.key}`} (${copy.reason})`,
      );
    for (const key of summary.plan.prune) say(out, `  prune /${key}`);
    sayUnretained(ctx, summary);
    return;
  }
  if (summary.noop) {
    say(
      out,
      finishing
        ? `${what}: ${finishing}.`
        : `${what}: already live${summary.plan.fromDeployId ? ` (as ${summary.plan.fromDeployId})` : ''}, nothing to do.`,
    );
    if (s.tag) say(out, `  tag: ${s.tag}`);
    if (summary.kind === 'rollback' && summary.pinned?.cause === 'rollback')
      say(
        out,
        `  it is live by a rollback (${summary.pinned.at}, by ${summary.pinned.by}); to go back further, name the release: \`frontendops rollback --to <deploy id or commit>\``,
      );
    // A deploy that finished a stopped rollback of its release: that rollback's pin stays.
    if (summary.pinned && summary.kind === 'deploy' && summary.finishedInterrupted)
      say(out, `  note: ${finishedRollbackPin(s.stack, `${s.app}@${s.commit.slice(0, 7)}`, true)}.`);
    sayPinChange(out, summary, summary.kind === 'deploy' && summary.finishedInterrupted ? null : 'pinned');
    return;
  }
  say(
    out,
    `${what}: ${s.outcome} (${s.deployId}) in ${(s.durationMs / 1000).toFixed(1)}s — copied ${s.copied}, unchanged ${s.unchanged}, pruned ${s.pruned}, ${s.retained} release(s) retained`,
  );
  sayUnretained(ctx, summary);
  if (s.invalidation.ids.length)
    say(out, `  invalidated ${s.invalidation.paths.join(' ')} (${s.invalidation.ids.join(', ')})`);
  if (s.mode === 'atomic' && s.pointer) {
    say(
      out,
      `  release ${s.releaseId}: one key write, nothing invalidated — ${s.pointer.canary ? `${s.pointer.weight ?? 0}% of visitors on the canary ${s.pointer.canary}, the rest on ${s.pointer.live}` : `everyone on ${s.pointer.live}`}`,
    );
  }
  if (s.verification)
    say(out, `  verification: ${s.verification.ok ? 'ok' : 'FAILED'} — ${s.verification.detail}`);
  if (summary.rolledBackTo) say(out, `  ${switchedBack(summary.rolledBackTo)}`);
  sayPinChange(out, summary, `pinned to ${s.commit.slice(0, 7)}`);
  if (s.tag) say(out, `  tag: ${s.tag}`);
  if (s.siteUrl && s.outcome === 'succeeded') say(out, `  live at ${s.siteUrl}`);
}

/**
 * What the change did to the pin: set it (`pinned`, the line's head; null: said otherwise, as a
 * finished rollback's), what it replaced, or lifted it.
 */
function sayPinChange(out: CliContext['io']['stdout'], summary: DeploySummary, pinned: string | null): void {
  if (summary.pinned && pinned)
    say(out, `  ${pinned}: ${PIN_EFFECT} (\`frontendops promote\`, \`frontendops unpin\`)`);
  if (summary.pinned?.replaces)
    say(out, `  this pin replaces ${describeReplacedPin(summary.pinned.replaces)}`);
  if (summary.unpinned)
    say(out, `  pin cleared (it was set by ${summary.unpinned.by}): deploys go through again`);
}

/** The releases a change stops retaining (the ones whose files its prune takes), by name. */
function sayUnretained(ctx: CliContext, summary: DeploySummary): void {
  for (const release of summary.plan.unretained ?? [])
    say(
      ctx.io.stdout,
      `  no longer retained: ${release.app}@${release.commit.slice(0, 7)} (${release.deployId})`,
    );
}
