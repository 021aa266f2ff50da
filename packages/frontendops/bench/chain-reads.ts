/**
 * Reads of the whole audit chain as it grows. A change's own check reads only the newest entry, but
 * some reads take the whole chain: `audit verify`, and where a record must be one the chain binds (a
 * promote, redeploy or preview by deploy id, `rollback --to` a release the pointer no longer keeps,
 * the console's page of a deployment). A stack that has run for a year has thousands of entries.
 *
 * The stack gets one real deploy (by the CLI), then agent-request entries (what the infra server's
 * `record_request` appends, through the engine's own appendAudit) up to each count. Timed: `audit
 * verify` as a CLI process, and in process the chain read those other commands pay (readAudit), each
 * the median of the samples, with the S3 requests each made. With `--latency-ms`, every S3 request is
 * held that long, as a bucket in a region answers.
 */
import { join } from 'node:path';
import { createFileLocker } from '../src/adapters/lock-file.ts';
import { createS3Client, createS3Store } from '../src/adapters/s3.ts';
import { publishArtifact } from '../src/deploy/publish.ts';
import { defaultStatePrefix } from '../src/engine/target.ts';
import { appendAudit, readAudit, readAuditHead } from '../src/state/audit.ts';
import { deployArgs, mustSucceed, prepareCli } from './cli.ts';
import { startFaultProxy } from './fault-proxy.ts';
import { generateBuilds } from './generate.ts';
import { markdownTable, median, seconds } from './report.ts';
import { APP, ARTIFACTS, COMMIT_A, startServers } from './servers.ts';

export interface ChainReadsRow {
  entries: number;
  verify: { ms: number; requests: number; samplesMs: number[] };
  read: { ms: number; requests: number; samplesMs: number[] };
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
    await publishArtifact(servers.store(ARTIFACTS), { dir: builds.base.dir, app: APP, commit: COMMIT_A });
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
    await mustSucceed(cli, deployArgs(cli, COMMIT_A), 'deploy (chain set-up)');
    const prefix = defaultStatePrefix(STACK);
    // Appends go straight to the server; reads through the proxy when one holds requests.
    const direct = servers.store(ARTIFACTS);
    const held = createS3Store({
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
      log(`  chain reads: ${seq} entries`);
      const verify = [];
      const read = [];
      for (let i = 0; i < samples; i++) {
        verify.push(
          await servers.counted(() => cli.run(['audit', 'verify', '--stack', cli.stackFile, '--json'])),
        );
        read.push(await servers.counted(() => readAudit(held, prefix)));
      }
      for (const run of verify) {
        if (run.value.code !== 0)
          throw new Error(`audit verify failed: ${run.value.stderr || run.value.stdout}`);
      }
      for (const run of read) {
        if (run.value.length !== seq) throw new Error(`the chain read ${run.value.length} entries of ${seq}`);
      }
      rows.push({
        entries: seq,
        verify: {
          ms: median(verify.map((r) => r.ms)),
          requests: median(verify.map((r) => r.requests)),
          samplesMs: verify.map((r) => r.ms),
        },
        read: {
          ms: median(read.map((r) => r.ms)),
          requests: median(read.map((r) => r.requests)),
          samplesMs: read.map((r) => r.ms),
        },
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
    ['audit entries', '`audit verify` (CLI)', 'S3 requests', 'chain read (in process)', 'S3 requests'],
    r.rows.map((row) => [
      String(row.entries),
      seconds(row.verify.ms),
      String(row.verify.requests),
      seconds(row.read.ms),
      String(row.read.requests),
    ]),
  );
  return [
    table,
    `median of the samples${r.latencyMs ? `; every S3 request held ${r.latencyMs} ms` : ''}. The chain read is what a promote, redeploy or preview by deploy id, a rollback --to a release the pointer no longer keeps and the console's page of a deployment pay.`,
  ].join('\n');
}

const log = (line: string) => console.error(line);
