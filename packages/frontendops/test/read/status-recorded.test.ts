/**
 * `status` (and get_status, the console's card) against the audit log, as the deployer role would
 * fool it: the live pointer and the live release's record are that role's to write. A pointer naming
 * another release live, or a record rewritten with another requester, was shown as what is live and
 * who asked for it. Now status holds both to the log (the newest entry's bindings, the record's
 * newest binding): what differs is said, the record's words are not shown, and the CLI exits 1. A
 * change stopped after writing them is unfinished, not accused; an old chain's record (from before
 * entries bound records) is told as its entry records it (its build, not who asked); a log that
 * cannot be read is said, not passed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { abortCanary, promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { readStatus } from '../../src/read/status.ts';
import { appendAudit, verifyAudit } from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import type { DeploymentRecord, LivePointer } from '../../src/state/records.ts';
import { startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { clearHistory, requestBy, startShippedDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { stateObjects } from '../support/planted.ts';
import { cli } from '../support/run-cli.ts';
import { stoppedAtEntryAfter } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

let t: TestDeployEnv;
let deployed: BucketSnapshot;
let stackFile: string;
const { key, read, write } = stateObjects(() => t);

beforeAll(async () => {
  t = await startShippedDeployEnv({ stack: 'status-recorded', app: APP, publish: [V1, V2, V3], ship: 2 });
  stackFile = await t.writeOutputs();
  deployed = await snapshotBuckets([{ store: t.site.state, prefix: t.target.statePrefix }]);
}, 180_000);
beforeEach(async () => {
  await deployed.restore();
});
afterAll(() => t?.stop());

/** `frontendops status` as a user runs it, on this stack. */
const statusCli = () => cli(['status', '--stack', stackFile], { env: t.cliEnv(), cwd: t.tmp });

