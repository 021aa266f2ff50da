/**
 * A canary's start and its abort are rows of the history of their own (a record and its history
 * index, bound by the operation's audit entry), and its promote shows as a promote of that canary:
 * in the shared reader (CLI history, get_history, the console), with `audit verify` passing, a row
 * edited or added by hand reported as any record is, and a history page reading the audit log no
 * further back than its rows' bindings.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { abortCanary, promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, finishSyncedDeploy, rollbackRelease } from '../../src/deploy/deploy.ts';
import { assertAtomicPendingSound } from '../../src/deploy/live.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readHistory } from '../../src/read/history.ts';
import { historyPage, toHistoryItem } from '../../src/read/views.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import type { DeploymentRecord } from '../../src/state/records.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { cli } from '../support/run-cli.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const C = ['4d4d4d4d4d4d4d4d', '5e5e5e5e5e5e5e5e', '6f6f6f6f6f6f6f6f'];
let t: AtomicEnv;
let outputs: string;
const started: { start1?: string; start2?: string; promoted?: string; aborted?: string } = {};
/**
 * What the canary rows were made with, once, in beforeAll (C0 live): C1 started on 10% and aborted,
 * then C2 started on 20% and promoted; the state writes of the start and of the abort.
 */
let rows: {
  start: Awaited<ReturnType<typeof startCanary>>;
  startWrites: string[];
  abort: Awaited<ReturnType<typeof abortCanary>>;
  abortWrites: string[];
};
/** The stack with those rows: each case starts from it, whichever ran before. */
let withRows: AtomicSnapshot;
/** C1 started again on 5%, once stopped between its row and its entry, then run again, over those rows. */
const again = { app: APP, commit: C[1] as string, weightPercent: 5, request: request('C1 again') };
let stoppedAgain: { start: Promise<unknown>; verdict: Awaited<ReturnType<typeof verifyAudit>> };
/** The stack once C1 was started again: the case that promotes and aborts it starts from it. */
let c1Again: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv();
  outputs = await t.writeOutputs();
  await t.publishVersions(C);
  await deployArtifact(t.site, { app: APP, commit: C[0] as string, request: request('first') });

  let mark = await t.mark();
  const start = await startCanary(t.site, {
    app: APP,
    commit: C[1] as string,
    weightPercent: 10,
    request: request('try C1 on 10%'),
  });
  const startWrites = await stateWrites(mark);
  started.start1 = startWrites[0]?.slice('deployments/'.length, -'.json'.length);
  mark = await t.mark();
  const abort = await abortCanary(t.site, { request: request('C1 is slow') });
  const abortWrites = await stateWrites(mark);
  started.aborted = abortWrites[0]?.slice('deployments/'.length, -'.json'.length);
  await startCanary(t.site, {
    app: APP,
    commit: C[2] as string,
    weightPercent: 20,
    request: request('C2'),
  });
  const promote = await promoteCanary(t.site, { request: request('C2 is good') });
  started.promoted = promote.deployId;
  rows = { start, startWrites, abort, abortWrites };
  withRows = await snapshotAtomicEnv(t);

  const stopping = stoppingSite(
    t.site,
    (key, body) => /\/audit\/\d{10}\.json$/.test(key) && String(body).includes('"type":"canary-start"'),
  );
  const stoppedStart = startCanary(stopping, again);
  await stoppedStart.catch(() => undefined);
  stoppedAgain = {
    start: stoppedStart,
    verdict: await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() }),
  };
  await startCanary(t.site, again);
  c1Again = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(async () => {
  await t?.stop();
});
beforeEach(() => withRows.restore());

const state = (key: string) => `${t.target.statePrefix}${key}`;
const stateWrites = async (mark: number) =>
  (await t.requestsSince(mark))
    .filter((r) => r.method === 'PUT' && r.bucket === t.target.artifactsBucket)
    .map((r) => r.key.slice(t.target.statePrefix.length))
    .filter((k) => k.startsWith('deployments/') || k.startsWith('history/'));

