/**
 * Verification through the CDN: the served index.html must become the new one within a bounded
 * wait; when it does not, the deploy is recorded as failed and rolled back to the previous release.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { finish } from '../../src/cli/commands/deploy.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { type StaleCdn, startStaleCdn } from '../support/stale-cdn.ts';

const APP = 'sophia-dashboard';
const [V1, V2] = ['1010101010', '2020202020'];
const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };

let t: TestDeployEnv;
/** The "CDN": the hosting bucket's index.html, or a frozen (stale) copy. */
let cdn: StaleCdn;
let env: Site;
/**
 * The state prefix and hosting bucket each case starts from, whichever ran before: both builds
 * published and nothing deployed; then V1 deployed and live.
 */
let published: BucketSnapshot;
let v1Live: BucketSnapshot;
const snapshot = () =>
  snapshotBuckets([{ store: env.state, prefix: t.target.statePrefix }, { store: env.hosting }]);

beforeAll(async () => {
  cdn = await startStaleCdn(async () => (await t.site.hosting.get('index.html'))?.body);
  t = await startDeployEnv({ siteUrl: cdn.url });
  env = t.site;
  for (const [i, commit] of [V1, V2].entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `v${i}`), { version: `v${i + 1}` });
    await publishAsCi(env, { dir: build.dir, app: APP, commit });
  }
  published = await snapshot();
  await deployArtifact(env, { app: APP, commit: V1 as string, request, verifyTimeoutMs: 2000 });
  v1Live = await snapshot();
}, 180_000);
// The "CDN" serves what the bucket holds until a case freezes it.
beforeEach(async () => {
  cdn.frozen = null;
  await v1Live.restore();
});
afterAll(async () => {
  await cdn.stop();
  await t.stop();
});

describe('verification through the CDN', () => {
  it('passes when the CDN serves the new index.html', async () => {
    await published.restore();
    const summary = await deployArtifact(env, {
      app: APP,
      commit: V1 as string,
      request,
      verifyTimeoutMs: 2000,
    });
    expect(summary.outcome).toBe('succeeded');
    expect(summary.verification).toMatchObject({ ok: true });
  });

  it('fails within the bounded wait when the CDN keeps serving the old page, and rolls back', async () => {
    cdn.frozen = (await env.hosting.get('index.html'))?.body ?? null;
    const started = Date.now();
    const summary = await deployArtifact(env, {
      app: APP,
      commit: V2 as string,
      request,
      verifyTimeoutMs: 600,
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(summary.outcome).toBe('failed');
    expect(summary.verification).toMatchObject({
      ok: false,
      detail: 'the CDN still serves another index.html',
    });
    expect(summary.error?.code).toBe('VERIFY_FAILED');
    expect(summary.rolledBackTo).toBeDefined();
    // The CLI says the switch back in the words the runbook and the infra server use
    // (agent/verification.test.ts), with the deployment that did it.
    let printed = '';
    const io = {
      stdout: { write: (chunk: string) => (printed += chunk) },
      stderr: { write: (chunk: string) => (printed += chunk) },
      stdin: process.stdin,
      env: {},
      cwd: t.tmp,
      untilStopped: () => new Promise<void>(() => {}),
    };
    const ctx = { io, exitCode: 0, runCli: () => Promise.resolve(0) };
    await finish(ctx, env, summary, { wait: '30', tag: false }, null);
    expect(printed).toContain(
      `\n  the previous release is live again, switched back automatically (${summary.rolledBackTo})\n`,
    );
    expect(ctx.exitCode).toBe(1);
    expect((await env.records.readPointer())?.value.commit).toBe(V1);
    // The automatic rollback of a failed verification does not pin: a retry may go ahead.
    expect(await readPin(env)).toBeNull();
    const records = (await env.records.listRecords()).records;
    expect(records.map((r) => [r.kind, r.commit, r.outcome])).toEqual([
      ['rollback', V1, 'succeeded'],
      ['deploy', V2, 'failed'],
      ['deploy', V1, 'succeeded'],
    ]);
    // The environment marked once; each of the three went live (a release entry) and was recorded.
    expect(await verifyAudit(env.state, t.target.statePrefix)).toMatchObject({ ok: true, entries: 7 });
  });

  it('leaves a failed deploy live when asked not to roll back', async () => {
    // The "CDN" keeps serving V1's page.
    cdn.frozen = (await env.hosting.get('index.html'))?.body ?? null;
    const summary = await deployArtifact(env, {
      app: APP,
      commit: V2 as string,
      request,
      verifyTimeoutMs: 300,
      rollbackOnFailure: false,
    });
    expect(summary.outcome).toBe('failed');
    expect(summary.rolledBackTo).toBeUndefined();
    expect((await env.records.readPointer())?.value.commit).toBe(V2);
  });
});
