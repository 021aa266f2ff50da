import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { type DeploySummary, deployArtifact, rollbackRelease } from '../../deploy/deploy.ts';
import { readLatestPublished } from '../../deploy/publish.ts';
import { badInput, FrontendOpsError } from '../../errors.ts';
import { cliRequest, confirmProtected, DEFAULT_STACK, printJson, withStack } from '../context.ts';
import { createProgressPrinter } from '../progress.ts';

interface DeployFlags {
  app?: string;
  commit?: string;
  latest?: boolean;
  stack: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  wait: string;
}

export function registerDeployCommands(program: Command): void {
  program
    .command('deploy')
    .description(
      'Deploy a published artifact to the stack: plan, then copy, go live, prune, invalidate, verify',
    )
    .option('--app <name>', 'app name (default: the config app, sophia-dashboard)')
    .option('--commit <sha>', 'the published commit to deploy')
    .option('--latest', 'deploy the most recently published commit (the default without --commit)')
    .option('--stack <ref>', 'stack name or outputs JSON file', DEFAULT_STACK)
    .option('--dry-run', 'print the plan and change nothing')
    .option('--yes', 'approve a deploy to a protected environment')
    .option('--json', 'print one JSON summary object')
    .option('--wait <seconds>', 'how long to wait for another deploy of this stack to finish', '30')
    .action(async (flags: DeployFlags) => {
      if (flags.commit && flags.latest) throw badInput('Pass either --commit <sha> or --latest, not both.');
      await withStack(flags.stack, async (env, config) => {
        const app = flags.app ?? config.app;
        const commit = flags.commit ?? (await readLatestPublished(env.artifacts, app));
        if (!commit) {
          throw new FrontendOpsError(
            'NOT_FOUND',
            `No artifact of ${app} has been published yet. Publish a build first: frontendops publish <dir> --app ${app} --commit <sha>.`,
          );
        }
        const common = {
          request: cliRequest(`deploy ${app}@${commit}`),
          waitMs: parseSeconds(flags.wait),
          ...(flags.json ? {} : { onEvent: createProgressPrinter() }),
        };
        // The plan is read first only when a person must approve it.
        if (!flags.dryRun && needsApproval(config, env.target.stack, flags.yes)) {
          const plan = await deployArtifact(env, {
            ...common,
            app,
            commit,
            dryRun: true,
            onEvent: () => undefined,
          });
          if (!plan.noop)
            await confirmProtected(
              config,
              env.target.stack,
              `Deploy ${app}@${commit.slice(0, 7)} (${plan.plan.copies.length} files to copy)`,
              Boolean(flags.yes),
            );
        }
        const summary = await deployArtifact(env, { ...common, app, commit, dryRun: Boolean(flags.dryRun) });
        report(summary, Boolean(flags.json), env.target.siteUrl);
      });
    });

  program
    .command('rollback')
    .description('Roll back to a retained release (default: the previous one); moves only what differs')
    .option('--to <deployId|commit>', 'the deployment or commit to go back to')
    .option('--stack <ref>', 'stack name or outputs JSON file', DEFAULT_STACK)
    .option('--dry-run', 'print the plan and change nothing')
    .option('--yes', 'approve a rollback of a protected environment')
    .option('--json', 'print one JSON summary object')
    .option('--wait <seconds>', 'how long to wait for another deploy of this stack to finish', '30')
    .action(async (flags: Omit<DeployFlags, 'app' | 'commit' | 'latest'> & { to?: string }) => {
      await withStack(flags.stack, async (env, config) => {
        const common = {
          request: cliRequest(`rollback${flags.to ? ` to ${flags.to}` : ''}`),
          waitMs: parseSeconds(flags.wait),
          ...(flags.to ? { to: flags.to } : {}),
          ...(flags.json ? {} : { onEvent: createProgressPrinter() }),
        };
        if (!flags.dryRun && needsApproval(config, env.target.stack, flags.yes)) {
          const plan = await rollbackRelease(env, { ...common, dryRun: true, onEvent: () => undefined });
          await confirmProtected(
            config,
            env.target.stack,
            `Roll back to ${plan.app}@${plan.commit.slice(0, 7)} (${plan.plan.copies.length} files to copy)`,
            Boolean(flags.yes),
          );
        }
        report(
          await rollbackRelease(env, { ...common, dryRun: Boolean(flags.dryRun) }),
          Boolean(flags.json),
          env.target.siteUrl,
        );
      });
    });
}

/** The one summary object of --json (issue: deployId, commit, counts, invalidation, verification, duration). */
export function summaryJson(summary: DeploySummary) {
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
    ...(summary.rolledBackTo ? { rolledBackTo: summary.rolledBackTo } : {}),
    ...(summary.error ? { error: summary.error } : {}),
  };
}

function report(summary: DeploySummary, json: boolean, siteUrl: string | undefined): void {
  if (json) {
    printJson(summaryJson(summary));
    return;
  }
  const s = summaryJson(summary);
  const what = `${s.kind} ${s.app}@${s.commit.slice(0, 7)} → ${s.stack}`;
  if (summary.dryRun) {
    console.log(
      `dry run: ${what} would copy ${s.copied}, keep ${s.unchanged}, prune ${s.pruned}, invalidate ${s.invalidation.paths.length} path(s). Nothing changed.`,
    );
    for (const copy of summary.plan.copies) console.log(`  copy ${copy.path} (${copy.reason})`);
    for (const key of summary.plan.prune) console.log(`  prune /${key}`);
    return;
  }
  if (summary.noop) {
    console.log(`${what}: already live, nothing to do (${s.deployId}).`);
    return;
  }
  console.log(
    `${what}: ${s.outcome} (${s.deployId}) in ${(s.durationMs / 1000).toFixed(1)}s — copied ${s.copied}, unchanged ${s.unchanged}, pruned ${s.pruned}, ${s.retained} release(s) retained`,
  );
  if (s.invalidation.ids.length)
    console.log(`  invalidated ${s.invalidation.paths.join(' ')} (${s.invalidation.ids.join(', ')})`);
  if (s.verification)
    console.log(`  verification: ${s.verification.ok ? 'ok' : 'FAILED'} — ${s.verification.detail}`);
  if (summary.rolledBackTo) console.log(`  rolled back automatically (${summary.rolledBackTo})`);
  if (siteUrl && s.outcome === 'succeeded') console.log(`  live at ${siteUrl}`);
  if (s.outcome === 'failed') process.exitCode = 1;
}

const needsApproval = (config: Config, stack: string, yes: boolean | undefined) =>
  config.protected.includes(stack) && !yes;

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw badInput(`--wait takes a number of seconds (0 or more), got "${value}".`);
  return seconds * 1000;
}