describe('canary rows in the history', () => {
  it('a start and an abort each write one record and its history index, bound by their entry', async () => {
    const { start, startWrites, abort, abortWrites } = rows;
    expect(start.outcome).toBe('succeeded');
    expect(startWrites).toHaveLength(2);
    const [, index] = startWrites as [string, string];
    expect(index).toMatch(new RegExp(`^history/\\d{13}-${started.start1}$`));
    // Its own id, not the canary's (which its promote gets), nor one of the commit's deployments.
    expect(started.start1).not.toBe(start.deployId);

    expect(abort.outcome).toBe('succeeded');
    expect(abortWrites).toHaveLength(2);
    expect(await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() })).toMatchObject({
      ok: true,
      problems: [],
    });
  });

  it('history lists them, newest first, the promote as a promote of that canary; one page reads the log once', async () => {
    const mark = await t.mark();
    const page = await readHistory(t.site, { limit: 10 });
    // One LIST of the index, the live pointer, one read per row; then the audit log, which a row is
    // listed by: its head and newest entry (the pointer's binding), one LIST, and the entries from the
    // newest back until each row's binding is found, the newest one not read again (this short chain:
    // each once), and the entry after the newest, looked for beside it (none: a head moved back).
    const requests = await t.requestsSince(mark);
    const audit = requests.filter((r) => r.key.includes('/audit/') || r.query?.includes('%2Faudit%2F'));
    expect(requests.length - audit.length).toBe(2 + page.deployments.length);
    const chain = await readAudit(t.site.state, t.target.statePrefix);
    expect(audit.filter((r) => r.key === '')).toHaveLength(1);
    expect(audit.filter((r) => r.key.endsWith('/audit/head.json'))).toHaveLength(1);
    expect(audit.filter((r) => /\/audit\/\d{10}\.json$/.test(r.key))).toHaveLength(chain.length + 1);

    const rows = page.deployments.map((d) => [d.kind, d.commit, d.outcome, d.canary?.percent ?? null]);
    expect(rows).toEqual([
      ['canary-promote', C[2], 'succeeded', null],
      ['canary-start', C[2], 'succeeded', 20],
      ['canary-abort', C[1], 'succeeded', null],
      ['canary-start', C[1], 'succeeded', 10],
      ['deploy', C[0], 'succeeded', null],
    ]);
    const [promoted, start2, aborted, start1] = page.deployments;
    expect(promoted).toMatchObject({ deployId: started.promoted, live: true });
    // The start names the canary's deploy id: the promote's row has it.
    expect(start2?.canary?.deployId).toBe(started.promoted);
    expect(start1).toMatchObject({ deployId: started.start1, live: false });
    expect(aborted).toMatchObject({ deployId: started.aborted, request: { text: 'C1 is slow' } });
    expect(aborted?.canary?.deployId).toBe(start1?.canary?.deployId);
    // What get_history answers (its output schema) takes them.
    expect(() => historyPage.parse(page)).not.toThrow();

    const printed = await cli(['history', '--stack', outputs], { env: t.cliEnv(), cwd: t.tmp });
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/canary-promote\s+sophia-dashboard@6f6f6f6/);
    expect(printed.stdout).toMatch(/canary-start 20%\s+sophia-dashboard@6f6f6f6/);
    expect(printed.stdout).toMatch(/canary-abort\s+sophia-dashboard@5e5e5e5/);
  });

  it('a record written before canaries had rows reads as it did: a promote then shows as a deploy', async () => {
    const promoted = await t.site.records.readRecord(started.promoted as string);
    expect(promoted).toMatchObject({ op: 'canary-promote', canary: { deployId: started.promoted } });
    const { op: _op, canary: _canary, ...older } = promoted as DeploymentRecord;
    const item = toHistoryItem(older, { liveDeployId: null, tag: null });
    expect(item.kind).toBe('deploy');
    expect(item).not.toHaveProperty('canary');
  });

  it('a canary row is no release to roll back to', async () => {
    const error = await rollbackRelease(t.site, { to: started.start1 as string, request: request() }).catch(
      (e: unknown) => e,
    );
    // Said as what it is: the history the person read lists that id.
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(
        new RegExp(
          `^${started.start1} is the history's row of a canary's start of sophia-dashboard@5e5e5e5, not a deployment .*no release to roll back to`,
        ),
      ),
    });
    // C1 was only ever a canary: no rollback goes to it.
    const toC1 = await rollbackRelease(t.site, {
      to: (C[1] as string).slice(0, 7),
      request: request(),
    }).catch((e: unknown) => e);
    expect(toC1).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(
        /^sophia-dashboard@5e5e5e5 was only ever a canary .* deploy --commit 5e5e5e5e/,
      ),
    });
    // Nor is it a release to promote, redeploy or preview by its id (the console offers none of them).
    const refusedAs =
      /is the history's row of a canary's start of sophia-dashboard@5e5e5e5, not a deployment/;
    await expect(resolveRelease(t.site, APP, started.start1 as string)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(refusedAs),
    });
    await expect(
      previewLink(t.site, {
        deployId: started.start1 as string,
        app: APP,
        request: request(),
        verify: false,
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(refusedAs) });
    // Nor a deployment invalidate_cdn answers for as finished before (its receipt would vouch for it).
    await expect(
      finishSyncedDeploy(t.site, started.start1 as string, { request: request('invalidate') }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(refusedAs) });
    // Nor does a stopped rollback's record naming it pass as one FrontendOps wrote.
    const forged = {
      op: 'rollback',
      plan: {
        op: 'rollback',
        stack: t.target.stack,
        deployId: `${(C[1] as string).slice(0, 7)}-0000000000`,
        app: APP,
        commit: C[1],
        releaseId: `${(C[1] as string).slice(0, 7)}-r000000000000`,
        liveChanges: false,
      },
      request: request('rollback'),
      startedAt: new Date().toISOString(),
      switched: false,
    } as unknown as AtomicPending;
    await expect(assertAtomicPendingSound(t.site, forged)).rejects.toMatchObject({
      code: 'TAMPERED',
      message: expect.stringMatching(/never live/),
    });
  });

  it('a row edited, or added, by hand is reported by audit verify as any record is', async () => {
    const name = `deployments/${started.start1}.json`;
    const original = (await t.site.state.get(state(name)))?.body.toString('utf8') as string;
    const edited: DeploymentRecord = { ...JSON.parse(original), request: request('someone else') };
    await t.site.state.put(state(name), JSON.stringify(edited), { contentType: 'application/json' });
    const verdict = await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: name,
        reason: expect.stringMatching(/was changed/),
      }),
    ]);
    await t.site.state.put(state(name), original, { contentType: 'application/json' });

    // A row nobody recorded: a "canary start" of a build written around the chain.
    const forged: DeploymentRecord = { ...edited, deployId: 'abcdef0-0123456789' };
    await t.site.records.writeRecord(forged);
    const again = await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() });
    expect(again.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: 'deployments/abcdef0-0123456789.json',
        reason: expect.stringMatching(/not in the audit chain/),
      }),
    ]);
    await t.site.state.delete(
      (await t.site.state.list(state('history/')))
        .map((o) => o.key)
        .filter((k) => k.endsWith('-abcdef0-0123456789'))
        .concat(state('deployments/abcdef0-0123456789.json')),
    );
  });

  it('a start stopped between its row and its entry is unfinished, not tampered; run again, it has one row', async () => {
    await expect(stoppedAgain.start).rejects.toThrow(/stopped/);
    const stopped = stoppedAgain.verdict;
    expect(stopped.problems.length).toBeGreaterThan(0);
    expect(stopped.problems.filter((p) => p.kind !== 'unfinished')).toEqual([]);

    await c1Again.restore();
    const verdict = await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() });
    expect(verdict.problems).toEqual([]);
    const rows = (await readHistory(t.site, { limit: 20 })).deployments;
    expect(rows.filter((d) => d.kind === 'canary-start' && d.request.text === 'C1 again')).toHaveLength(1);
  });

  it('a promote stopped before its switch, then an abort of that canary: the promote is recorded superseded, as a promote', async () => {
    await c1Again.restore();
    // The canary of the case before (C1, 5%) runs. A promote whose key write never lands (the process
    // killed just before it) leaves its crash-recovery record, under the canary's deploy id.
    const killed = await t.openKilledBeforeKeyWrite();
    await expect(promoteCanary(killed, { request: request('promote C1 after all') })).rejects.toThrow(
      'killed before the key write',
    );
    // The abort, under the same deploy id, is another operation: the promote someone asked for is
    // recorded (superseded), not dropped with its request.
    const abort = await abortCanary(t.site, { request: request('no, end it') });
    expect(abort.outcome).toBe('succeeded');
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    expect(entries.filter((e) => e.type === 'canary-promote-superseded').map((e) => e.data.request)).toEqual([
      expect.objectContaining({ text: 'promote C1 after all' }),
    ]);
    const rows = (await readHistory(t.site, { limit: 3 })).deployments.map((d) => [
      d.kind,
      d.outcome,
      d.request.text,
    ]);
    expect(rows).toEqual([
      ['canary-abort', 'succeeded', 'no, end it'],
      ['canary-promote', 'superseded', 'promote C1 after all'],
      ['canary-start', 'succeeded', 'C1 again'],
    ]);
    const verdict = await verifyAudit(t.site.state, t.target.statePrefix, { releaseStore: t.store() });
    expect(verdict.problems).toEqual([]);
  });
});