describe('status holds the live pointer and its record to the audit log', () => {
  it('as recorded: says who asked, no note, exit 0', async () => {
    const status = await readStatus(t.site);
    expect(status.recorded).toEqual({ state: 'as-recorded', note: null });
    expect(status.live?.commit).toBe(V2);
    expect(status.live?.request?.text).toBe('ship v2');
    const cli = await statusCli();
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('"ship v2"');
    expect(cli.stdout).not.toContain('NOT AS RECORDED');
  });

  it('a record rewritten with another requester: its words are not shown, and it is said (exit 1)', async () => {
    const pointer = await read<LivePointer>('live.json');
    const record = await read<DeploymentRecord>(`deployments/${pointer.deployId}.json`);
    await write(`deployments/${pointer.deployId}.json`, {
      ...record,
      request: requestBy('approved by the CTO', 'mallory'),
    });
    const status = await readStatus(t.site);
    expect(status.recorded.state).toBe('changed-outside');
    expect(status.recorded.note).toContain(
      `The record of deployment ${pointer.deployId} is not what the audit log records`,
    );
    expect(status.live?.request).toBeNull();
    const cli = await statusCli();
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('NOT AS RECORDED');
    expect(cli.stdout).not.toContain('mallory');
    expect(cli.stdout).toContain('frontendops audit verify');
  });

  it("another deployment's bound record copied under the live deploy id: not told as the live release's", async () => {
    const pointer = await read<LivePointer>('live.json');
    const [, before] = pointer.releases;
    if (!before) throw new Error('v1 is kept');
    // v1's record, as the chain binds it (under v1's id), stored where v2's is read.
    await write(`deployments/${pointer.deployId}.json`, await read(`deployments/${before.deployId}.json`));
    const status = await readStatus(t.site);
    expect(status.recorded.state).toBe('changed-outside');
    expect(status.live?.request).toBeNull();
    const cli = await statusCli();
    expect(cli.code).toBe(1);
    expect(cli.stdout).not.toContain('ship v1');
  });

  it('a live pointer naming another release live: said, not believed (exit 1)', async () => {
    const pointer = await read<LivePointer>('live.json');
    const [, before] = pointer.releases;
    if (!before) throw new Error('v1 is kept');
    // The previous release named live, with its own record (as recorded itself).
    await write('live.json', {
      ...before,
      releasedAt: pointer.releasedAt,
      releases: [before, ...pointer.releases],
    });
    const status = await readStatus(t.site);
    expect(status.live?.commit).toBe(V1);
    expect(status.recorded.state).toBe('changed-outside');
    expect(status.recorded.note).toMatch(
      /^The live pointer \(live\.json\) is not what the audit log records/,
    );
    expect(status.live?.request).toBeNull();
    expect((await statusCli()).code).toBe(1);
  });

  it('a live pointer deleted: nothing deployed is not believed either', async () => {
    await t.site.state.delete([key('live.json')]);
    const status = await readStatus(t.site);
    expect(status.live).toBeNull();
    expect(status.recorded.state).toBe('changed-outside');
  });

  it('a deploy stopped after its pointer, before its entry: unfinished, not accused; the next deploy records it', async () => {
    const stopped = stoppedAtEntryAfter(t.site, (k) => k.endsWith('/live.json'));
    await expect(
      deployArtifact(stopped, { app: APP, commit: V3, request: requestBy('ship v3') }),
    ).rejects.toThrow(/stopped/);
    const status = await readStatus(t.site);
    expect(status.live?.commit).toBe(V3);
    expect(status.recorded.state).toBe('unfinished');
    expect(status.recorded.note).toContain('Run it again');
    const cli = await statusCli();
    expect(cli.code).toBe(0);
    await deployArtifact(t.site, { app: APP, commit: V3, request: requestBy('ship v3 again') });
    expect((await readStatus(t.site)).recorded.state).toBe('as-recorded');
  });

  it('a pin does not finish a stopped deploy: the note does not send there', async () => {
    const stopped = stoppedAtEntryAfter(t.site, (k) => k.endsWith('/live.json'));
    await expect(
      deployArtifact(stopped, { app: APP, commit: V3, request: requestBy('ship v3') }),
    ).rejects.toThrow(/stopped/);
    // Nor does it pin the release no entry records live yet (test/deploy/pin-unrecorded-live.test.ts).
    await expect(pinRelease(t.site, { request: requestBy('hold it') })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const status = await readStatus(t.site);
    expect(status.recorded.state).toBe('unfinished');
    expect(status.recorded.note).not.toMatch(/\bpin\b/);
  });

  /** A crash-recovery record (pending.json) as the deployer role can plant one: a stopped deploy's, its plan made to name `build`. */
  const plantPendingNaming = async (build: {
    deployId: string;
    app: string;
    commit: string;
    artifactDigest: string;
  }) => {
    const stopped = stoppedAtEntryAfter(t.site, (k) => k.endsWith('/live.json'));
    await expect(
      deployArtifact(stopped, { app: APP, commit: V3, request: requestBy('ship v3') }),
    ).rejects.toThrow(/stopped/);
    const pending = await read<{ plan: Record<string, unknown> }>('pending.json');
    await deployed.restore();
    await write('pending.json', {
      ...pending,
      plan: {
        ...pending.plan,
        deployId: build.deployId,
        app: build.app,
        commit: build.commit,
        artifactDigest: build.artifactDigest,
      },
    });
  };

  it('a record rewritten beside a planted crash-recovery record naming it: its words are still not shown', async () => {
    const pointer = await read<LivePointer>('live.json');
    const record = await read<DeploymentRecord>(`deployments/${pointer.deployId}.json`);
    await plantPendingNaming(pointer);
    await write(`deployments/${pointer.deployId}.json`, {
      ...record,
      request: requestBy('approved by the CTO', 'mallory'),
    });
    const status = await readStatus(t.site);
    expect(status.recorded.state).not.toBe('as-recorded');
    expect(status.live?.request).toBeNull();
    const cli = await statusCli();
    expect(cli.stdout).not.toContain('mallory');
    expect(cli.stdout).not.toContain('approved by the CTO');
  });

  it('a live pointer naming another build than the planted crash-recovery record under its id: accused, as verify does', async () => {
    const pointer = await read<LivePointer>('live.json');
    const [, before] = pointer.releases;
    if (!before) throw new Error('v1 is kept');
    await plantPendingNaming(pointer);
    // v2's deploy id, made to name v1's build live.
    const ref = { ...pointer, app: before.app, commit: before.commit, artifactDigest: before.artifactDigest };
    await write('live.json', {
      ...ref,
      releases: [{ ...pointer.releases[0], ...ref, releases: undefined }, before],
    });
    const status = await readStatus(t.site);
    expect(status.live?.commit).toBe(V1);
    expect(status.recorded.state).toBe('changed-outside');
    expect((await statusCli()).code).toBe(1);
    // What audit verify says of the same pointer: not the stopped deploy's.
    const verified = await verifyAudit(t.site.state, t.target.statePrefix);
    expect(verified.problems).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: 'live.json' }),
    );
  });

  it('an audit log that cannot be read: said, not passed', async () => {
    const head = await read<{ seq: number }>('audit/head.json');
    const newest = `audit/${String(head.seq).padStart(10, '0')}.json`;
    await t.site.state.put(key(newest), '{"seq": 1, "cut', { contentType: 'application/json' });
    const status = await readStatus(t.site);
    expect(status.recorded.state).toBe('unknown');
    expect(status.recorded.note).toContain('could not be read');
    expect(status.live?.request).toBeNull();
  });
});

