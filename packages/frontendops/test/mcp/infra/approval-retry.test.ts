/**
 * One approval, one change — also when the change it was used for did not happen. The attack: Ada
 * approves a deploy; its run uses the approval and then stops before anything went live (here a file
 * of the build was swapped in the artifacts bucket, TAMPERED). The same deploy asked again is the
 * same plan under the same deploy id, so Ada's signature still names it; it must not carry a second
 * run. Asked again, the server makes a new request, which a person approves again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApproverKey, loadApproverKey } from '../../../src/approval/keys.ts';
import { approveRequest } from '../../../src/cli/approve-deploy.ts';
import { approvalPolicyFor } from '../../../src/config.ts';
import { artifactFileKey } from '../../../src/engine/manifest.ts';
import type { Site } from '../../../src/site.ts';
import { APPROVALS_USED } from '../../../src/state/names.ts';
import { findApprovalRequests } from '../../support/approver.ts';
import { request } from '../../support/atomic-env.ts';
import { ARTIFACTS, STACK } from '../../support/deploy-env.ts';
import {
  APP,
  COMMITS,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
  stopConnectedInfra,
} from '../../support/mcp-infra.ts';

let f: InfraFixture;
let keysDir: string;
let keyPath: string;
let publicKey: string;
let c: InfraClient;
let site: Site;

beforeAll(async () => {
  f = await startInfraFixture();
  keysDir = await mkdtemp(join(tmpdir(), 'frontendops-keys-'));
  keyPath = join(keysDir, 'ada.pem');
  publicKey = await createApproverKey(keyPath, undefined);
  const config = f.config([STACK], { approvers: { Ada: publicKey } });
  site = { ...f.t.site, protected: true, approval: approvalPolicyFor(config, STACK) };
  c = await connectInfra(f.server({ config }));
});
afterAll(async () => {
  await stopConnectedInfra(f, c);
  await rm(keysDir, { recursive: true, force: true });
});

/** Ada runs `frontendops approve <deployId>` and says yes. */
const adaApproves = (deployId: string) =>
  approveRequest(site, {
    deployId,
    request: request('Ada approves'),
    loadKey: () => loadApproverKey(keyPath, async () => ''),
    confirm: async () => true,
  });

const used = async () =>
  (await f.t.site.state.list(`${f.t.site.target.statePrefix}${APPROVALS_USED}`)).length;
const live = async () => (await f.t.site.records.readPointer())?.value ?? null;

describe('attack: an approval used by a change that stopped before anything went live', () => {
  it('does not carry the same change again: asked again, it needs a new approval', async () => {
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    const deployId = target.structured.deployId as string;
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );
    await adaApproves(deployId);
    const [first] = await findApprovalRequests(f.t.site, deployId);

    // A file of the build swapped after publishing: the run uses Ada's approval, then stops.
    const key = artifactFileKey(APP, COMMITS[0], '/index.html');
    const artifacts = f.t.s3.store(ARTIFACTS);
    const published = (await artifacts.get(key))?.body;
    await artifacts.put(key, '<h1>not what was published</h1>', { contentType: 'text/html' });
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(/TAMPERED/);
    expect(await live()).toBeNull();
    expect(await used()).toBe(1);

    // Put right, the same deploy is the same plan under the same deploy id Ada signed for…
    await artifacts.put(key, published ?? '', { contentType: 'text/html' });
    const again = await c.call('get_deploy_target', { commit: COMMITS[0] });
    expect(again.structured.deployId).toBe(deployId);
    // …and her approval does not carry it a second time: a new request, with a new nonce.
    const refused = await c.call('run_sync', { handle: again.structured.handle });
    expect(refused.text).toMatch(/APPROVAL_REQUIRED/);
    expect(await live()).toBeNull();
    const [second] = await findApprovalRequests(f.t.site, deployId);
    expect(second?.nonce).toBeDefined();
    expect(second?.nonce).not.toBe(first?.nonce);
    expect(await used()).toBe(1);

    // A person approves the new request: the change lands, once.
    await adaApproves(deployId);
    const sync = await c.call('run_sync', { handle: again.structured.handle });
    expect(sync.structured).toMatchObject({ deployId, outcome: 'synced' });
    expect((await live())?.commit).toBe(COMMITS[0]);
    expect(await used()).toBe(2);
  });
});
