/** `frontendops status`, `history` and `audit verify`: the read models, for a person or as JSON. */
import type { Command } from 'commander';
import { againCommand } from '../../deploy/again-command.ts';
import { escapeOnOneLine as oneLine } from '../../engine/text.ts';
import type { GitHost } from '../../ports.ts';
import { describeServed } from '../../read/served-words.ts';
import type { DeployTags } from '../../read/tags.ts';
import { describeReplacedPin } from '../../state/pin-words.ts';
import { type CliContext, parseWholeNumber, printJson, STACK_OPTION_HELP, withSite } from '../context.ts';
import { say } from '../io.ts';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description(
      'What is live on the stack, the retained releases, and any interrupted deploy; on atomic stacks, what the CDN serves (exits 1 if the live pointer, its record or the release store was changed outside FrontendOps)',
    )
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  $ frontendops status\n  $ frontendops status --stack prod --json')
    .action(async (flags: { stack?: string; json?: boolean }) => {
      const { readStatus } = await import('../../read/status.ts');
      const { describeCanary } = await import('../../read/views.ts');
      await withSite(ctx, flags.stack, async (site) => {
        const status = await readStatus(site, await tagsHere(ctx));
        // What visitors get is not what is recorded, and no FrontendOps operation explains it: the
        // answer's main line is not true. Failed, as `audit verify` fails on state changed around the chain.
        if (status.served?.state === 'changed-outside' || status.recorded.state === 'changed-outside')
          ctx.exitCode = 1;
        if (flags.json) return printJson(ctx, status);
        const out = ctx.io.stdout;
        const { live, served } = status;
        if (!live) {
          say(out, `${status.stack}: nothing deployed yet${status.protected ? ' (protected)' : ''}`);
        } else {
          say(
            out,
            `${status.stack}${status.protected ? ' (protected)' : ''}: ${live.app}@${live.commit.slice(0, 7)} live since ${live.releasedAt} (${live.deployId}${live.tag ? `, ${live.tag}` : ''})`,
          );
        }
        if (status.recorded.note)
          say(
            out,
            `  ${status.recorded.state === 'changed-outside' ? 'NOT AS RECORDED: ' : ''}${status.recorded.note}`,
          );
        const servedWords = describeServed(served);
        if (servedWords) say(out, `  ${servedWords}`);
        if (status.pending) say(out, `  ${describePending(status.pending)}`);
        if (!live) return;
        if (live.request) {
          say(
            out,
            `  by ${oneLine(live.request.actor)} via ${oneLine(live.request.planner)}: "${oneLine(live.request.text)}"${live.request.message ? ` — ${oneLine(live.request.message)}` : ''}`,
          );
        }
        if (status.siteUrl) say(out, `  site: ${status.siteUrl}`);
        say(
          out,
          `  retained: ${status.releases.map((r) => `${r.commit.slice(0, 7)} (${r.deployId})`).join(', ')}`,
        );
        if (status.pin) {
          const p = status.pin;
          say(
            out,
            `  PINNED to ${p.commit.slice(0, 7)} (${p.deployId}) by ${oneLine(p.by)}${p.cause === 'rollback' ? ' when rolling back' : ''} since ${p.at}${p.reason ? `: "${oneLine(p.reason)}"` : ''}`,
          );
          if (p.replaces) say(out, `  replacing ${describeReplacedPin(p.replaces)}`);
          say(
            out,
            '  deploys of other releases are refused until `frontendops promote [<commit>]` or `frontendops unpin`',
          );
        }
        if (status.canary) {
          say(out, `  canary: ${describeCanary(status.canary)}`);
          say(out, '  end it: `frontendops canary promote` or `frontendops canary abort`');
        }
        for (const preview of status.previews) {
          say(
            out,
            `  preview open: ${preview.app}@${preview.commit.slice(0, 7)} until ${preview.expiresAt} (asked by ${oneLine(preview.by)})`,
          );
        }
        say(out, `  releases: ${status.mode}`);
      });
    });

  program
    .command('history')
    .description('Deployments of the stack, newest first, as a table (a page at a time)')
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--limit <n>', 'how many', '20')
    .option('--before <cursor>', 'the next page: the cursor the previous page printed')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  $ frontendops history\n  $ frontendops history --stack prod --limit 50 --json',
    )
    .action(async (flags: { stack?: string; limit: string; before?: string; json?: boolean }) => {
      const [{ leftOutWords, readHistory }, { HISTORY_PAGE_MAX }, { historyTime }] = await Promise.all([
        import('../../read/history.ts'),
        import('../../read/history-page-max.ts'),
        import('../../read/views.ts'),
      ]);
      const limit = parseWholeNumber(flags.limit, '--limit', {
        min: 1,
        max: HISTORY_PAGE_MAX.reader,
        example: '20',
      });
      await withSite(ctx, flags.stack, async (site) => {
        const page = await readHistory(site, {
          limit,
          ...(flags.before ? { before: flags.before } : {}),
          tags: await tagsHere(ctx),
        });
        if (flags.json) return printJson(ctx, page);
        const leftOut = leftOutWords(page);
        if (leftOut) say(ctx.io.stdout, `${page.stack}: ${leftOut}`);
        for (const change of page.policyChanges) {
          say(ctx.io.stdout, `${historyTime({ finishedAt: change.at })} UTC  ${change.description}`);
        }
        if (page.deployments.length === 0) {
          // Every row of the page left out is not "no deployments": older pages may still hold some.
          if (!page.unrecorded) return say(ctx.io.stdout, `${page.stack}: no deployments yet`);
          if (page.next) say(ctx.io.stdout, `(older: frontendops history --before ${page.next})`);
          return;
        }
        const rows = page.deployments.map((d) => [
          historyTime(d),
          d.kind === 'canary-start' && d.canary?.percent !== undefined
            ? `${d.kind} ${d.canary.percent}%`
            : d.kind,
          `${d.app}@${d.commit.slice(0, 7)}`,
          d.outcome,
          d.deployId,
          d.tag ?? '-',
          `${d.copied}/${d.deleted}`,
          d.request.actor,
          d.approvedBy ?? '-',
          d.request.message ?? d.request.text,
        ]);
        for (const line of table(
          [
            'FINISHED (UTC)',
            'KIND',
            'RELEASE',
            'OUTCOME',
            'DEPLOY ID',
            'TAG',
            'COPIED/DELETED',
            'BY',
            'APPROVED BY',
            'WHY',
          ],
          rows,
        )) {
          say(ctx.io.stdout, line);
        }
        if (page.next) say(ctx.io.stdout, `(older: frontendops history --before ${page.next})`);
      });
    });

  const audit = program
    .command('audit')
    .description('The append-only, hash-chained audit log')
    .addHelpText(
      'after',
      '\nExamples:\n  $ frontendops audit verify\n  $ frontendops audit verify --stack prod --json',
    );
  audit
    .command('verify')
    .description(
      'Check every entry of the audit chain and of the publish log, the state objects the chain covers, and the chain heads the deploy tags anchor in git; exits 1 if anything was changed',
    )
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--repo <dir>', 'the git repository whose deploy tags anchor the chain (default: the one here)')
    .option('--github <owner/repo>', 'read the deploy tags from GitHub instead')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nExamples:\n  $ frontendops audit verify --stack prod\n  $ frontendops audit verify --stack prod --github acme/dashboard',
    )
    .action(async (flags: { stack?: string; json?: boolean; repo?: string; github?: string }) => {
      const [
        { verifySite, uncheckedNotes, untaggedNote, adoptionNotes },
        { readAuditAnchors },
        { selectGitHost },
      ] = await Promise.all([
        import('../../read/verify-site.ts'),
        import('../../read/tags.ts'),
        import('../../adapters/git-host.ts'),
      ]);
      await withSite(ctx, flags.stack, async (site) => {
        // Without git there is nothing outside the bucket to compare with: say so, never pass silently.
        const git = await selectGitHost(flags, ctx.io.env, ctx.io.cwd).catch((error: unknown) => {
          if (flags.repo || flags.github) throw error;
          return null;
        });
        const anchors = git ? await readAuditAnchors(git, site.target.stack) : [];
        // Atomic stacks: what the CDN serves is checked too, when its release store answers.
        const verification = await verifySite(site, anchors);
        const { result, releaseStore } = verification;
        if (!result.ok) ctx.exitCode = 1;
        if (flags.json) return printJson(ctx, result);
        const stack = site.target.stack;
        if (result.ok) {
          say(
            ctx.io.stdout,
            `audit chain of ${stack} verifies: ${result.entries} entries, ${result.objects} state objects, head ${result.headHash ?? '(empty)'}`,
          );
          say(
            ctx.io.stdout,
            `publish log of ${stack} verifies: ${result.publishLog.entries} entries, head ${result.publishLog.headHash ?? '(empty)'}` +
              (result.publishLog.anchors > 0
                ? `; it holds the head each of ${result.publishLog.anchors} deployment entr${result.publishLog.anchors === 1 ? 'y' : 'ies'} saw`
                : ''),
          );
          if (releaseStore?.checked) {
            say(ctx.io.stdout, `the CDN's release store of ${stack} names what the chain recorded last`);
          }
        } else {
          say(ctx.io.stdout, `audit of ${stack} does NOT verify:`);
          for (const problem of result.problems) say(ctx.io.stdout, `  ${describeProblem(problem)}`);
        }
        const { checked } = result.approvals;
        if (checked > 0) {
          say(
            ctx.io.stdout,
            `${checked} audit record(s) of signed approvals check out (an approval given and its use are a record each): each carries the statement its approver signed, with a key the approval policy the audit log recorded then lists under that name (the configuration, where it recorded none), used once within its hour`,
          );
        }
        say(
          ctx.io.stdout,
          anchors.length > 0
            ? `checked against ${anchors.length} deploy tag(s) in git`
            : git
              ? `note: no deploy tag of ${stack} carries an audit head here, so a rewritten chain could not be told apart; run it where the deploy tags are (--repo, --github)`
              : 'note: not in a git repository: the chain was not checked against the deploy tags that anchor it (pass --repo <dir> or --github <owner/repo>)',
        );
        const { untagged } = verification.result;
        if (untagged) say(ctx.io.stdout, `note: ${untaggedNote(untagged)}`);
        for (const note of uncheckedNotes(verification)) say(ctx.io.stdout, `note: ${note}`);
        for (const note of adoptionNotes(verification)) say(ctx.io.stdout, `note: ${note}`);
      });
    });
}

