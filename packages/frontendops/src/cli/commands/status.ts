import type { Command } from 'commander';
import { verifyAudit } from '../../state/audit.ts';
import { DEFAULT_STACK, printJson, withStack } from '../context.ts';

export function registerStatusCommands(program: Command): void {
  program
    .command('status')
    .description('What is live on the stack, the retained releases, and any interrupted deploy')
    .option('--stack <ref>', 'stack name or outputs JSON file', DEFAULT_STACK)
    .option('--json', 'print one JSON object')
    .action(async (flags: { stack: string; json?: boolean }) => {
      await withStack(flags.stack, async (env) => {
        const pointer = (await env.records.readPointer())?.value ?? null;
        const record = pointer ? await env.records.readRecord(pointer.deployId) : null;
        const pending = await env.records.readPending();
        const status = {
          stack: env.target.stack,
          siteUrl: env.target.siteUrl ?? null,
          live: pointer && {
            deployId: pointer.deployId,
            app: pointer.app,
            commit: pointer.commit,
            releasedAt: pointer.releasedAt,
            by: record?.request.actor ?? null,
            request: record?.request.text ?? null,
          },
          releases: pointer?.releases ?? [],
          pending: pending && {
            deployId: pending.plan.deployId,
            commit: pending.plan.commit,
            startedAt: pending.startedAt,
            pointerMoved: pending.pointerMoved,
          },
        };
        if (flags.json) return printJson(status);
        if (!status.live) return console.log(`${status.stack}: nothing deployed yet`);
        console.log(
          `${status.stack}: ${status.live.app}@${status.live.commit.slice(0, 7)} live since ${status.live.releasedAt} (${status.live.deployId}${status.live.by ? `, by ${status.live.by}` : ''})`,
        );
        if (status.siteUrl) console.log(`  site: ${status.siteUrl}`);
        console.log(
          `  retained: ${status.releases.map((r) => `${r.commit.slice(0, 7)} (${r.deployId})`).join(', ')}`,
        );
        if (status.pending)
          console.log(`  interrupted deploy ${status.pending.deployId}: run deploy again to finish it`);
      });
    });

  program
    .command('history')
    .description('Deployments of the stack, newest first')
    .option('--stack <ref>', 'stack name or outputs JSON file', DEFAULT_STACK)
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print one JSON object')
    .action(async (flags: { stack: string; limit: string; json?: boolean }) => {
      await withStack(flags.stack, async (env) => {
        const records = await env.records.listRecords(Math.max(1, Number(flags.limit) || 20));
        if (flags.json) return printJson({ stack: env.target.stack, deployments: records });
        if (records.length === 0) return console.log(`${env.target.stack}: no deployments yet`);
        for (const r of records) {
          console.log(
            `${r.finishedAt}  ${r.kind.padEnd(8)} ${r.app}@${r.commit.slice(0, 7)}  ${r.outcome.padEnd(10)} ${r.deployId}  copied ${r.copied.length}, deleted ${r.deleted.length}  by ${r.request.actor} (${r.request.planner})`,
          );
        }
      });
    });

  const audit = program.command('audit').description('The append-only, hash-chained audit log');
  audit
    .command('verify')
    .description('Check every entry of the audit chain; exits 1 if it was tampered with')
    .option('--stack <ref>', 'stack name or outputs JSON file', DEFAULT_STACK)
    .option('--json', 'print one JSON object')
    .action(async (flags: { stack: string; json?: boolean }) => {
      await withStack(flags.stack, async (env) => {
        const result = await verifyAudit(env.state, env.target.statePrefix);
        if (!result.ok) process.exitCode = 1;
        if (flags.json) return printJson(result);
        console.log(
          result.ok
            ? `audit chain of ${env.target.stack} verifies: ${result.entries} entries, head ${result.headHash ?? '(empty)'}`
            : `audit chain of ${env.target.stack} does NOT verify at entry ${result.problem?.seq}: ${result.problem?.reason}`,
        );
      });
    });
}
