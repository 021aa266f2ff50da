/**
 * The CLI on an atomic stack (an outputs file naming releaseStoreArn; the KeyValueStore and
 * CloudFront endpoints through the SDK's standard variables): deploy, deploy --canary, canary
 * status|promote|abort, rollback and migrate --to atomic, through the real router and the local edge.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { Browser, releaseOf } from '../support/edge-probe.ts';
import { cli } from '../support/run-cli.ts';

const C = ['f1f1f1f1f1f1f1f1', 'f2f2f2f2f2f2f2f2', 'f3f3f3f3f3f3f3f3'];
let t: AtomicEnv;

/** The CLI on `env`'s stack (its outputs file `file`), and the release a visitor of its edge gets. */
function cliOn(env: AtomicEnv, file: string) {
  const run = (argv: string[], cwd = env.tmp) => cli([...argv, '--stack', file], { env: env.cliEnv(), cwd });
  const json = async (argv: string[]) => {
    const result = await run([...argv, '--json']);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };
  const served = async () => releaseOf(await (await fetch(env.edge.url)).text());
  return { run, json, served };
}
let { run, json, served } = {} as ReturnType<typeof cliOn>;
/**
 * The stack as the cases start from it: C0 live; C1 live after it; rolled back to C0, pinned. The
 * first deploy runs on a stack of its own: the release store, once written, cannot be emptied again.
 */
let c0Live: AtomicSnapshot;
let c1Live: AtomicSnapshot;
let rolledBack: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv();
  await t.publishVersions(C);
  ({ run, json, served } = cliOn(t, await t.writeOutputs()));
  await deployArtifact(t.site, { app: APP, commit: C[0] as string, request: request() });
  c0Live = await snapshotAtomicEnv(t);
  await deployArtifact(t.site, { app: APP, commit: C[1] as string, request: request() });
  c1Live = await snapshotAtomicEnv(t);
  await rollbackRelease(t.site, { request: request() });
  rolledBack = await snapshotAtomicEnv(t);
});
afterAll(() => t.stop());

