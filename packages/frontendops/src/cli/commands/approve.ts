/**
 * `frontendops approve <deployId> --stack <stack>`: a person answers an approval request the server
 * made, after seeing its plan, by signing it with their approver key (see ../approve-deploy.ts).
 * `frontendops approver init|show`: creates and shows that key.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { APPROVER_NAME } from '../../engine/ids.ts';
import type { ApprovalAction } from '../../ports.ts';
import {
  type CliContext,
  cliRequest,
  jobEnvironment,
  lockWait,
  printJson,
  STACK_OPTION_HELP,
  WAIT_OPTION,
  withSite,
} from '../context.ts';
import { type CliIo, printable, say } from '../io.ts';

/**
 * The infra server's tool that carries out an approved change (src/mcp/infra/): what the agent calls
 * again once it is approved. A promote is a release's (promote_release, whose request names the
 * release, `to`) or the running canary's (promote_canary). Each needs the action it answers, as the
 * tool contract says (test/mcp/approval-actions.test.ts holds the two equal; the contract's schemas
 * are not loaded here, in a command that starts fast).
 */
export function toolOfApproved(request: { action: ApprovalAction; to?: string | undefined }): string {
  switch (request.action) {
    case 'deploy':
      return 'run_sync';
    case 'rollback':
      return 'rollback';
    case 'canary':
      return 'start_canary';
    case 'promote':
      return request.to ? 'promote_release' : 'promote_canary';
    case 'abort':
      return 'abort_canary';
  }
}

/** An approver's name as the configuration lists it (its "approval.approvers" keys: APPROVER_NAME). */
async function checkApproverName(name: string): Promise<void> {
  if (APPROVER_NAME.test(name)) return;
  const [{ badInput }, { clip, escapeControlCharacters }] = await Promise.all([
    import('../../errors.ts'),
    import('../../engine/text.ts'),
  ]);
  const shown = JSON.stringify(name.length > 70 ? `${clip(name, 70)}…` : name);
  throw badInput(
    `Invalid --name ${escapeControlCharacters(shown)}: the configuration lists an approver by a name of 1 to 64 letters, digits, spaces and . _ @ ' - that starts with a letter or digit, so it would refuse this one. ` +
      'Pass your name as people know it, e.g. --name "Ada Lovelace". Nothing was created.',
  );
}

interface ApproveFlags {
  stack?: string;
  action?: string;
  key?: string;
  yes?: boolean;
  json?: boolean;
  repo?: string;
  github?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('approve')
    .description(
      'Approve a change of a protected stack that the agent asked for: shows its plan, then signs it with your approver key',
    )
    .argument('<deployId>', 'the deploy id the refusal message named')
    .option('--stack <ref>', STACK_OPTION_HELP)
    .option('--action <kind>', 'deploy, rollback, canary, promote or abort, when several wait under one id')
    .option(
      '--key <file>',
      'your approver key (default: $FRONTENDOPS_APPROVER_KEY, else ~/.config/frontendops/approver-key.pem)',
    )
    .option('--yes', 'approve the plan shown without asking')
    .option('--json', 'print the signed statement as JSON')
    .option(
      '--repo <dir>',
      'the git repository whose commits the change brings are shown (default: the working directory)',
    )
    .option(
      '--github <owner/repo>',
      'read the commits the change brings from GitHub (token from GITHUB_TOKEN)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ frontendops approve 3f2c1a9-0123456789 --stack dashboard-hosting-prod\n' +
        '  $ frontendops approve 3f2c1a9-0123456789 --stack dashboard-hosting-prod --repo ~/src/dashboard',
    )
    .action(async (deployId: string, flags: ApproveFlags) => {
      const [{ approveRequest }, keys, { badInput }] = await Promise.all([
        import('../approve-deploy.ts'),
        import('../../approval/keys.ts'),
        import('../../errors.ts'),
      ]);
      const { APPROVAL_ACTIONS } = await import('../../state/approvals.ts');
      const action = APPROVAL_ACTIONS.find((a) => a === flags.action);
      if (flags.action !== undefined && !action) {
        throw badInput(
          `--action must be one of ${APPROVAL_ACTIONS.join(', ')}, not "${flags.action.slice(0, 40)}".`,
        );
      }
      const keyPath = resolve(ctx.io.cwd, flags.key ?? keys.approverKeyPath(ctx.io.env));
      await withSite(ctx, flags.stack, async (site) => {
        const { statement, preview } = await approveRequest(site, {
          deployId,
          ...(action ? { action } : {}),
          request: cliRequest(ctx.io, `approve ${deployId.slice(0, 40)}`),
          // The passphrase is asked for once the file is known to be a private, encrypted key.
          loadKey: () =>
            keys.loadApproverKey(
              keyPath,
              async () =>
                ctx.io.env[keys.PASSPHRASE_ENV] ?? (await askHidden(ctx.io, `Passphrase for ${keyPath}: `)),
            ),
          confirm: async (shown, approver) => {
            // What the release carries, as the dry run and the console show it: the commits it adds
            // (from this repository when it is one, or the one --repo or --github names), files by
            // kind, the CDN refresh.
            const { openGit, planContentsLines } = await import('./deploy.ts');
            const carries = await planContentsLines(ctx, site, shown.plan, await openGit(ctx, flags));
            const lines = [
              `${site.target.stack} is protected. ${shown.request.requestedBy} asked at ${shown.request.requestedAt} to:`,
              `  ${shown.description}`,
              `  deploy id ${shown.request.deployId}; the request expires at ${shown.request.expiresAt}`,
              ...carries.map((line) => `  ${line}`),
              ...shown.plan.copies.slice(0, 20).map((c) => `  + ${c.path}`),
              ...(shown.plan.copies.length > 20 ? [`  … and ${shown.plan.copies.length - 20} more`] : []),
              ...shown.plan.prune.slice(0, 20).map((k) => `  - /${k}`),
              ...(shown.adopts ? [shown.adopts] : []),
            ];
            for (const line of lines) say(ctx.io.stderr, line);
            if (flags.yes) return true;
            return confirmOnTerminal(ctx.io, `Approve this as ${approver}?`);
          },
        });
        if (flags.json) return printJson(ctx, statement);
        say(
          ctx.io.stdout,
          `Approved by ${statement.approver}: ${preview.description} (deploy id ${statement.deployId}), once, until ${statement.expiresAt}. ` +
            `Ask the agent again: its next ${toolOfApproved(preview.request)} call for this change goes through, once.`,
        );
      });
    });

