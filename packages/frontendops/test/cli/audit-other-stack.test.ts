/**
 * A whole audit chain copied from one stack's state prefix to another's, by whoever can write the
 * state bucket: each entry still hashes and links as written, so the chain verified, though every
 * entry names the stack it was written for. Now `audit verify` of the other stack reports it
 * tampered: entries of another stack. Status and a change's check of the state read only the
 * chain's newest entry: they took the copy's bindings as the stack's own (status said the copied
 * pointer was as recorded, a pin held it). Now both say the newest entry is another stack's,
 * from that one entry (no other request): status not as recorded, a change refused, TAMPERED.
 * The deployer role may append one such entry (or one that is no entry) itself: every change is then
 * refused until someone with full write to the state bucket removes it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import { readStatus } from '../../src/read/status.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { type AuditEntry, appendAudit, readAudit } from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER, PUBLISH_LOG } from '../../src/state/names.ts';
import { auditEntryKey, chainBeforeMarkers, moveHeadBackOne } from '../support/audit-forgery.ts';
import { snapshotBuckets, snapshotStack } from '../support/bucket-snapshot.ts';
import {
  publishAsCi,
  publishFixtureBuilds,
  requestBy,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { cli, verifyReasons } from '../support/run-cli.ts';

const FROM = 'copied-from';
const TO = 'copied-to';
const TO_HOSTING = 'sophia-dashboard-hosting-copied-to';
const LOG_TO = 'log-copied-to';
const RENAMED = 'copied-from-renamed';
const LOG_TO_HOSTING = 'sophia-dashboard-hosting-log-copied-to';
const CUSTOM_OLD = 'custom-old-name';
const CUSTOM_NEW = 'custom-new-name';
const CUSTOM_HOSTING = 'sophia-dashboard-hosting-custom-prefix';
const CUSTOM_PREFIX = '.frontendops/custom-history/';
const MARKED_TO = 'marked-copied-to';
const MARKED_TO_HOSTING = 'sophia-dashboard-hosting-marked-copied-to';
const READ_TO = 'read-copied-to';
const READ_TO_HOSTING = 'sophia-dashboard-hosting-read-copied-to';
const COMMIT = 'c0ffee10'.repeat(5);
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv(
    { stack: FROM },
    { extraBuckets: [TO_HOSTING, LOG_TO_HOSTING, READ_TO_HOSTING, CUSTOM_HOSTING, MARKED_TO_HOSTING] },
  );
  await publishFixtureBuilds(t, 'sophia-dashboard', [COMMIT], { from: 0 });
  await deployArtifact(t.site, { app: 'sophia-dashboard', commit: COMMIT, request: requestBy('ship it') });
});
afterAll(() => t?.stop());

const verify = async (stack: string, hostingBucket?: string) => {
  const outputs = await t.writeOutputs({ stack, ...(hostingBucket ? { hostingBucket } : {}) });
  const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1' };
  return verifyReasons(await cli(['audit', 'verify', '--stack', outputs, '--json'], { env, cwd: t.tmp }));
};

it("a chain copied whole from another stack's state prefix: tampered, entries of another stack", async () => {
  expect(await verify(FROM)).toEqual({ code: 0, reasons: [] });
  const to = defaultStatePrefix(TO);
  for (const { key } of await t.site.state.list(t.target.statePrefix)) {
    const object = await t.site.state.get(key);
    if (object) await t.site.state.put(`${to}${key.slice(t.target.statePrefix.length)}`, object.body);
  }
  const { code, reasons } = await verify(TO, TO_HOSTING);
  expect(code).toBe(1);
  expect(reasons).toContainEqual(
    expect.stringMatching(new RegExp(`^entries of another stack: .* name ${FROM};`)),
  );
});

it('a chain copied whole from another stack: status does not vouch for it, a change is refused', async () => {
  const to = defaultStatePrefix(READ_TO);
  for (const { key } of await t.site.state.list(t.target.statePrefix)) {
    const object = await t.site.state.get(key);
    if (object) await t.site.state.put(`${to}${key.slice(t.target.statePrefix.length)}`, object.body);
  }
  const site = await connectSite(
    { ...t.target, stack: READ_TO, hostingBucket: READ_TO_HOSTING, statePrefix: to },
    { access: { credentials: t.s3.credentials }, onNotice: () => undefined },
  );
  try {
    const status = await readStatus(site);
    expect(status.recorded.state).toBe('changed-outside');
    expect(status.recorded.note).toMatch(new RegExp(`entries of another stack: .* name ${FROM};`));
    expect(status.live?.request ?? null).toBeNull();
    const before = await t.site.state.list(to);
    // A pin holds the live release the chain records: here the copied pointer, the other stack's.
    const refused = await pinRelease(site, { request: requestBy('hold it') }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'TAMPERED' });
    expect((refused as Error).message).toMatch(new RegExp(`entries of another stack: .* name ${FROM};`));
    expect((refused as Error).message).toContain('Nothing was changed');
    expect((await t.site.state.list(to)).map((o) => [o.key, o.etag])).toEqual(
      before.map((o) => [o.key, o.etag]),
    );
    expect(await site.hosting.list('')).toEqual([]);
  } finally {
    site.close();
  }
});

it("another stack's publish log copied in: verify reports it, and no deploy takes its builds", async () => {
  const to = defaultStatePrefix(LOG_TO);
  const log = `${t.target.statePrefix}${PUBLISH_LOG}`;
  for (const { key } of await t.site.state.list(log)) {
    const object = await t.site.state.get(key);
    if (object) await t.site.state.put(`${to}${key.slice(t.target.statePrefix.length)}`, object.body);
  }
  const { code, reasons } = await verify(LOG_TO, LOG_TO_HOSTING);
  expect(code).toBe(1);
  expect(reasons).toContainEqual(
    expect.stringMatching(
      new RegExp(`^publish log: entries of another stack: .* of ${LOG_TO}'s publish log name ${FROM};`),
    ),
  );
  // The build only FROM published is not published to LOG_TO, whatever its log now holds.
  const site = await connectSite(
    { ...t.target, stack: LOG_TO, hostingBucket: LOG_TO_HOSTING, statePrefix: to },
    { access: { credentials: t.s3.credentials }, onNotice: () => undefined },
  );
  try {
    const refused = await deployArtifact(site, {
      app: 'sophia-dashboard',
      commit: COMMIT,
      request: requestBy('ship it'),
    }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'NOT_FOUND' });
  } finally {
    site.close();
  }
});

it('a stack renamed in its outputs that kept its statePrefix: its entries under the old name are its own', async () => {
  // A chain begun before environment markers: no marker says which environment the bucket is, so
  // the stack opens under the name its outputs give it now, and its older entries name the old one.
  const saved = await snapshotBuckets([
    { store: t.site.state, prefix: t.target.statePrefix },
    { store: t.site.hosting },
  ]);
  try {
    await chainBeforeMarkers(t.site.state, t.target.statePrefix);
    await t.site.hosting.delete([ENVIRONMENT_MARKER]);
    const file = await t.writeOutputs({ stack: RENAMED });
    const outputs = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...outputs, statePrefix: t.target.statePrefix }));
    const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1' };
    const run = await cli(['audit', 'verify', '--stack', file, '--json'], { env, cwd: t.tmp });
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, problems: [] });
    expect(run.code).toBe(0);
  } finally {
    await saved.restore();
  }
});

it('a stack renamed in its outputs that kept a custom statePrefix its marker names: its history is its own', async () => {
  // Deployed as CUSTOM_OLD at a state prefix of its own: the hosting bucket's marker names that name
  // and that state location. Renamed in its outputs (same buckets, same statePrefix), it opens as
  // CUSTOM_NEW keeping that history: verify reported its entries as another stack's, and every
  // change refused the chain, whose newest entry names CUSTOM_OLD.
  const { distributionId: _noCdn, ...target } = t.target;
  const site = await connectSite(
    { ...target, stack: CUSTOM_OLD, hostingBucket: CUSTOM_HOSTING, statePrefix: CUSTOM_PREFIX },
    { access: { credentials: t.s3.credentials }, onNotice: () => undefined },
  );
  try {
    // The build the other stacks deploy, recorded in this one's own publish log too.
    await publishAsCi(site, { dir: join(t.tmp, `build-${COMMIT}`), app: 'sophia-dashboard', commit: COMMIT });
    const done = await deployArtifact(site, {
      app: 'sophia-dashboard',
      commit: COMMIT,
      request: requestBy('ship it'),
    });
    expect(done.outcome).toBe('succeeded');
  } finally {
    site.close();
  }
  const file = await t.writeOutputs({ stack: CUSTOM_NEW, hostingBucket: CUSTOM_HOSTING });
  const outputs = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify({ ...outputs, statePrefix: CUSTOM_PREFIX }));
  const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1' };
  expect(
    await verifyReasons(await cli(['audit', 'verify', '--stack', file, '--json'], { env, cwd: t.tmp })),
  ).toEqual({
    code: 0,
    reasons: [],
  });
  const pinned = await cli(['pin', '--stack', file, '--message', 'hold it', '--json'], { env, cwd: t.tmp });
  expect(pinned.code, pinned.stderr).toBe(0);
  // A deploy under the new name goes through too (its build recorded under the old name).
  const unpinned = await cli(['unpin', '--stack', file, '--json'], { env, cwd: t.tmp });
  expect(unpinned.code, unpinned.stderr).toBe(0);
  const deployed = await cli(['deploy', '--stack', file, '--commit', COMMIT, '--yes', '--no-tag', '--json'], {
    env,
    cwd: t.tmp,
  });
  expect(deployed.code, deployed.stderr).toBe(0);
  // Its changes under the new name keep the history its own: verified as before.
  expect(
    await verifyReasons(await cli(['audit', 'verify', '--stack', file, '--json'], { env, cwd: t.tmp })),
  ).toEqual({ code: 0, reasons: [] });
});

it('that copy with a marker naming the copied stack at this state location: still reported and refused', async () => {
  // Whoever can write both buckets marks the hosting bucket as the copied stack's, here: the marker
  // makes that name this history's own, but no entry of the chain wrote it, so verify reports it and
  // every change refuses it.
  const to = defaultStatePrefix(MARKED_TO);
  for (const { key } of await t.site.state.list(t.target.statePrefix)) {
    const object = await t.site.state.get(key);
    if (object) await t.site.state.put(`${to}${key.slice(t.target.statePrefix.length)}`, object.body);
  }
  const marker = { v: 1, stack: FROM, stateBucket: t.target.stateBucket, statePrefix: to, protected: false };
  const site = await connectSite(
    { ...t.target, stack: MARKED_TO, hostingBucket: MARKED_TO_HOSTING, statePrefix: to },
    { access: { credentials: t.s3.credentials }, onNotice: () => undefined },
  );
  try {
    await site.hosting.put(ENVIRONMENT_MARKER, JSON.stringify(marker));
  } finally {
    site.close();
  }
  const file = await t.writeOutputs({ stack: MARKED_TO, hostingBucket: MARKED_TO_HOSTING });
  const outputs = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify({ ...outputs, statePrefix: to }));
  const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1' };
  const verified = await verifyReasons(
    await cli(['audit', 'verify', '--stack', file, '--json'], { env, cwd: t.tmp }),
  );
  expect(verified.code).toBe(1);
  expect(verified.reasons).toContainEqual(
    expect.stringContaining('no entry of this chain wrote that marker'),
  );
  const before = await t.site.state.list(to);
  const pinned = await cli(['pin', '--stack', file, '--message', 'hold it', '--json'], { env, cwd: t.tmp });
  expect(pinned.code).not.toBe(0);
  expect(JSON.parse(pinned.stdout)).toMatchObject({ error: { code: 'TAMPERED' } });
  expect((await t.site.state.list(to)).map((o) => [o.key, o.etag])).toEqual(
    before.map((o) => [o.key, o.etag]),
  );
});

it('one entry naming another stack, appended as the deployer role may: every change refused until it is removed', async () => {
  // The deployer role creates entries and moves the head (no delete): one entry naming another stack,
  // or one that is no entry at all, and each change after it is refused TAMPERED, nothing written,
  // until someone with full write to the state bucket removes it (a denial of service, not a forgery).
  const saved = await snapshotStack(t.site);
  const prefix = t.target.statePrefix;
  const refusedChange = async () => {
    const before = (await t.site.state.list(prefix)).map((o) => [o.key, o.etag]);
    for (const change of [
      () => pinRelease(t.site, { request: requestBy('hold it') }),
      () => deployArtifact(t.site, { app: 'sophia-dashboard', commit: COMMIT, request: requestBy('again') }),
    ]) {
      const refused = await change().catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'TAMPERED' });
      expect((refused as Error).message).toMatch(/Nothing was (changed|written)/);
    }
    expect((await t.site.state.list(prefix)).map((o) => [o.key, o.etag])).toEqual(before);
  };
  try {
    const planted = await appendAudit(t.site.state, prefix, t.site.locker, {
      type: 'pin',
      data: { stack: 'someone-elses-stack' },
    });
    await refusedChange();
    await refusedChange();
    // Removed by someone with full write (the entry deleted, the head moved back): changes go through.
    await moveHeadBackOne(t.site.state, prefix);
    await t.site.state.delete([auditEntryKey(prefix, planted.seq)]);
    expect(await pinRelease(t.site, { request: requestBy('hold it') })).toMatchObject({ created: true });
    await saved.restore();
    // An entry that is no entry (not JSON) where the next append goes: the same.
    const head = (await readAudit(t.site.state, prefix)).at(-1) as AuditEntry;
    await t.site.state.put(auditEntryKey(prefix, head.seq + 1), 'not an entry', {}, { ifNoneMatch: '*' });
    await refusedChange();
  } finally {
    await saved.restore();
  }
});
