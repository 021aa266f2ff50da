/**
 * An approval is of one change as the engine plans it, not only of its deploy id. Three attacks a
 * review ran against an atomic protected stack, each of which went through before, with `audit
 * verify` clean afterwards:
 * - an MCP client asks for the canary that already runs (its dry run has nothing to approve) while a
 *   change Ada approved holds the lock (her abort); once that is done the real run has something to
 *   do (the canary again, under the same deploy id), and did it with no approval at all;
 * - whoever can write the state bucket edits atomic/state.json so that `frontendops approve` shows
 *   Ada "promote the canary X", has her sign, and puts the state back: her signature promoted B;
 * - Ada approves promoting the canary, then aborts it instead; `promote_release` of the aborted
 *   build plans the same deploy id under the same action, and used her promote approval.
 * Now the request and the signed statement carry the change's digest (its kind, build and what it
 * switches from and to), the approval is used only by a run whose plan has that digest, a run whose
 * dry run had nothing to approve does nothing else, and `approve` plans only from state the audit
 * chain records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config.ts';
import { startCanary } from '../../../src/deploy/canary.ts';
import { deployArtifact } from '../../../src/deploy/deploy.ts';
import { requireManifest } from '../../../src/deploy/live.ts';
import { releaseIdFor } from '../../../src/engine/atomic-plan.ts';
import { artifactDigest } from '../../../src/engine/manifest.ts';
import { isFrontendOpsError } from '../../../src/errors.ts';
import type { Site } from '../../../src/site.ts';
import { readAudit, verifyAudit } from '../../../src/state/audit.ts';
import { ATOMIC_STATE } from '../../../src/state/names.ts';
import { approverKeysFor, approversOf, approveShown } from '../../support/approver.ts';
import { APP, type AtomicEnv, heldAtSwitch, request, startAtomicEnv } from '../../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../../support/atomic-snapshot.ts';
import { connectInfra, type InfraClient, infraServerOn } from '../../support/mcp-infra.ts';

const [A, B, X] = [
  'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0',
  'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
  'c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0',
];
let t: AtomicEnv;
const keys = approverKeysFor(['Ada']);
const clients: InfraClient[] = [];
/** The stack each case starts from: A live; a canary of B at 10% Ada approved; that canary at 30%. */
let aLive: AtomicSnapshot;
let canaryAt10: AtomicSnapshot;
let canaryAt30: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'approval-plan' });
  await t.publish(A, 'v1');
  await t.publish(B, 'v2');
  await t.publish(X, 'v3');
  await deployArtifact(t.site, { app: APP, commit: A, request: request() });
  aLive = await snapshotAtomicEnv(t);
  await canaryOfB(await client(), 10);
  canaryAt10 = await snapshotAtomicEnv(t);
  // An operator's change to 30%, as the CLI makes it once its operator confirmed.
  await startCanary(guarded(t.site), { app: APP, commit: B, weightPercent: 30, request: request('30%') });
  canaryAt30 = await snapshotAtomicEnv(t);
});
afterAll(async () => {
  for (const client of clients) await client.close();
  await t?.stop();
});

const guarded = (site: Site): Site => ({
  ...site,
  protected: true,
  approval: { approvers: approversOf(keys()), trustElicitation: false },
});

/** An infra server of its own on `site` (the stack protected), and a client of it. */
async function client(site: Site = guarded(t.site), now?: () => number): Promise<InfraClient> {
  const c = await connectInfra(
    infraServerOn(site, {
      // Protected by the configuration whether or not `site` says so.
      config: { ...defaultConfig(), protected: [t.site.target.stack] },
      lockWaitMs: 60_000,
      ...(now ? { now } : {}),
    }),
  );
  clients.push(c);
  return c;
}

/** Ada approves the open request of `action` for `deployId`; returns what she was shown. */
const adaApproves = (deployId: string, action: 'canary' | 'promote' | 'abort') =>
  approveShown(guarded(t.site), keys().Ada.path, deployId, action);

const deployIdIn = (text: string) => /frontendops approve (\S+) --stack/.exec(text)?.[1] ?? '';
const served = async () => (await t.store().read()).value;
const entries = () => readAudit(t.site.state, t.target.statePrefix);
const verified = () =>
  verifyAudit(t.site.state, t.target.statePrefix, {
    approvers: approversOf(keys()),
    releaseStore: t.store(),
  });

/** A canary of B at `percent`, started with Ada's approval. */
async function canaryOfB(c: InfraClient, percent: number) {
  const asked = await c.call('start_canary', { app: APP, commit: B, percent });
  expect(asked.text).toMatch(/APPROVAL_REQUIRED/);
  await adaApproves(deployIdIn(asked.text), 'canary');
  const started = await c.call('start_canary', { app: APP, commit: B, percent });
  expect(started.isError, started.text).toBe(false);
  return deployIdIn(asked.text);
}

