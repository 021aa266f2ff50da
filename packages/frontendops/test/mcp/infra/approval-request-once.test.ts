/**
 * An approval request is judged as it was read. `frontendops approve` read the request, then read it
 * again to hold it to the audit chain, and showed and signed the first read; the server did the same
 * when a change was asked for again. Whoever can write the state bucket could put a rewritten request
 * there for the first read and the recorded one back for the second: the approver was shown, and
 * signed, a request the chain does not record. Now the request read is the one held to the chain,
 * and it is read once (one request fewer for approve, and for the server asking again).
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadApproverKey } from '../../../src/approval/keys.ts';
import { approveRequest } from '../../../src/cli/approve-deploy.ts';
import { isFrontendOpsError } from '../../../src/errors.ts';
import type { ObjectStore } from '../../../src/ports.ts';
import type { Site } from '../../../src/site.ts';
import { findApprovalRequests, protectedInfraFor } from '../../support/approver.ts';
import { request } from '../../support/atomic-env.ts';
import type { BucketSnapshot } from '../../support/bucket-snapshot.ts';
import { COMMITS } from '../../support/mcp-infra.ts';

const infra = protectedInfraFor(['Ada']);

/**
 * The stack as the fixture starts it (nothing deployed, nothing asked), put back before each case:
 * the requests a case counts read the audit chain, which the cases before it would have made longer.
 */
let start: BucketSnapshot;
beforeAll(async () => {
  start = await infra().f.snapshot();
});
beforeEach(() => start.restore());

const requestKey = (deployId: string) =>
  `${infra().f.t.site.target.statePrefix}approvals/requests/deploy-${deployId}.json`;
const signedKey = (deployId: string) =>
  `${infra().f.t.site.target.statePrefix}approvals/signed/deploy-${deployId}.json`;

/** A deploy of `commit` asked for through the server, refused for want of an approval: its deploy id. */
async function asked(commit: string): Promise<{ deployId: string; handle: string }> {
  const { c } = infra();
  const target = await c.call('get_deploy_target', { commit });
  const handle = target.structured.handle as string;
  expect((await c.call('run_sync', { handle })).text).toMatch(/APPROVAL_REQUIRED/);
  return { deployId: target.structured.deployId as string, handle };
}

/** What `run` sends to the state bucket: in all, and the GETs of `key`. */
async function requestsOf(
  key: string,
  run: () => Promise<unknown>,
): Promise<{ total: number; reads: number }> {
  const { f } = infra();
  await f.t.s3.settle();
  const from = f.t.s3.requests.length;
  await run();
  await f.t.s3.settle();
  const sent = f.t.s3.requests.slice(from);
  return { total: sent.length, reads: sent.filter((r) => r.method === 'GET' && r.key === key).length };
}

/** Ada approves in process, as `frontendops approve` does; returns who she was shown as asking. */
async function adaApproves(on: Site, deployId: string): Promise<string> {
  let shown = '';
  await approveRequest(on, {
    deployId,
    request: request('Ada approves'),
    loadKey: () => loadApproverKey(infra().keys.Ada.path, undefined),
    confirm: async (preview) => {
      shown = preview.request.requestedBy;
      return true;
    },
  });
  return shown;
}

describe('an approval request is read once, and judged as read', () => {
  it('attack: a rewritten request for the first read, the recorded one back for the next: not approved', async () => {
    const { f, site } = infra();
    const { deployId } = await asked(COMMITS[2]);
    const [genuine] = await findApprovalRequests(f.t.site, deployId);
    if (!genuine) throw new Error('no request was made');
    const key = requestKey(deployId);
    const real = f.t.site.state;
    let first = true;
    // The deployer role writes its own request just before approve reads it, and the recorded one
    // back right after.
    const racing: ObjectStore = new Proxy(real, {
      get(target, property, receiver) {
        if (property !== 'get') return Reflect.get(target, property, receiver);
        return async (read: string) => {
          if (read !== key || !first) return real.get(read);
          first = false;
          const stored = await real.get(read);
          await real.put(key, JSON.stringify({ ...genuine, requestedBy: 'the CTO (release manager)' }), {
            contentType: 'application/json',
          });
          const forged = await real.get(read);
          await real.put(key, stored?.body ?? '', { contentType: 'application/json' });
          return forged;
        };
      },
    });
    const refused = await adaApproves({ ...site, state: racing }, deployId).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'TAMPERED'), String(refused)).toBe(true);
    expect(String(refused)).not.toContain('the CTO');
    expect(await real.get(signedKey(deployId))).toBeNull();
  });

  it('the server asking again reads the open request once, and reuses it', async () => {
    const { f, c } = infra();
    const { deployId, handle } = await asked(COMMITS[1]);
    const [first] = await findApprovalRequests(f.t.site, deployId);
    const sent = await requestsOf(requestKey(deployId), async () =>
      expect((await c.call('run_sync', { handle })).text).toMatch(/APPROVAL_REQUIRED/),
    );
    // The whole ask, planned again and refused (one more before: the request read twice; the plan
    // holds the environment marker to the chain, as the lock will: the marker, head and newest entry;
    // and the build to the publish log: its head, and its entries from the newest back to the build's,
    // read one, then two: four; the approval policy the chain records, read twice: its listing and
    // the entries back to the newest recording one, where none does the whole chain, here its one
    // entry: four; the pin as the chain records it, judged before anyone is asked: the pin, the
    // head and the newest entry, three; and twice the entry after the newest, which a head moved back
    // would leave: two).
    expect(sent).toEqual({ total: 26, reads: 1 });
    const [again] = await findApprovalRequests(f.t.site, deployId);
    expect(again?.nonce).toBe(first?.nonce);
  });

  it('approve reads the request once, and approves it as recorded', async () => {
    const { f, site } = infra();
    const [open] = await findApprovalRequests(f.t.site, (await asked(COMMITS[1])).deployId);
    if (!open) throw new Error('no request was made');
    let shown = '';
    const sent = await requestsOf(requestKey(open.deployId), async () => {
      shown = await adaApproves(site, open.deployId);
    });
    expect(shown).toBe(open.requestedBy);
    // The whole approval: the requests, the chain, the plan made again, the lock, the signed
    // statement and its entry (one more before: the request read twice; the plan's marker check, three;
    // the build's publish record, four; the approval policy the chain records, read back through the
    // whole chain where no entry records one: here its one entry; the entry after the newest, which a
    // head moved back would leave, looked for by the plan's check and by the pin's: two; the chain
    // back to the request, for an answer it records, before and under the lock: four).
    expect(sent).toEqual({ total: 43, reads: 1 });
    expect(await f.t.site.state.get(signedKey(open.deployId))).not.toBeNull();
  });
});
