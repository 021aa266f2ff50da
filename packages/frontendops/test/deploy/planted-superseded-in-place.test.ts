/**
 * Review of a5fd9f3 ("a superseded row not yet recorded is unfinished"): verify's new excuse reads
 * only atomic/pending.json's `switched` flag and the row's `outcome`. It is not held to the CDN's
 * release store, nor to the stack being atomic, nor to the row being what the stopped operation's
 * superseded row would be. On an in-place stack (verify given no release store: verifySite,
 * refuseIfTampered), the deployer role plants atomic/pending.json (no change of an in-place stack
 * ever reads it) and a deployment record under its deploy id saying "superseded", of any build: verify
 * calls the record "unfinished ... the next change records it", and keeps calling it so after any
 * number of changes; a redeploy of that id is refused CONFLICT ("the change that wrote it stopped").
 * docs/security.md: verify excuses as unfinished ... "for an atomic operation only where the CDN's
 * release store serves the record's own switch, never on an in-place stack".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import { verifySite } from '../../src/read/verify-site.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { refusal } from '../support/refusal.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;
const PLANTED = `${V3.slice(0, 7)}-0123456789`;
const request = (text: string) => ({ text, actor: 'test', planner: 'cli', at: new Date().toISOString() });

describe('in place: a record planted beside a planted atomic/pending.json that never switched', () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'planted-superseded-in-place' });
    await publishFixtureBuilds(t, APP, [V1, V2, V3]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
  }, 180_000);
  afterAll(() => t?.stop());

  it('is written around the chain: tampered, and stays so', async () => {
    const prefix = t.target.statePrefix;
    const put = (name: string, value: unknown) =>
      t.site.state.put(`${prefix}${name}`, JSON.stringify(value), { contentType: 'application/json' });
    const [genuine] = (await t.site.records.listReleases(1)).releases;
    if (!genuine) throw new Error('v1 has a record');
    await put('atomic/pending.json', {
      op: 'deploy',
      switched: false,
      plan: { op: 'deploy', deployId: PLANTED, app: APP, commit: V3, liveChanges: true },
      request: request('nobody asked'),
      startedAt: new Date().toISOString(),
    });
    await put(`deployments/${PLANTED}.json`, {
      ...genuine,
      deployId: PLANTED,
      commit: V3,
      outcome: 'superseded',
    });
    await t.site.state.put(`${prefix}history/0000000000001-${PLANTED}`, '', {
      contentType: 'application/octet-stream',
    });
    const verdict = async () =>
      (await verifySite(t.site, [])).result.problems
        .filter((p) => p.object === `deployments/${PLANTED}.json`)
        .map((p) => p.kind);

    // Changes of the stack go on (none reads atomic/pending.json), and none records the row.
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2') });
    const verdictNow = await verdict();
    const redeploy = await refusal(resolveRelease(t.site, APP, PLANTED));
    expect({ verdict: verdictNow, refused: (redeploy as { code?: string }).code }).toEqual({
      verdict: ['tampered'],
      refused: 'TAMPERED',
    });
  });
});