  const approver = program.command('approver').description('Your approver key, which signs approvals');
  approver
    .command('init')
    .description('Create your approver key and print the public key to list in frontendops.config.json')
    .option(
      '--key <file>',
      'where to keep it (default: $FRONTENDOPS_APPROVER_KEY, else ~/.config/frontendops/approver-key.pem)',
    )
    .option('--name <name>', 'your name, as the configuration will list you', 'your name')
    .action(async (flags: { key?: string; name: string }) => {
      await checkApproverName(flags.name);
      const keys = await import('../../approval/keys.ts');
      const path = resolve(ctx.io.cwd, flags.key ?? keys.approverKeyPath(ctx.io.env));
      const passphrase =
        ctx.io.env[keys.PASSPHRASE_ENV] ??
        (ctx.io.stdin.isTTY ? await askHidden(ctx.io, 'Passphrase to protect the key (empty: none): ') : '');
      const publicKey = await keys.createApproverKey(path, passphrase || undefined);
      say(
        ctx.io.stdout,
        `Created your approver key at ${path} (readable by you only${passphrase ? ', passphrase-protected' : ''}).`,
      );
      say(ctx.io.stdout, 'Keep it away from agents and CI. List its public key for each stack you approve:');
      say(ctx.io.stdout, `  "approval": { "approvers": { ${JSON.stringify(flags.name)}: "${publicKey}" } }`);
      say(
        ctx.io.stdout,
        `History and \`audit verify\` name it by its fingerprint, ${keys.keyFingerprint(publicKey)}.`,
      );
    });
  approver
    .command('show')
    .description('Print the public key of your approver key')
    .option(
      '--key <file>',
      'the key (default: $FRONTENDOPS_APPROVER_KEY, else ~/.config/frontendops/approver-key.pem)',
    )
    .action(async (flags: { key?: string }) => {
      const keys = await import('../../approval/keys.ts');
      const path = resolve(ctx.io.cwd, flags.key ?? keys.approverKeyPath(ctx.io.env));
      const key = await keys.loadApproverKey(
        path,
        async () => ctx.io.env[keys.PASSPHRASE_ENV] ?? (await askHidden(ctx.io, `Passphrase for ${path}: `)),
      );
      const publicKey = keys.encodePublicKey(key);
      say(ctx.io.stdout, publicKey);
      // The key alone on stdout, for scripts; how history names it, for people.
      say(
        ctx.io.stderr,
        `fingerprint (as history and \`audit verify\` name it): ${keys.keyFingerprint(publicKey)}`,
      );
    });
  program
    .command('approvers')
    .description("Who approves a protected stack's changes, as its audit log records it")
    .command('adopt')
    .description(
      "Record the approval policy in frontendops.config.json as the one the stack's audit log holds, without an approval: for when no approver it records can approve any more (lost keys). Needs the deployer's credentials",
    )
    .option('--stack <stack>', STACK_OPTION_HELP)
    .option('--yes', 'adopt without asking, after reading the difference printed first')
    .option(...WAIT_OPTION)
    .addHelpText(
      'after',
      "\nAn approval by an approver the audit log records adopts the configuration's policy too, with the change it approves: use this only when none of them can.\n\nExample:\n  $ frontendops approvers adopt --stack dashboard-hosting-prod",
    )
    .action(async (flags: { stack?: string; yes?: boolean; wait: string }) => {
      const waitMs = await lockWait(ctx, flags);
      const [policies, inForceOf, { FrontendOpsError }] = await Promise.all([
        import('../../state/approval-policy.ts'),
        import('../../state/approval-in-force.ts'),
        import('../../errors.ts'),
      ]);
      await withSite(ctx, flags.stack, async (site) => {
        const stack = site.target.stack;
        if (!site.protected) {
          throw new FrontendOpsError(
            'BAD_INPUT',
            `${stack} is not protected: no approval of its changes is asked, so there is no approval policy to adopt. Nothing was changed. To protect it, list it under "protected" in frontendops.config.json.`,
          );
        }
        const inForce = await inForceOf.approvalInForce(site);
        const changes = policies.policyChanges(inForce.recorded, inForce.configured);
        if (changes.length === 0) {
          say(
            ctx.io.stdout,
            `The audit log of ${stack} already records the approval policy in frontendops.config.json. Nothing was changed.`,
          );
          return;
        }
        say(
          ctx.io.stderr,
          `This adopts the approval policy in frontendops.config.json for ${stack} without an approval: it ${changes.join('; ')}.`,
        );
        // A job's --yes is its environment's approval of the actions it lists (deploy.ts
        // approveIfProtected), held where the configuration or the log names it: a job widening that
        // with a configuration of its own checkout is not the deployer's person adopting it.
        const github = jobEnvironment(ctx, inForce);
        if (flags.yes && github) {
          throw new FrontendOpsError(
            'APPROVAL_REQUIRED',
            `${stack} is a protected environment: in a GitHub Actions job, --yes is the approval of the "${github.environment}" environment's reviewers for what approval.github.actions lists, not of adopting an approval policy. Nothing was changed. Adopt it from a terminal: \`frontendops approvers adopt --stack ${stack}\`.`,
          );
        }
        if (!flags.yes) {
          if (!ctx.io.stdin.isTTY) {
            throw new FrontendOpsError(
              'APPROVAL_REQUIRED',
              'Adopting an approval policy needs a terminal to answer the question (or --yes, after reading the difference above). Nothing was changed.',
            );
          }
          if (!(await confirmOnTerminal(ctx.io, `Adopt it for ${stack}?`))) {
            throw new FrontendOpsError('DENIED', 'Not adopted: declined at the prompt. Nothing was changed.');
          }
        }
        const who = cliRequest(ctx.io, 'approvers adopt').actor;
        const entry = await inForceOf.adoptApprovalPolicy(site, who, Date.now(), { waitMs });
        say(
          ctx.io.stdout,
          `Adopted by ${who}: entry ${entry.seq} of the audit log of ${stack} records the approval policy in frontendops.config.json; approvals of its changes are held to it from now on.`,
        );
      });
    });
}