/**
 * The site with a locker that says when a change first asks for the deploy lock (its dry run and its
 * approval are done), calling `then` at that moment.
 */
function askingForTheLock(site: Site, then = () => {}): { site: Site; asked: Promise<void> } {
  let arrive = () => {};
  const asked = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const locker = {
    acquire: (name: string, options: Parameters<Site['locker']['acquire']>[1]) => {
      if (name.startsWith('deploy-')) {
        then();
        arrive();
      }
      return site.locker.acquire(name, options);
    },
  };
  return { site: { ...site, locker }, asked };
}

describe('an approval is of the change as planned', () => {
  it('a canary asked for while it runs, waiting behind an approved abort: refused once it has something to do', async () => {
    await aLive.restore();
    const c = await client();
    const canary = await canaryOfB(c, 10);
    const abortAsked = await c.call('abort_canary', {});
    expect(deployIdIn(abortAsked.text)).toBe(canary);
    await adaApproves(canary, 'abort');

    // Ada's abort runs, held at its switch (it holds the deploy lock, as any running change does).
    const held = heldAtSwitch(t.store());
    const aborting = (await client(guarded(await t.open({ releases: held.store })))).call('abort_canary', {});
    await held.reached;
    // Another client asks for the canary at the share it runs at: nothing to approve, so it waits for the lock.
    const attacker = askingForTheLock(guarded(t.site));
    const starts = (await entries()).filter((e) => e.type === 'canary-start').length;
    const again = (await client(attacker.site)).call('start_canary', { app: APP, commit: B, percent: 10 });
    await attacker.asked;
    held.release();
    expect((await aborting).isError).toBe(false);

    const refused = await again;
    expect(refused.isError, refused.text).toBe(true);
    expect(refused.text).toMatch(/CONFLICT/);
    expect(refused.text).toMatch(/Nothing was changed/);
    expect(await served()).not.toHaveProperty('canary');
    expect((await entries()).filter((e) => e.type === 'canary-start')).toHaveLength(starts);
    expect((await verified()).problems).toEqual([]);
  });

  it('Ada is not shown a plan made from an edited atomic/state.json; her signature promotes nothing else', async () => {
    await aLive.restore();
    const c = await client();
    const canary = await canaryOfB(c, 10);
    const asked = await c.call('promote_canary', {});
    expect(deployIdIn(asked.text)).toBe(canary);

    // The state-bucket writer: the canary now names X, under the same deploy id.
    const key = `${t.target.statePrefix}${ATOMIC_STATE}`;
    const original = (await t.site.state.get(key))?.body.toString('utf8') ?? '';
    const state = JSON.parse(original);
    const digest = artifactDigest(await requireManifest(t.site, APP, X));
    state.canary = {
      ...state.canary,
      commit: X,
      artifactDigest: digest,
      releaseId: releaseIdFor({ commit: X, artifactDigest: digest }),
    };
    await t.site.state.put(key, JSON.stringify(state), { contentType: 'application/json' });
    let error: unknown;
    try {
      await adaApproves(canary, 'promote');
    } catch (caught) {
      error = caught;
    } finally {
      await t.site.state.put(key, original, { contentType: 'application/json' });
    }
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/atomic\/state\.json/);
    expect((await entries()).filter((e) => e.type === 'approval' && e.data.action === 'promote')).toEqual([]);

    const promoted = await c.call('promote_canary', {});
    expect(promoted.text).toMatch(/APPROVAL_REQUIRED/);
    expect(await served()).toMatchObject({ canary: expect.any(String) });
  });

  it("Ada's approval of promoting the canary, which she then aborted, does not promote that build through promote_release", async () => {
    // A canary of B runs: Ada approves its promote, then aborts it instead.
    await canaryAt10.restore();
    const c = await client();
    const canary = deployIdIn((await c.call('promote_canary', {})).text);
    expect(canary).not.toBe('');
    await adaApproves(canary, 'promote');
    await adaApproves(deployIdIn((await c.call('abort_canary', {})).text), 'abort');
    expect((await c.call('abort_canary', {})).isError).toBe(false);
    expect(await served()).not.toHaveProperty('canary');

    const promoted = await (await client()).call('promote_release', { app: APP, to: B, reason: 'ship it' });
    expect(promoted.isError, promoted.text).toBe(true);
    expect(promoted.text).toMatch(/APPROVAL_REQUIRED/);
    expect((await served())?.live).toBe(releaseIdFor({ commit: A, artifactDigest: await digestOf(A) }));
    expect((await verified()).problems).toEqual([]);
  });

  it('an approver whose outputs still describe the stack in place is told so, and nothing is approved', async () => {
    await aLive.restore();
    const asked = await (await client()).call('promote_release', { app: APP, to: B, reason: 'ship it' });
    const deployId = deployIdIn(asked.text);
    expect(deployId).not.toBe('');
    const before = await entries();
    const inPlace = await t.open({ inPlace: true });
    const error = await approveShown(guarded(inPlace), keys().Ada.path, deployId, 'promote').catch(
      (e: unknown) => e,
    );
    expect(isFrontendOpsError(error, 'BAD_INPUT')).toBe(true);
    expect((error as Error).message).toMatch(/serves atomic releases .*releaseStoreArn/);
    expect(await entries()).toEqual(before);
  });

  it('an approval is used only by a run that plans the change approved, whatever the deploy id says', async () => {
    await aLive.restore();
    const c = await client();
    const canary = await canaryOfB(c, 10);
    // Ada approves 10% → 50%; the call that makes it waits behind an operator's change to 30%.
    const asked = await c.call('start_canary', { app: APP, commit: B, percent: 50 });
    expect(deployIdIn(asked.text)).toBe(canary);
    await adaApproves(canary, 'canary');
    const held = heldAtSwitch(t.store());
    // (The engine in process, as the CLI runs it once its operator confirmed.)
    const operator = startCanary(guarded(await t.open({ releases: held.store })), {
      app: APP,
      commit: B,
      weightPercent: 30,
      request: request('30% for now'),
    });
    await held.reached;
    const waiting = askingForTheLock(guarded(t.site));
    const uses = (await entries()).filter((e) => e.type === 'approval-used').length;
    const fifty = (await client(waiting.site)).call('start_canary', { app: APP, commit: B, percent: 50 });
    await waiting.asked;
    held.release();
    await operator;

    // Under the lock it plans 30% → 50%, not the 10% → 50% Ada was shown: her approval is not used.
    const refused = await fifty;
    expect(refused.isError, refused.text).toBe(true);
    expect(refused.text).toMatch(/no longer the change approved/);
    expect(await served()).toMatchObject({ weight: 30 });
    expect((await entries()).filter((e) => e.type === 'approval-used')).toHaveLength(uses);
    expect((await verified()).problems).toEqual([]);
  });

  it('an approval that expires while its change waits for the lock is not used', async () => {
    // A canary of B runs at 30%: Ada approves its abort.
    await canaryAt30.restore();
    const c = await client();
    const canary = deployIdIn((await c.call('abort_canary', {})).text);
    await adaApproves(canary, 'abort');
    // This server's clock: the abort's hour is over by the time it has the deploy lock.
    let late = 0;
    const waited = askingForTheLock(guarded(t.site), () => {
      late = 2 * 3600_000;
    });
    const uses = (await entries()).filter((e) => e.type === 'approval-used').length;
    const aborted = await (await client(waited.site, () => Date.now() + late)).call('abort_canary', {});
    expect(aborted.isError, aborted.text).toBe(true);
    expect(aborted.text).toMatch(/DENIED/);
    expect(aborted.text).toMatch(/expired at .*Nothing was changed/);
    expect(await served()).toMatchObject({ weight: 30 });
    expect((await entries()).filter((e) => e.type === 'approval-used')).toHaveLength(uses);
  });

  it("a request file's summary edited is not approved; asked again, the chain records the plan Ada was shown", async () => {
    // A canary of B runs at 30%: another share is asked for, and the request file edited.
    await canaryAt30.restore();
    const c = await client();
    const canary = deployIdIn((await c.call('start_canary', { app: APP, commit: B, percent: 40 })).text);
    const key = `${t.target.statePrefix}approvals/requests/canary-${canary}.json`;
    const stored = JSON.parse((await t.site.state.get(key))?.body.toString('utf8') ?? '{}');
    await t.site.state.put(key, JSON.stringify({ ...stored, summary: 'tidy up the README' }), {
      contentType: 'application/json',
    });
    await expect(adaApproves(canary, 'canary')).rejects.toThrow(/not what the audit log records/);
    // Asked again, the server makes a request of its own rather than reuse the edited one.
    expect(deployIdIn((await c.call('start_canary', { app: APP, commit: B, percent: 40 })).text)).toBe(
      canary,
    );
    const shown = await adaApproves(canary, 'canary');
    expect(shown).toMatch(/^send 40% of /);
    const given = (await entries()).filter((e) => e.type === 'approval' && e.data.action === 'canary').at(-1);
    expect(given?.data.summary).toBe(shown);
  });
});

const digestOf = async (commit: string) => artifactDigest(await requireManifest(t.site, APP, commit));
