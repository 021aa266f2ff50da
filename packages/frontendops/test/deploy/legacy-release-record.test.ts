/**
 * Review of 9805212 ("Refuse a deployment record the chain does not bind where named by id"): a stack
 * whose chain began before entries bound records (a `deploy` entry with no `objects`: audit verify's
 * legacyRecords) has genuine records no entry binds. verify accepts them; readRelease (promote,
 * redeploy, preview by deploy id) now refuses them TAMPERED, "not written by FrontendOps ... delete
 * that record" (before: resolved to its build).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, finishSyncedDeploy } from '../../src/deploy/deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import { verifySite } from '../../src/read/verify-site.ts';
import { appendAudit } from '../../src/state/audit.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { refusal } from '../support/refusal.ts';

const APP = 'sophia-dashboard';
const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;
const LEGACY = `${V1.slice(0, 7)}-0123456789`;
const request = (text: string) => ({ text, actor: 'test', planner: 'cli', at: new Date().toISOString() });

describe('a record of a chain begun before entries bound records', () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'legacy-release-record' });
    await publishFixtureBuilds(t, APP, [V1, V2]);
  }, 180_000);
  afterAll(() => t?.stop());

  it('resolves by its deploy id, as verify accepts it', async () => {
    const prefix = t.target.statePrefix;
    const manifest = await readManifest(t.site.artifacts, APP, V1);
    if (!manifest) throw new Error('v1 is published');
    const ref = { deployId: LEGACY, app: APP, commit: V1, artifactDigest: artifactDigest(manifest) };
    const at = new Date().toISOString();
    // What an older FrontendOps left: a record, its history row, live.json, and an entry binding none.
    const record = {
      ...ref,
      stack: t.target.stack,
      kind: 'deploy',
      fromDeployId: null,
      fromCommit: null,
      request: request('first'),
      plan: { copies: 0, unchanged: 0, prune: 0, bytes: 0, retained: [] },
      copied: [],
      deleted: [],
      invalidation: null,
      verification: null,
      startedAt: at,
      finishedAt: at,
      durationMs: 0,
      outcome: 'succeeded',
    };
    const put = (name: string, value: unknown) =>
      t.site.state.put(`${prefix}${name}`, JSON.stringify(value), { contentType: 'application/json' });
    await put(`deployments/${LEGACY}.json`, record);
    await t.site.state.put(`${prefix}history/9999999999999-${LEGACY}`, '', {
      contentType: 'application/octet-stream',
    });
    await put('live.json', { ...ref, releasedAt: at, releases: [{ ...ref, releasedAt: at }] });
    await appendAudit(t.site.state, prefix, t.site.locker, {
      type: 'deploy',
      data: { ...ref, outcome: 'succeeded' },
    });
    // Then the stack runs today's version.
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2') });
    const { problems } = (await verifySite(t.site, [])).result;
    expect(problems.filter((p) => p.object === `deployments/${LEGACY}.json`)).toEqual([]);

    expect(await resolveRelease(t.site, APP, LEGACY)).toEqual({ app: APP, commit: V1, deployId: LEGACY });

    // Held to its entry's build: edited to name another, it is refused.
    await put(`deployments/${LEGACY}.json`, { ...record, commit: V2 });
    const error = await refusal(resolveRelease(t.site, APP, LEGACY));
    expect(error.code).toBe('TAMPERED');

    // And to its entry's outcome: rewritten as another, it is refused.
    await put(`deployments/${LEGACY}.json`, { ...record, outcome: 'failed' });
    expect((await refusal(resolveRelease(t.site, APP, LEGACY))).code).toBe('TAMPERED');
    await put(`deployments/${LEGACY}.json`, record);
    expect((await resolveRelease(t.site, APP, LEGACY)).commit).toBe(V1);

    // Never an answer: invalidate_cdn asked again answers only with a record an entry binds, since it
    // hands the whole record (who asked, what was verified) to the agent, which an old entry does not
    // hold. Before, a record rewritten with another request and verification was answered as fact.
    await put(`deployments/${LEGACY}.json`, {
      ...record,
      request: { text: 'approved by the CTO', actor: 'mallory', planner: 'cli', at },
      verification: { ok: true },
    });
    const receipt = await refusal(
      finishSyncedDeploy(t.site, LEGACY, { request: request('invalidate again') }),
    );
    expect(receipt.code).toBe('CONFLICT');
    expect(receipt.message).toMatch(/from before audit entries bound records/);
    expect(receipt.message).not.toMatch(/not written by FrontendOps/);
  });
});
