/**
 * A whole audit chain copied from one stack's state prefix to another's, by whoever can write the
 * state bucket: each entry still hashes and links as written, so the chain verified, though every
 * entry names the stack it was written for. Now `audit verify` of the other stack reports it
 * tampered: entries of another stack. Status and a change's check of the state read only the
 * chain's newest entry: they took the copy's bindings as the stack's own (status said the copied
 * pointer was as recorded, a pin held it). Now both say the newest entry is another stack's,
 * from that one entry (no other request): status not as recorded, a change refused, TAMPERED.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import { readStatus } from '../../src/read/status.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { ENVIRONMENT_MARKER, PUBLISH_LOG } from '../../src/state/names.ts';
import { chainBeforeMarkers } from '../support/audit-forgery.ts';
import { snapshotBuckets } from '../support/bucket-snapshot.ts';
import {
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
const READ_TO = 'read-copied-to';
const READ_TO_HOSTING = 'sophia-dashboard-hosting-read-copied-to';
const COMMIT = 'c0ffee10'.repeat(5);
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv({ stack: FROM }, { extraBuckets: [TO_HOSTING, LOG_TO_HOSTING, READ_TO_HOSTING] });
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