describe('frontendops on an atomic stack', () => {
  it('deploy: one key write, no invalidation, the release id and pointer in the summary', async () => {
    const first = await startAtomicEnv({ stack: 'dashboard-atomic-first' });
    try {
      await first.publishVersions(C);
      const { run, json, served } = cliOn(first, await first.writeOutputs());
      const summary = await json(['deploy', '--commit', C[0] as string]);
      expect(summary).toMatchObject({
        outcome: 'succeeded',
        mode: 'atomic',
        op: 'deploy',
        invalidation: { paths: [], ids: [] },
        canary: null,
      });
      expect(summary.pointer).toEqual({ live: summary.releaseId });
      expect(summary.verification.ok).toBe(true);
      const text = await run(['deploy', '--commit', C[0] as string]);
      // The live deployment's id (one the history has), not an id this run made up and never used.
      expect(text.stdout).toMatch(new RegExp(`already live \\(as ${summary.deployId}\\), nothing to do`));
      expect(await served()).toBe('v1');
    } finally {
      await first.stop();
    }
  });

  it('deploy --canary 10%, canary status, canary promote', async () => {
    await c0Live.restore();
    const started = await json(['deploy', '--commit', C[1] as string, '--canary', '10%']);
    expect(started).toMatchObject({ op: 'canary-start', outcome: 'succeeded', canary: { weight: 10 } });
    expect(started.pointer).toMatchObject({ canary: started.releaseId, weight: 10 });
    const status = await json(['canary', 'status']);
    expect(status.canary).toMatchObject({ commit: C[1], weight: 10 });
    const text = await run(['canary', 'status']);
    expect(text.stdout).toMatch(/10% of visitors on sophia-dashboard@f2f2f2f/);
    const promoted = await json(['canary', 'promote']);
    expect(promoted).toMatchObject({ op: 'canary-promote', outcome: 'succeeded', commit: C[1], copied: 0 });
    expect(promoted.pointer).toEqual({ live: started.releaseId });
    expect(await served()).toBe('v2');
  });

  it('canary abort; rollback is one key write; bad shares are refused', async () => {
    await c1Live.restore();
    await json(['deploy', '--commit', C[2] as string, '--canary', '25']);
    const refused = await run(['deploy', '--commit', C[2] as string]);
    expect([refused.code, refused.stderr]).toEqual([
      2,
      expect.stringMatching(/Promote it or abort it first/),
    ]);
    const aborted = await json(['canary', 'abort']);
    expect(aborted).toMatchObject({ op: 'canary-abort', outcome: 'succeeded' });
    expect((await json(['canary', 'status'])).canary).toBeNull();
    const back = await json(['rollback']);
    expect(back).toMatchObject({ kind: 'rollback', commit: C[0], copied: 0, outcome: 'succeeded' });
    expect(await served()).toBe('v1');
    for (const share of ['0', '101', 'ten', '12.5']) {
      const bad = await run(['deploy', '--commit', C[2] as string, '--canary', share]);
      expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/--canary takes a whole percentage/)]);
    }
    expect(t.edge.stats().invalidations).toEqual([]);
  });

  it('a protected stack needs an approval for a canary and its promotion', async () => {
    await rolledBack.restore();
    const dir = join(t.tmp, 'protected');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'frontendops.config.json'),
      JSON.stringify({ protected: ['dashboard-atomic'] }),
    );
    // The rollback pinned the stack: a canary of another build waits for the pin, too.
    const pinned = await run(['deploy', '--commit', C[2] as string, '--canary', '5', '--yes'], dir);
    expect([pinned.code, pinned.stderr]).toEqual([2, expect.stringMatching(/is pinned to .*unpin/s)]);
    expect((await run(['unpin'], dir)).code).toBe(0);
    const start = await run(['deploy', '--commit', C[2] as string, '--canary', '5'], dir);
    expect([start.code, start.stderr]).toEqual([2, expect.stringMatching(/protected environment.*send 5%/)]);
    const approved = await run(
      ['deploy', '--commit', C[2] as string, '--canary', '5', '--yes', '--json'],
      dir,
    );
    expect(approved.code, approved.stderr).toBe(0);
    const promote = await run(['canary', 'promote'], dir);
    expect([promote.code, promote.stderr]).toEqual([
      2,
      expect.stringMatching(/protected environment.*promote the canary/),
    ]);
    // Protection follows the bucket: from a directory whose configuration does not list the stack,
    // ending the canary still needs the approval (here --yes, a person at the terminal).
    const unapproved = await run(['canary', 'abort']);
    expect(unapproved.code).toBe(2);
    expect((await json(['canary', 'abort', '--yes'])).outcome).toBe('succeeded');
  });

  it('migrate --to atomic moves an in-place stack; a second time it has nothing to do', async () => {
    const other = await startAtomicEnv({ stack: 'dashboard-migrating' });
    try {
      await other.publish(C[0] as string, 'v1');
      const inPlace = await other.open({ inPlace: true });
      await deployArtifact(inPlace, { app: APP, commit: C[0] as string, request: request() });
      const file = await other.writeOutputs();
      const migrate = (extra: string[]) =>
        cli(['migrate', '--to', 'atomic', '--stack', file, ...extra], {
          env: other.cliEnv(),
          cwd: other.tmp,
        });
      const dry = await migrate(['--dry-run']);
      expect([dry.code, dry.stdout]).toEqual([
        0,
        expect.stringMatching(/dry run: migrate sophia-dashboard@f1f1f1f/),
      ]);
      // A release's own files go under its prefix: each copy says where, not only its site path.
      expect(dry.stdout).toMatch(
        /^ {2}copy \/index\.html as \/_releases\/[0-9a-f]{7}-r[0-9a-f]+\/index\.html \(new\)$/m,
      );
      const moved = await migrate(['--json']);
      expect(moved.code, moved.stderr).toBe(0);
      expect(JSON.parse(moved.stdout)).toMatchObject({ op: 'migrate', outcome: 'succeeded', mode: 'atomic' });
      expect(releaseOf(await (await fetch(other.edge.url)).text())).toBe('v1');
      expect((await other.store().read()).value).toEqual({ live: JSON.parse(moved.stdout).releaseId });
      expect((await migrate([])).stdout).toMatch(
        /already live \(as [0-9a-f]{7}-[0-9a-f]{10}\), nothing to do/,
      );
      const wrong = await migrate(['--to', 'in-place']);
      expect(wrong.code).toBe(2);
    } finally {
      await other.stop();
    }
  });
  it('preview: a link that shows a published build before it is live; bad hours are refused', async () => {
    const before = await served();
    const link = await json(['preview', '--commit', (C[2] as string).slice(0, 7), '--hours', '2']);
    expect(link).toMatchObject({ commit: C[2], app: APP });
    const url = new URL(link.url);
    const browser = new Browser(url.origin);
    expect(releaseOf((await browser.navigate(`${url.pathname}${url.search}`)).body)).toBe('v3');
    expect(await served()).toBe(before);
    const bad = await run(['preview', '--commit', C[2] as string, '--hours', '500']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--hours takes a whole number from 1 to 168/);
  });
});
