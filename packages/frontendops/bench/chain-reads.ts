/**
 * Reads of the whole audit chain as it grows. A change's own check reads only the newest entry, but
 * some reads take the whole chain: `audit verify`, and where a record must be one the chain binds (a
 * promote, redeploy or preview by deploy id, `rollback --to` a release the pointer no longer keeps,
 * the console's page of a deployment). A stack that has run for a year has thousands of entries.
 *
 * The stack gets agent-request entries (what the infra server's `record_request` appends, through
 * the engine's own appendAudit) up to each count, then a real deploy by the CLI, whose record is bound
 * near the newest entry. Timed, each the median of the samples with the S3 requests it made: `audit
 * verify` as a CLI process; in process, the whole chain read (readAudit) and what a promote, redeploy
 * or preview by that deploy's id pays to hold its record to the chain (recordStanding, read from the
 * newest entry back). With `--latency-ms`, every S3 request is held that long, as a bucket in a
 * region answers.
 */
import { join } from 'node:path';
import { createFileLocker } from '../src/adapters/lock-file.ts';
import { createS3Client, createS3Store } from '../src/adapters/s3.ts';
import { defaultStatePrefix } from '../src/engine/target.ts';
import { appendAudit, readAudit, readAuditHead, recordStanding } from '../src/state/audit.ts';
import type { DeploymentRecord } from '../src/state/records.ts';
import { deployArgs, mustSucceed, prepareCli, publishWithCli } from './cli.ts';
import { startFaultProxy } from './fault-proxy.ts';
import { generateBuilds } from './generate.ts';
import { markdownTable, medianOfRuns, seconds } from './report.ts';
import { ARTIFACTS, COMMIT_A, COMMIT_B, startServers } from './servers.ts';

export interface ChainReadsRow {
  entries: number;
  verify: { ms: number; requests: number; samplesMs: number[] };
  read: { ms: number; requests: number; samplesMs: number[] };
  held: { ms: number; requests: number; samplesMs: number[] };
}

export interface ChainReadsResult {
  latencyMs: number;
  rows: ChainReadsRow[];
}

const STACK = 'bench-chain';

export async function runChainReads(
  dir: string,
  counts: number[],
  samples: number,
  latencyMs: number,
): Promise<ChainReadsResult> {
  const servers = await startServers(dir, [STACK]);
  const proxy = latencyMs > 0 ? await startFaultProxy(servers.s3.endpoint, 0) : null;
  try {
    proxy?.setDelay(latencyMs);
    const endpoint = proxy?.endpoint ?? servers.s3.endpoint;
    const builds = await generateBuilds(join(dir, 'build'), {
      files: 20,
      bytes: 256 * 1024,
      changedFraction: 0.05,
      seed: 13,
    });
    const cli = await prepareCli(
      join(dir, 'cli'),
      {
        stack: STACK,
        artifactsBucket: ARTIFACTS,
        hostingBucket: STACK,
        region: 'us-east-1',
        endpoint,
        distributionId: servers.cdn.distributionId,
      },
      { credentials: servers.credentials, cdnEndpoint: servers.cdn.endpoint },
    );
    await publishWithCli(cli, [
      [builds.base.dir, COMMIT_A],
      [builds.rebuild.dir, COMMIT_B],
    ]);
    const prefix = defaultStatePrefix(STACK);
    // Appends go straight to the server; reads through the proxy when one holds requests.
    const direct = servers.store(ARTIFACTS);
    const through = createS3Store({
      bucket: ARTIFACTS,
      client: createS3Client({ endpoint, credentials: servers.credentials }),
    });
    const locker = createFileLocker(join(dir, 'locks'));
    const rows: ChainReadsRow[] = [];
    for (const count of counts) {
      let seq = (await readAuditHead(direct, prefix))?.seq ?? 0;
      while (seq < count) {
        const entry = await appendAudit(direct, prefix, locker, {
          type: 'agent-request',
          data: {
            request: { text: 'Deploy the latest dashboard', claimedBy: 'bench', planner: 'rules' },
            client: { name: 'bench', claimed: true },
          },
          at: new Date(),
        });
        seq = entry.seq;
      }
      // A release deployed now: its record is bound among the newest entries.
      const commit = rows.length % 2 === 0 ? COMMIT_A : COMMIT_B;
      const { summary } = await mustSucceed(cli, deployArgs(cli, commit), 'deploy (chain set-up)');
      const stored = await direct.get(`${prefix}deployments/${summary.deployId}.json`);
      if (!stored) throw new Error('the deploy wrote no deployment record');
      const record = JSON.parse(stored.body.toString('utf8')) as DeploymentRecord;
      seq = (await readAuditHead(direct, prefix))?.seq ?? 0;
      log(`  chain reads: ${seq} entries`);
      const verify = [];
      const read = [];
      const held = [];
      for (let i = 0; i < samples; i++) {
        verify.push(
          await servers.counted(() => cli.run(['audit', 'verify', '--stack', cli.stackFile, '--json'])),
        );
        read.push(await servers.counted(() => readAudit(through, prefix)));
        held.push(await servers.counted(() => recordStanding(through, prefix, record.deployId, record)));
      }
      for (const run of verify) {
        if (run.value.code !== 0)
          throw new Error(`audit verify failed: ${run.value.stderr || run.value.stdout}`);
      }
      for (const run of held) {
        if (run.value !== 'bound') throw new Error(`the deploy's record was held as ${run.value}`);
      }
      for (const run of read) {
        if (run.value.length !== seq) throw new Error(`the chain read ${run.value.length} entries of ${seq}`);
      }
      rows.push({
        entries: seq,
        verify: medianOfRuns(verify),
        read: medianOfRuns(read),
        held: medianOfRuns(held),
      });
    }
    return { latencyMs, rows };
  } finally {
    await proxy?.close();
    await servers.close();
  }
}

export function formatChainReads(r: ChainReadsResult): string {
  const table = markdownTable(
    [
      'audit entries',
      '`audit verify` (CLI)',
      'S3 requests',
      'whole chain read (in process)',
      'S3 requests',
      'a recent record held (in process)',
      'S3 requests',
    ],
    r.rows.map((row) => [
      String(row.entries),
      seconds(row.verify.ms),
      String(row.verify.requests),
      seconds(row.read.ms),
      String(row.read.requests),
      seconds(row.held.ms),
      String(row.held.requests),
    ]),
  );
  return [
    table,
    `median of the samples${r.latencyMs ? `; every S3 request held ${r.latencyMs} ms` : ''}. A record held: what a promote, redeploy or preview by a recent deploy id pays, read from the newest entry back (a rollback --to and the console's page of a deployment hold theirs alike); one bound nowhere reads the whole chain.`,
  ].join('\n');
}

const log = (line: string) => console.error(line);
