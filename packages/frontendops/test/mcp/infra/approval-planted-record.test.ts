/**
 * A record planted under the deploy id a change will get (deploy ids are computed from what the
 * bucket shows) is refused by that change before it writes anything (deploy/planted-next-id.test.ts).
 * On a protected stack that refusal came after a person was asked to approve: get_deploy_target
 * handed a handle, run_sync filed an approval request, and `frontendops approve` showed the plan and
 * signed it, all for a change that could only be refused. Each plans the same deploy id from the same
 * state, and now says the refusal instead (TAMPERED), writing nothing and asking no one.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadApproverKey } from '../../../src/approval/keys.ts';
import { approveRequest } from '../../../src/cli/approve-deploy.ts';
import { protectedInfraFor } from '../../support/approver.ts';
import { request } from '../../support/atomic-env.ts';
import { type BucketSnapshot, snapshotBuckets } from '../../support/bucket-snapshot.ts';
import { APP, COMMITS } from '../../support/mcp-infra.ts';
import { plantedRecord, stackObjectDigests } from '../../support/planted.ts';
import { refusal } from '../../support/refusal.ts';

const infra = protectedInfraFor(['Ada']);
let deployed: BucketSnapshot;

beforeAll(async () => {
  const { f } = infra();
  deployed = await snapshotBuckets([{ store: f.t.site.state, prefix: f.t.site.target.statePrefix }]);
});
beforeEach(() => deployed.restore());

/** Every object of the hosting bucket and the stack's state prefix, by key (a refusal changes none). */
const state = () => stackObjectDigests({ site: infra().f.t.site, target: infra().f.t.site.target });

/** A record under `deployId` of the build the change deploys, asked by someone else. */
async function plant(deployId: string, artifactDigest: string) {
  const { f } = infra();
  const record = {
    ...plantedRecord({ site: f.t.site, target: f.t.site.target }, APP, deployId, COMMITS[0], artifactDigest),
    verification: null,
  };
  await f.t.site.state.put(
    `${f.t.site.target.statePrefix}deployments/${deployId}.json`,
    JSON.stringify(record),
    { contentType: 'application/json' },
  );
}

describe('a protected change whose deploy id has a planted record', () => {
  it('get_deploy_target says it will be refused, and hands no handle', async () => {
    const { c } = infra();
    const look = await c.call('get_deploy_target', { commit: COMMITS[0] });
    await plant(look.structured.deployId as string, look.structured.artifactDigest as string);
    const before = await state();
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    expect(target.isError).toBe(true);
    expect(target.text).toMatch(/TAMPERED/);
    expect(target.text).toContain(look.structured.deployId as string);
    expect(target.structured.handle).toBeUndefined();
    expect(await state()).toEqual(before);
  });

  it('run_sync refuses it before asking for an approval: no request filed', async () => {
    const { c } = infra();
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    await plant(target.structured.deployId as string, target.structured.artifactDigest as string);
    const before = await state();
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.isError).toBe(true);
    expect(sync.text).toMatch(/TAMPERED/);
    expect(sync.text).not.toMatch(/APPROVAL_REQUIRED/);
    expect(await state()).toEqual(before);
  });

  it('`frontendops approve` refuses to sign it: the approver is not asked', async () => {
    const { c, site, keys } = infra();
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    const deployId = target.structured.deployId as string;
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );
    await plant(deployId, target.structured.artifactDigest as string);
    const before = await state();
    let asked = 0;
    const error = await refusal(
      approveRequest(site, {
        deployId,
        request: request('Ada approves'),
        loadKey: () => loadApproverKey(keys.Ada.path, async () => ''),
        confirm: async () => {
          asked += 1;
          return true;
        },
      }),
    );
    expect(error.code).toBe('TAMPERED');
    expect(asked).toBe(0);
    expect(await state()).toEqual(before);
  });
});
