/** Every target of the sections that ran, in one table at the end of the output. */
import { FAULT_TIME_TARGET, type FaultsResult } from './faults.ts';
import { CLI_TIME_TARGETS, markdownTable, type ScenarioResult, seconds, verdict } from './report.ts';
import { LINEAR_TARGET, RSS_TARGET_MB, type ScaleResult } from './scale.ts';
import { STARTUP_TARGETS, type StartupResult } from './startup.ts';
import { HISTORY_PAGE, type StateReadsResult } from './state-reads.ts';

export interface Sections {
  startup?: StartupResult;
  sync?: { results: ScenarioResult[]; latencyMs?: number };
  faults?: FaultsResult;
  scale?: ScaleResult;
  state?: StateReadsResult;
}

export function formatVerdicts(r: Sections): string {
  const rows: string[][] = [];
  const add = (target: string, goal: string, measured: string, pass: boolean) =>
    rows.push([target, goal, measured, verdict(pass)]);
  for (const s of r.sync?.results ?? []) {
    add(
      `CLI ${s.scenario} vs aws s3 sync${r.sync?.latencyMs ? ` (S3 ${r.sync.latencyMs} ms away)` : ''}`,
      `<= ${CLI_TIME_TARGETS[s.scenario]}x`,
      `${s.cliRatio.toFixed(2)}x`,
      s.cliTimePass,
    );
  }
  if (r.startup) {
    const t = STARTUP_TARGETS;
    const { help, status, mcpInitialize } = r.startup;
    add('--help wall', `<= ${seconds(t.help.ms, 1)}`, seconds(help.ms, 3), help.ms <= t.help.ms);
    add(
      '--help peak RSS',
      `<= ${t.help.rssMb} MB`,
      `${help.peakRssMb?.toFixed(0) ?? '?'} MB`,
      (help.peakRssMb ?? Infinity) <= t.help.rssMb,
    );
    add('status wall', `<= ${seconds(t.status.ms, 1)}`, seconds(status.ms, 3), status.ms <= t.status.ms);
    add(
      'mcp infra initialize',
      `<= ${seconds(t.mcpInitialize.ms, 1)}`,
      seconds(mcpInitialize.ms, 3),
      mcpInitialize.ms <= t.mcpInitialize.ms,
    );
  }
  if (r.faults) {
    for (const c of r.faults.comparison) {
      add(
        `${c.scenario} with ${r.faults.rate * 100}% faults vs fault-free`,
        `<= ${FAULT_TIME_TARGET}x`,
        `${c.ratio.toFixed(2)}x`,
        c.pass,
      );
    }
    add(
      `success with ${r.faults.rate * 100}% faults`,
      '100%, sites right',
      `${(r.faults.successRate * 100).toFixed(0)}%, ${r.faults.allCorrect ? 'right' : 'NOT all right'}`,
      r.faults.successRate === 1 && r.faults.allCorrect,
    );
    for (const f of r.faults.failFast) {
      add(
        `100% faults: ${f.what}`,
        'fails fast, old release served',
        `exit ${f.code} after ${seconds(f.ms)}`,
        f.pass,
      );
    }
  }
  if (r.scale) {
    const steps = r.scale.sizes.flatMap((s) => s.steps.map((step) => ({ ...step, files: s.files })));
    const worst = steps.reduce((a, b) => ((b.peakRssMb ?? 0) > (a?.peakRssMb ?? 0) ? b : a), steps[0]);
    add(
      'peak RSS of any CLI process (scale)',
      `<= ${RSS_TARGET_MB} MB`,
      `${worst?.peakRssMb?.toFixed(0) ?? '?'} MB (${worst?.op}, ${worst?.files} files)`,
      (worst?.peakRssMb ?? Infinity) <= RSS_TARGET_MB,
    );
  }
  const [a, b, c] = [r.scale?.sizes[0], r.scale?.sizes[1], r.scale?.sizes.at(-1)];
  if (a && b && c && (r.scale?.sizes.length ?? 0) >= 3) {
    type Size = typeof a;
    // Time per extra file of the last interval against the first: 1x is linear, more is worse.
    const growth = (pick: (size: Size) => number | undefined) => {
      const [ta, tb, tc] = [pick(a), pick(b), pick(c)];
      if (ta === undefined || tb === undefined || tc === undefined) return undefined;
      const first = (tb - ta) / (b.files - a.files);
      const last = (tc - tb) / (c.files - b.files);
      return first > 0 ? last / first : Infinity;
    };
    // The embedded server's own listing of the hosting bucket, which every deploy and rollback reads.
    const listing = growth((size) => size.listing.ms);
    for (const op of ['full', 'incremental', 'rollback', 'publish'] as const) {
      const step = (size: Size) => size.steps.find((x) => x.op === op && x.code === 0);
      const wall = growth((size) => step(size)?.ms);
      const cpu = growth((size) => step(size)?.cpuMs ?? undefined);
      if (wall === undefined) continue;
      add(
        `scale ${op}: time per extra file, ${b.files}→${c.files} vs ${a.files}→${b.files}`,
        `<= ${LINEAR_TARGET}x (linear)`,
        `${wall.toFixed(2)}x (CLI CPU ${cpu?.toFixed(2) ?? '?'}x${op === 'publish' ? '' : `; server listing ${listing?.toFixed(2) ?? '?'}x`})`,
        wall <= LINEAR_TARGET,
      );
    }
  }
  if (r.state) {
    // From a full page on: with fewer records than a page, history reads fewer on purpose.
    const first = r.state.rows.find((row) => row.records >= HISTORY_PAGE);
    const last = r.state.rows.at(-1);
    if (first && last && last.records > first.records) {
      for (const read of ['status', 'history'] as const) {
        add(
          `${read}: S3 requests, ${first.records} → ${last.records} records`,
          'unchanged (O(page))',
          `${first[read].requests} → ${last[read].requests}; ${seconds(first[read].ms)} → ${seconds(last[read].ms)}`,
          last[read].requests <= first[read].requests,
        );
      }
    }
  }
  return markdownTable(['target', 'goal', 'measured', 'verdict'], rows);
}