async function confirmOnTerminal(io: CliIo, question: string): Promise<boolean> {
  if (!io.stdin.isTTY) {
    const { FrontendOpsError } = await import('../../errors.ts');
    throw new FrontendOpsError(
      'APPROVAL_REQUIRED',
      'Approving needs a terminal to answer the question (or --yes, after reading the plan above). Nothing was approved.',
    );
  }
  const { askYesNo } = await import('../../terminal-ask.ts');
  return askYesNo(printable(question), io.stdin, io.stderr as NodeJS.WritableStream);
}

/** Reads a line without echoing it (a passphrase). */
async function askHidden(io: CliIo, question: string): Promise<string> {
  if (!io.stdin.isTTY) {
    const { badInput } = await import('../../errors.ts');
    const { PASSPHRASE_ENV } = await import('../../approval/keys.ts');
    throw badInput(
      `The approver key is passphrase-protected: type it in a terminal, or set ${PASSPHRASE_ENV}.`,
    );
  }
  const [{ createInterface }, { Writable }] = await Promise.all([
    import('node:readline/promises'),
    import('node:stream'),
  ]);
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  io.stderr.write(question);
  const rl = createInterface({ input: io.stdin, output: muted, terminal: true });
  const answer = await rl.question('');
  rl.close();
  io.stderr.write('\n');
  return answer;
}
