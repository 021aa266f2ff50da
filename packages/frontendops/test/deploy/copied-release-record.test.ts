/**
 * A release named by deploy id (promote, redeploy, preview) is the build its deployment record says,
 * believed only as the chain binds that record. The chain binds a record under the deploy id it
 * carries: another deployment's record, bound as that deployment's and copied by the deployer role
 * under the id asked for, made that id resolve to the other build (a promote of v2 went to v1's).
 * Now a record carrying another deploy id than the one asked for is not that deployment's: refused,
 * TAMPERED, nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;
const request = (text: string): RequestInfo => ({
  text,
  actor: 'ada',
  planner: 'cli',
  at: new Date().toISOString(),
});

let t: TestDeployEnv;
beforeAll(async () => {
  t = await startDeployEnv({ stack: 'copied-release-record' });
  await publishFixtureBuilds(t, APP, [V1, V2, V3]);
}, 180_000);
afterAll(() => t?.stop());

describe('a deployment record copied under another deploy id', () => {
  it('does not make that id resolve to its build: TAMPERED', async () => {
    const v1 = await deployArtifact(t.site, { app: APP, commit: V1, request: request('ship v1') });
    const v2 = await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2') });
    await deployArtifact(t.site, { app: APP, commit: V3, request: request('ship v3') });
    const prefix = t.target.statePrefix;
    const v1Record = await t.site.state.get(`${prefix}deployments/${v1.deployId}.json`);
    if (!v1Record) throw new Error("v1's record is stored");
    await t.site.state.put(`${prefix}deployments/${v2.deployId}.json`, v1Record.body.toString('utf8'), {
      contentType: 'application/json',
    });
    const resolved = await resolveRelease(t.site, APP, v2.deployId).then(
      (release) => release,
      (error: unknown) => error,
    );
    expect(isFrontendOpsError(resolved, 'TAMPERED'), JSON.stringify(resolved)).toBe(true);
  });
});