type PendingView = NonNullable<import('../../read/views.ts').StatusView['pending']>;

/** "interrupted deploy <id> of app@abc1234, started …: …, and what finishes it". */
function describePending(pending: PendingView): string {
  const op = pending.op ?? 'deploy';
  const what = `${pending.app ? `${pending.app}@` : ''}${pending.commit.slice(0, 7)}`;
  const head = `interrupted ${op} ${pending.deployId} of ${what}, started ${pending.startedAt}`;
  return pending.pointerMoved
    ? `${head}: it went live and is not recorded yet; the next deploy, rollback or canary change of this stack finishes it (so does running it again: \`${againCommand(pending)}\`)`
    : `${head}: it did not go live; run it again to finish it (\`${againCommand(pending)}\`); another change of this stack drops it, recorded as superseded`;
}

/** Deploy tags of the repository here, to show beside releases (none outside a repository). */
async function tagsHere(ctx: CliContext): Promise<DeployTags> {
  const [{ openLocalGit }, { readDeployTags }] = await Promise.all([
    import('../../adapters/git-local.ts'),
    import('../../read/tags.ts'),
  ]);
  const git: GitHost | null = await openLocalGit({ repoDir: ctx.io.cwd }).catch(() => null);
  return readDeployTags(git);
}

/** Left-aligned columns; the last column is not padded. */
/** A table, one line per row: a cell's line breaks are shown as \\n, so no text passes for a row. */
function table(headers: string[], rows: string[][]): string[] {
  const all = [headers, ...rows.map((row) => row.map(oneLine))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** "tampered (entry 2): its content does not match its hash": what, and where when the reason does not say. */
function describeProblem(problem: { kind: string; seq?: number; object?: string; reason: string }): string {
  const where =
    problem.seq !== undefined && !problem.reason.includes(`entry ${problem.seq}`)
      ? ` (entry ${problem.seq})`
      : problem.object !== undefined && !problem.reason.includes(problem.object)
        ? ` (${problem.object})`
        : '';
  return `${problem.kind}${where}: ${problem.reason}`;
}
