/**
 * A record planted under the deploy id a change will get (deploy ids are computed from what the
 * bucket shows) is refused by that change before it writes anything (deploy/planted-next-id.test.ts).
 * On a protected stack that refusal came after a person was asked to approve: get_deploy_target
 * handed a handle, run_sync filed an approval request, and `frontendops approve` showed the plan and
 * signed it, all for a change that could only be refused. Each plans the same deploy id from the same
 * state, and now says the refusal instead (TAMPERED), writing nothing and asking no one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApproverKey, loadApproverKey } from '../../../src/approval/keys.ts';
import { approveRequest } from '../../../src/cli/approve-deploy.ts';
import { approvalPolicyFor } from '../../../src/config.ts';
import type { Site } from '../../../src/site.ts';
import { request } from '../../support/atomic-env.ts';
import { type BucketSnapshot, snapshotBuckets } from '../../support/bucket-snapshot.ts';
import { STACK } from '../../support/deploy-env.ts';
import {
  APP,
  COMMITS,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
} from '../../support/mcp-infra.ts';
import { plantedRecord, stackObjectDigests } from '../../support/planted.ts';
import { refusal } from '../../support/refusal.ts';

let f: InfraFixture;
let keysDir: string;
let keyPath: string;
let c: InfraClient;
let site: Site;
let deployed: BucketSnapshot;

beforeAll(async () => {
  f = await startInfraFixture();
  keysDir = await mkdtemp(join(tmpdir(), 'frontendops-keys-'));
  keyPath = join(keysDir, 'ada.pem');
  const config = f.config([STACK], { approvers: { Ada: await createApproverKey(keyPath, undefined) } });
  site = { ...f.t.site, protected: true, approval: approvalPolicyFor(config, STACK) };
  c = await connectInfra(f.server({ config }));
  deployed = await snapshotBuckets([{ store: f.t.site.state, prefix: f.t.site.target.statePrefix }]);
}, 180_000);
beforeEach(() => deployed.restore());
afterAll(async () => {
  await c?.close();
  await f?.t.stop();
  await rm(keysDir, { recursive: true, force: true });
});

/** Every object of the hosting bucket and the stack's state prefix, by key (a refusal changes none). */
const state = () => stackObjectDigests({ site: f.t.site, target: f.t.site.target });

/** A record under `deployId` of the build the change deploys, asked by someone else. */
async function plant(deployId: string, artifactDigest: string) {
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
        loadKey: () => loadApproverKey(keyPath, async () => ''),
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
