/**
 * State reads as the history grows: `frontendops status` and `frontendops history --limit 20` (CLI
 * processes) after 20, 100 and 500 deployment records are in the stack's state prefix. The first
 * record is a real deploy's; the others are copies of it under other ids and older dates, written
 * with the engine's own writeRecord (the record and its history index entry), each bound by an audit
 * entry as a deploy binds its record (history lists only rows whose record the chain binds). S3
 * requests per command show the shape: a read that touches every record grows with the count, one
 * that reads a page does not.
 */
import { join } from 'node:path';
import pLimit from 'p-limit';
import { createS3Locker } from '../src/adapters/lock-s3.ts';
import { defaultStatePrefix } from '../src/engine/target.ts';
import { appendAudit, stateDigest } from '../src/state/audit.ts';
import { recordName } from '../src/state/names.ts';
import { createStateRecords, type DeploymentRecord } from '../src/state/records.ts';
import { deployArgs, mustSucceed, prepareCli, publishWithCli } from './cli.ts';
import { generateBuilds } from './generate.ts';
import { markdownTable, medianOfRuns, seconds } from './report.ts';
import { ARTIFACTS, COMMIT_A, startServers } from './servers.ts';

export interface StateReadsRow {
  records: number;
  status: { ms: number; requests: number; samplesMs: number[] };
  history: { ms: number; requests: number; samplesMs: number[]; peakRssMb: number | null };
}

export interface StateReadsResult {
  recordBytes: number;
  rows: StateReadsRow[];
}

const STACK = 'bench-state';
/** Minutes before the live deployment of the oldest record written (more than any --records). */
const OLDEST = 1_000_000;
/** `history --limit`: the page the history reads. */
export const HISTORY_PAGE = 20;

export async function runStateReads(
  dir: string,
  counts: number[],
  samples: number,
): Promise<StateReadsResult> {
  const servers = await startServers(dir, [STACK]);
  try {
    const builds = await generateBuilds(join(dir, 'build'), {
      files: 100,
      bytes: 2 * 1024 * 1024,
      changedFraction: 0.05,
      seed: 11,
    });
    const state = servers.store(ARTIFACTS);
    const cli = await prepareCli(
      join(dir, 'cli'),
      {
        stack: STACK,
        artifactsBucket: ARTIFACTS,
        hostingBucket: STACK,
        region: 'us-east-1',
        endpoint: servers.s3.endpoint,
        distributionId: servers.cdn.distributionId,
      },
      { credentials: servers.credentials, cdnEndpoint: servers.cdn.endpoint },
    );
    await publishWithCli(cli, [[builds.base.dir, COMMIT_A]]);
    const { summary } = await mustSucceed(cli, deployArgs(cli, COMMIT_A), 'deploy (state set-up)');
    const records = createStateRecords(state, defaultStatePrefix(STACK));
    const real = await state.get(`${defaultStatePrefix(STACK)}deployments/${summary.deployId}.json`);
    if (!real) throw new Error('the deploy wrote no deployment record');
    const template = JSON.parse(real.body.toString('utf8')) as DeploymentRecord;

    const rows: StateReadsRow[] = [];
    let written = 1;
    const limit = pLimit(16);
    const prefix = defaultStatePrefix(STACK);
    const locker = createS3Locker(state, prefix);
    for (const count of counts) {
      const ids = Array.from({ length: Math.max(0, count - written) }, (_, i) => written + i);
      const digests = await Promise.all(
        ids.map((n) =>
          limit(async () => {
            // Each batch newer than the one before, all older than the live deployment: the newest rows
            // are bound by the newest entries, as a stack's deploys bind theirs.
            const at = new Date(Date.parse(template.startedAt) - (OLDEST - n) * 60_000).toISOString();
            // An id of the engine's form (7 hex, "-", 10 hex), never one a real deploy takes here.
            const deployId = `0000000-${n.toString(16).padStart(10, '0')}`;
            const { digest } = await records.writeRecord({
              ...template,
              deployId,
              startedAt: at,
              finishedAt: at,
            });
            return { deployId, digest };
          }),
        ),
      );
      // One entry per record, oldest first, as the deploys that made them would have appended.
      for (const { deployId, digest } of digests) {
        await appendAudit(state, prefix, locker, {
          type: template.kind,
          objects: { [recordName(deployId)]: digest },
          data: { deployId, app: template.app, commit: template.commit },
        });
      }
      // The live deployment is the newest, as on a real stack: its record bound by the newest entry.
      await appendAudit(state, prefix, locker, {
        type: template.kind,
        objects: { [recordName(template.deployId)]: stateDigest(template) },
        data: { deployId: template.deployId, app: template.app, commit: template.commit },
      });
      written = Math.max(written, count);
      log(`  state reads: ${written} records`);
      const status = [];
      const history = [];
      for (let i = 0; i < samples; i++) {
        status.push(await servers.counted(() => cli.run(['status', '--stack', cli.stackFile])));
        history.push(
          await servers.counted(() =>
            cli.run(['history', '--stack', cli.stackFile, '--limit', String(HISTORY_PAGE), '--json']),
          ),
        );
      }
      for (const run of [...status, ...history]) {
        if (run.value.code !== 0) throw new Error(`a state read failed: ${run.value.stderr}`);
      }
      const shown = (JSON.parse(history[0]?.value.stdout ?? '{}') as { deployments?: unknown[] }).deployments;
      if (shown?.length !== Math.min(HISTORY_PAGE, written))
        throw new Error(`history listed ${shown?.length} records`);
      rows.push({
        records: written,
        status: medianOfRuns(status),
        history: {
          ...medianOfRuns(history),
          peakRssMb: Math.max(...history.map((r) => r.value.peakRssMb ?? 0)),
        },
      });
    }
    return { recordBytes: real.body.length, rows };
  } finally {
    await servers.close();
  }
}

export function formatStateReads(r: StateReadsResult): string {
  const first = r.rows[0];
  const table = markdownTable(
    [
      'deployment records',
      'status',
      'S3 requests',
      `history --limit ${HISTORY_PAGE}`,
      'S3 requests',
      'history peak RSS',
    ],
    r.rows.map((row) => [
      String(row.records),
      seconds(row.status.ms),
      String(row.status.requests),
      seconds(row.history.ms),
      String(row.history.requests),
      `${row.history.peakRssMb?.toFixed(0) ?? '?'} MB`,
    ]),
  );
  const last = r.rows.at(-1);
  const grows = (pick: (row: StateReadsRow) => number) =>
    first && last && last.records > first.records
      ? ((pick(last) - pick(first)) / (last.records - first.records)).toFixed(2)
      : '-';
  return [
    table,
    `median of the samples; each record ${r.recordBytes} bytes (a real deploy's record of a 100-file site).`,
    `per extra record: status ${grows((row) => row.status.requests)} S3 requests and ${grows((row) => row.status.ms)} ms, ` +
      `history ${grows((row) => row.history.requests)} S3 requests and ${grows((row) => row.history.ms)} ms ` +
      '(0 requests: reads a page, O(page); about 1: reads every record, O(all records)).',
  ].join('\n');
}

const log = (line: string) => console.error(line);