describe('a chain begun before entries bound records', () => {
  it('the live record its old entry records is told, but not who asked; the pointer no entry bound is said as not checked', async () => {
    // A fresh history (its builds still published), and a fresh environment: a marker no entry wrote
    // is refused by every change.
    await clearHistory(t.site);
    await t.site.hosting.delete([ENVIRONMENT_MARKER]);
    const deployId = `${V1.slice(0, 7)}-0123456789`;
    const pointerNow = await (async () => {
      await deployArtifact(t.site, { app: APP, commit: V1, request: requestBy('ship v1') });
      return read<LivePointer>('live.json');
    })();
    const record = await read<DeploymentRecord>(`deployments/${pointerNow.deployId}.json`);
    // What an older FrontendOps left: its record, live.json, and an entry that binds none of them.
    await t.site.state.delete((await t.site.state.list(t.target.statePrefix)).map((o) => o.key));
    const ref = { deployId, app: APP, commit: V1, artifactDigest: record.artifactDigest };
    await write(`deployments/${deployId}.json`, { ...record, ...ref });
    await write('live.json', {
      ...ref,
      releasedAt: record.finishedAt,
      releases: [{ ...ref, releasedAt: record.finishedAt }],
    });
    await appendAudit(t.site.state, t.target.statePrefix, t.site.locker, {
      type: 'deploy',
      data: { ...ref, outcome: 'succeeded' },
    });
    const status = await readStatus(t.site);
    // Its build is told; who asked, which the old entry does not hold, is not.
    expect(status.live).toMatchObject({ commit: V1, kind: 'deploy', request: null });
    // Its pointer was never bound either: not checked, and said (the next change binds it).
    expect(status.recorded).toMatchObject({
      state: 'unknown',
      note: expect.stringContaining('the chain began before'),
    });
    expect((await statusCli()).code).toBe(0);
    // Who asked is not what the old entry holds: rewritten, it is not told as that release's.
    await write(`deployments/${deployId}.json`, {
      ...record,
      ...ref,
      request: requestBy('approved by the CTO', 'mallory'),
    });
    const rewritten = await readStatus(t.site);
    expect(rewritten.live?.commit).toBe(V1);
    expect(rewritten.live?.request).toBeNull();
    expect((await statusCli()).stdout).not.toContain('approved by the CTO');
    // A pin binds no pointer: the note does not send there.
    await pinRelease(t.site, { request: requestBy('hold it') });
    const pinned = await readStatus(t.site);
    expect(pinned.recorded.state).toBe('unknown');
    expect(pinned.recorded.note).not.toMatch(/\bpin\b/);
  });
});

describe('genuine changes on an atomic stack are as recorded', () => {
  it('after a deploy, a canary started, promoted and aborted, a rollback, a pin and an unpin', async () => {
    const a = await startDeployedAtomicEnv({ stack: 'status-recorded-atomic' }, [V1, V2, V3], 1);
    try {
      const asRecorded = async (after: string) =>
        expect({ after, ...(await readStatus(a.site)).recorded }).toEqual({
          after,
          state: 'as-recorded',
          note: null,
        });
      await asRecorded('the first deploy');
      await startCanary(a.site, {
        app: APP,
        commit: V2,
        weightPercent: 10,
        request: requestBy('10% first'),
      });
      await asRecorded('a canary start');
      await promoteCanary(a.site, { request: requestBy('promote it') });
      await asRecorded('its promote');
      await startCanary(a.site, { app: APP, commit: V3, weightPercent: 5, request: requestBy('5% first') });
      await abortCanary(a.site, { request: requestBy('abort it') });
      await asRecorded('a canary aborted');
      await rollbackRelease(a.site, { request: requestBy('roll back') });
      await asRecorded('a rollback');
      await pinRelease(a.site, { request: requestBy('pin it') });
      await asRecorded('a pin');
      await unpinRelease(a.site, { request: requestBy('unpin') });
      await asRecorded('an unpin');
      expect((await readStatus(a.site)).live?.request?.text).toBe('roll back');
    } finally {
      await a.stop();
    }
  });
});
