/**
 * Approvals on a protected stack, tried as the parties they guard against would: an MCP client
 * approving its own request, an approval forged in the state bucket, an approval of one thing used
 * for another, an expired or replayed one. And the ways a person really approves: a signed answer
 * with `frontendops approve` (the CLI, in process), a GitHub deployment environment (OIDC, through
 * a double of GitHub's provider), and a client the stack's configuration trusts.
 */
import type { ElicitRequest } from '@modelcontextprotocol/server';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadApproverKey, signStatement } from '../../../src/approval/keys.ts';
import type { ApprovalPolicy } from '../../../src/config.ts';
import { pinRelease, unpinRelease } from '../../../src/deploy/pin.ts';
import { approvalInForce } from '../../../src/state/approval-in-force.ts';
import { consumeApproval, isUsed } from '../../../src/state/approvals.ts';
import { readAudit, verifyAudit } from '../../../src/state/audit.ts';
import {
  adoptedPolicy,
  approverKeysFor,
  approveWithCli,
  cliOnProtected,
  findApprovalRequests,
  infraWithOidcFor,
} from '../../support/approver.ts';
import { request } from '../../support/atomic-env.ts';
import type { BucketSnapshot } from '../../support/bucket-snapshot.ts';
import { ARTIFACTS, HOSTING, STACK } from '../../support/deploy-env.ts';
import {
  APP,
  COMMITS,
  type ConnectOptions,
  connectInfra,
  deployThroughTools,
  type InfraClient,
  type InfraFixture,
} from '../../support/mcp-infra.ts';
import { cli } from '../../support/run-cli.ts';

const { f, oidc, clients } = infraWithOidcFor();
const keys = approverKeysFor(['ada', 'mallory']);

/** Ada is the stack's one approver; Mallory has a key too, but nobody listed it. */
const policy = (extra: Partial<ApprovalPolicy> = {}): Partial<ApprovalPolicy> => ({
  approvers: { Ada: keys().ada.publicKey },
  ...extra,
});

async function protectedClient(
  options: ConnectOptions = {},
  approval: Partial<ApprovalPolicy> = policy(),
  serverOptions: Parameters<InfraFixture['server']>[0] = {},
) {
  const c = await connectInfra(
    f().server({ config: f().config([STACK], approval), ...serverOptions }),
    options,
  );
  clients.push(c);
  return c;
}

const live = async () => (await f().t.site.records.readPointer())?.value ?? null;
const hostingKeys = async () =>
  (await f().t.s3.store(HOSTING).list()).map((o) => `${o.key}:${o.etag}`).sort();
const auditOf = async (type: string) =>
  (await readAudit(f().t.site.state, f().t.site.target.statePrefix)).filter((e) => e.type === type);
const statePrefix = () => f().t.site.target.statePrefix;
const store = () => f().t.s3.store(ARTIFACTS);
/** A request made by `actor` at a terminal (an unpin, a pin). */
const asActor = (actor: string) => ({ ...request(actor), actor });

/** `frontendops approve` as a person runs it, with `key`: Ada the stack's one approver. */
const approve = (deployId: string, key: string, extra: string[] = []) =>
  approveWithCli(f(), deployId, key, policy(), extra);

/** `frontendops audit verify` with the stack's configuration (Ada its approver), in process. */
const auditVerifyWithCli = () => cliOnProtected(f(), policy(), ['audit', 'verify']);

async function planAndSync(c: InfraClient, commit: string) {
  const target = await c.call('get_deploy_target', { commit });
  expect(target.structured.approvalRequired).toBe(true);
  const sync = await c.call('run_sync', { handle: target.structured.handle });
  return { target, sync, deployId: target.structured.deployId as string };
}

/**
 * The stack each case starts from: nothing deployed; C0 live on a client's answer, the stack trusting
 * its clients then (what the elicitation case below does: its approval is the first the chain
 * records); C1 over it on Ada's signed approval.
 */
let nothingDeployed: BucketSnapshot;
let c0OnClientsWord: BucketSnapshot;
let c1ApprovedByAda: BucketSnapshot;

beforeAll(async () => {
  nothingDeployed = await f().snapshot();
  const trusting = await protectedClient(
    { elicit: () => ({ action: 'accept', content: { confirm: true, approver: 'Grace Hopper' } }) },
    policy({ trustElicitation: true }),
  );
  await deployThroughTools(trusting, COMMITS[0]);
  c0OnClientsWord = await f().snapshot();
  const c = await protectedClient();
  const { deployId } = await planAndSync(c, COMMITS[1]);
  const approved = await approve(deployId, keys().ada.path);
  if (approved.code !== 0) throw new Error(approved.stderr);
  await deployThroughTools(c, COMMITS[1]);
  c1ApprovedByAda = await f().snapshot();
});

describe('attack: an MCP client approves its own request (elicitation)', () => {
  it('is not even asked on a stack that does not trust clients, and nothing changes', async () => {
    await nothingDeployed.restore();
    const asked: ElicitRequest[] = [];
    const c = await protectedClient({
      elicit: (request) => {
        asked.push(request);
        return { action: 'accept', content: { confirm: true, approver: 'The Boss' } };
      },
    });
    const { sync, deployId } = await planAndSync(c, COMMITS[0]);
    expect(asked).toEqual([]);
    expect(sync.isError).toBe(true);
    expect(sync.text).toContain('APPROVAL_REQUIRED: dashboard-hosting-prod is a protected environment');
    expect(sync.text).toContain(`frontendops approve ${deployId} --stack ${STACK}`);
    expect(sync.text).toContain('Answers from MCP clients such as infra-test do not count');
    expect(await live()).toBeNull();
    expect(await hostingKeys()).toEqual([]);
  });

  it('where the stack trusts its clients, a missing confirm is a no, and an accept counts once, labelled a claim', async () => {
    await nothingDeployed.restore();
    const trusting = policy({ trustElicitation: true });
    const silent = await protectedClient({ elicit: () => ({ action: 'accept', content: {} }) }, trusting);
    const declined = await planAndSync(silent, COMMITS[0]);
    expect(declined.sync.text).toMatch(
      /DENIED: Not approved: .* was not confirmed by the user \(as claimed by infra-test\)/,
    );
    expect(await live()).toBeNull();

    const c = await protectedClient(
      {
        era: 'modern',
        elicit: () => ({ action: 'accept', content: { confirm: true, approver: 'Grace Hopper' } }),
      },
      trusting,
    );
    const { sync, deployId } = await planAndSync(c, COMMITS[0]);
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: 'Grace Hopper (as claimed by infra-test) (elicitation)',
    });
    expect((await c.call('invalidate_cdn', { deployId })).structured.outcome).toBe('succeeded');
    expect((await auditOf('approval-used')).at(-1)?.data).toMatchObject({ deployId, via: 'elicitation' });
  });
});

describe('attack: an approval forged in the state bucket', () => {
  it('unsigned, signed by an unlisted key, or edited after signing: none counts, and each is named', async () => {
    await c0OnClientsWord.restore();
    const c = await protectedClient();
    const { deployId } = await planAndSync(c, COMMITS[1]);
    const [request] = await findApprovalRequests(f().t.site, deployId);
    if (!request) throw new Error('the server made no request');
    const key = `${statePrefix()}approvals/signed/deploy-${deployId}.json`;
    const statement = {
      v: 1,
      stack: STACK,
      action: 'deploy',
      deployId,
      nonce: request.nonce,
      expiresAt: request.expiresAt,
      approver: 'Ada',
      publicKey: keys().ada.publicKey,
      signedAt: new Date().toISOString(),
    };
    const attempts: Array<[string, unknown, RegExp]> = [
      ['no signature', { statement, signature: '' }, /its signature does not verify/],
      [
        "Mallory's key under Ada's name",
        {
          statement: { ...statement, publicKey: keys().mallory.publicKey },
          signature: signStatement(await loadApproverKey(keys().mallory.path, undefined), {
            ...statement,
            publicKey: keys().mallory.publicKey,
          }),
        },
        /signed by "Ada" with the key ed25519:[A-Za-z0-9_-]{43}, which frontendops\.config\.json does not list as an approver/,
      ],
      [
        "Ada's real signature over another request, nonce swapped in",
        {
          statement,
          signature: signStatement(await loadApproverKey(keys().ada.path, undefined), {
            ...statement,
            nonce: 'A'.repeat(22),
          }),
        },
        /its signature does not verify/,
      ],
    ];
    for (const [what, forged, reason] of attempts) {
      await f().t.s3.store(ARTIFACTS).put(key, JSON.stringify(forged));
      const sync = await c.call('run_sync', {
        handle: (await c.call('get_deploy_target', { commit: COMMITS[1] })).structured.handle,
      });
      expect(sync.text, what).toMatch(/APPROVAL_REQUIRED/);
      expect(sync.text, what).toMatch(reason);
    }
    expect((await live())?.commit).toBe(COMMITS[0]);
    expect((await auditOf('approval')).filter((e) => e.data.decision === 'rejected')).toHaveLength(3);
  });
});

describe('a person approves with a signed answer (`frontendops approve`)', () => {
  it('approves only requests the server made, shows the plan, and the change then lands once', async () => {
    // C0 went live on a client's answer, the stack trusting its clients then: audit verify, below,
    // says that approval is not taken at its word under this configuration.
    await c0OnClientsWord.restore();
    const c = await protectedClient();
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const deployId = target.structured.deployId as string;

    // No request for this id yet (none was made for COMMITS[2]'s plan): nothing to approve.
    const unknown = await approve('2222222-0000000000', keys().ada.path);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No approval was requested for a change 2222222-0000000000/);

    const refused = await c.call('run_sync', { handle: target.structured.handle });
    expect(refused.text).toMatch(/APPROVAL_REQUIRED/);
    // Another action named than the one waiting: what waits is said, with how to approve it.
    const otherAction = await approve(deployId, keys().ada.path, ['--action', 'rollback']);
    expect(otherAction.code).toBe(2);
    expect(otherAction.stderr).toMatch(
      new RegExp(
        `No approval was requested for rollback ${deployId} .*What waits for ${deployId} is: deploy \\(--action deploy\\)`,
      ),
    );

    const byMallory = await approve(deployId, keys().mallory.path);
    expect(byMallory.code).toBe(2);
    expect(byMallory.stderr).toMatch(/is not an approver of dashboard-hosting-prod, so nothing was approved/);

    const approved = await approve(deployId, keys().ada.path);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stderr).toContain(`  ${target.structured.description}`);
    expect(approved.stderr).toMatch(/asked at .* to:/);
    // What the release carries, as the dry run and the console show it: files by kind, the CDN refresh.
    expect(approved.stderr).toMatch(/^ {2}Files: HTML: /m);
    expect(approved.stderr).toMatch(/^ {2}The CDN refreshes /m);
    expect(approved.stdout).toMatch(
      `Approved by Ada: ${target.structured.description} (deploy id ${deployId}), once`,
    );
    // Approved again (Ada, or another approver): refused, so the chain records it given once (a
    // second record of it read as tampered for good, and every change refused to start).
    const twice = await approve(deployId, keys().ada.path);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/is already approved, by Ada .*Nothing more to approve/);
    expect((await verifyAudit(f().t.site.state, statePrefix())).problems).toEqual([]);

    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({
      deployId,
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Ada \(approver key ed25519:[0-9a-f]{16}\) \(signed\)$/),
    });
    await c.call('invalidate_cdn', { deployId });
    expect((await live())?.commit).toBe(COMMITS[1]);

    // The deployment names the approval it used, in its record and its entry (audit verify holds it
    // to that use), though run_sync used it and invalidate_cdn wrote the record from its pending one.
    const [request] = await findApprovalRequests(f().t.site, deployId);
    const named = {
      nonce: request?.nonce,
      by: sync.structured.approvedBy?.toString().replace(/ \(signed\)$/, ''),
      via: 'signed',
    };
    expect((await f().t.site.records.readRecord(deployId))?.approval).toEqual(named);
    expect((await auditOf('deploy')).at(-1)?.data).toMatchObject({ deployId, approval: named });
    // History says who approved it: to a client, at the terminal.
    const history = await c.call('get_history', {});
    expect(history.structured.deployments).toContainEqual(
      expect.objectContaining({ deployId, approvedBy: named.by }),
    );
    const printed = await cli(['history', '--stack', await f().t.writeOutputs()], {
      env: f().t.cliEnv(),
      cwd: f().t.tmp,
    });
    expect(printed.stdout).toMatch(/ APPROVED BY /);
    expect(printed.stdout.split('\n').find((line) => line.includes(deployId))).toContain(String(named.by));

    // Used once: the marker is there, a second use is refused, and approving again is refused.
    expect(
      await consumeApproval(f().t.site, request?.nonce ?? '', {
        action: 'deploy',
        deployId,
        approval: { by: 'x', via: 'signed' },
        now: Date.now(),
        judged: await approvalInForce(f().t.site),
      }),
    ).toBe(false);
    expect((await approve(deployId, keys().ada.path)).stderr).toMatch(/already approved and used/);
    const audit = await verifyAudit(f().t.site.state, statePrefix(), {
      approvers: { Ada: keys().ada.publicKey },
    });
    expect(audit).toMatchObject({ ok: true });
    // Both records of Ada's approval (given, used) carry her signed statement, and check out.
    expect(audit.approvals.checked).toBeGreaterThanOrEqual(2);
    expect((await auditOf('approval-used')).at(-1)?.data.signed).toMatchObject({
      statement: { approver: 'Ada', deployId, publicKey: keys().ada.publicKey },
    });
    const verified = await auditVerifyWithCli();
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(
      /\d+ audit record\(s\) of signed approvals check out \(an approval given and its use are a record each\)/,
    );
    // The client's answer C0 went live on (the stack trusted clients then) is said, not taken at its
    // word: this configuration does not accept one.
    expect(verified.stdout).toMatch(
      /note: .*on an MCP client's answer, which the stack's configuration does not accept now \(trustElicitation is off\)/,
    );
    expect((await auditOf('approval')).at(-1)?.data).toMatchObject({
      decision: 'approved',
      by: 'Ada',
      via: 'signed',
    });
  });

  it('an approval of a deploy never authorises a rollback, and `approve` refuses a plan the live release overtook', async () => {
    await c1ApprovedByAda.restore();
    const c = await protectedClient();
    const { deployId } = await planAndSync(c, COMMITS[2]);
    expect((await approve(deployId, keys().ada.path)).code).toBe(0);

    const back = await c.call('rollback');
    expect(back.isError).toBe(true);
    expect(back.text).toMatch(/APPROVAL_REQUIRED: .*"roll back dashboard-hosting-prod/);
    const rollbackId = /frontendops approve (\S+) --stack/.exec(back.text)?.[1] ?? '';
    // Even Ada's real approval of the deploy, put where the rollback's would be, does not count.
    const store = f().t.s3.store(ARTIFACTS);
    const signed = await store.get(`${statePrefix()}approvals/signed/deploy-${deployId}.json`);
    await store.put(`${statePrefix()}approvals/signed/rollback-${rollbackId}.json`, signed?.body ?? '');
    const again = await c.call('rollback');
    expect(again.text).toMatch(/APPROVAL_REQUIRED.*it answers another request/);
    expect((await live())?.commit).toBe(COMMITS[1]);

    // The deploy was approved, but another change went live first (a rollback Ada approves now):
    expect((await approve(rollbackId, keys().ada.path)).code).toBe(0);
    expect((await c.call('rollback')).structured).toMatchObject({ outcome: 'succeeded', commit: COMMITS[0] });
    // A rollback pins the stack: unpinned by a person at a terminal (the server refuses it on a
    // protected stack; it needs no approval there), a deploy plans from what is live.
    expect((await c.call('unpin_release')).isError).toBe(true);
    expect((await cliOnProtected(f(), policy(), ['unpin'])).code).toBe(0);
    const stale = await approve(deployId, keys().ada.path);
    expect(stale.stderr).toMatch(/already approved|changed since deploy/);
    const overtaken = await c.call('run_sync', {
      handle: (await c.call('get_deploy_target', { commit: COMMITS[2] })).structured.handle,
    });
    // A new plan (from what is live now) is a new deploy id: the old approval does not carry over.
    expect(overtaken.text).toMatch(/APPROVAL_REQUIRED/);
  });

  it('a promote of the live release, which only lifts the pin: Ada is shown the pin goes, and only her approval of it lifts it', async () => {
    await c1ApprovedByAda.restore();
    const c = await protectedClient();
    expect((await c.call('pin_release', { reason: 'release freeze' })).isError).toBe(false);
    const pinned = { commit: COMMITS[1], cause: 'pin' };
    const asked = await c.call('promote_release', { to: COMMITS[1], reason: 'lift the freeze' });
    expect(asked.text).toMatch(/^APPROVAL_REQUIRED: /);
    const promoteId = /frontendops approve (\S+) --stack/.exec(asked.text)?.[1] ?? '';
    expect(promoteId).toMatch(/^[0-9a-f]{7}-[0-9a-f]{10}$/);

    // Ada's real approval of another change (the deploy of C1), put where this one's would be: not spent.
    const store = f().t.s3.store(ARTIFACTS);
    const signedDir = `${statePrefix()}approvals/signed/`;
    const [other] = (await store.list()).filter((o) => o.key.startsWith(`${signedDir}deploy-`));
    const otherBody = other ? await store.get(other.key) : null;
    expect(otherBody).toBeTruthy();
    await store.put(`${signedDir}promote-${promoteId}.json`, otherBody?.body ?? '');
    const planted = await c.call('promote_release', { to: COMMITS[1], reason: 'lift the freeze' });
    expect(planted.text).toMatch(/^APPROVAL_REQUIRED:.*it answers another request/s);
    expect((await c.call('get_status')).structured).toMatchObject({ pin: pinned });
    await store.delete([`${signedDir}promote-${promoteId}.json`]);

    // Asked through her CLI, Ada is shown what she approves: the promote, and that the pin is cleared.
    const approved = await approve(promoteId, keys().ada.path, ['--action', 'promote']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stderr).toMatch(
      /promote: sophia-dashboard@2222222 is already live on dashboard-hosting-prod: no file changes; the pin \(2222222, by .*\) is cleared\n/,
    );
    expect(approved.stderr).not.toMatch(/nothing to do/);
    const lifted = await c.call('promote_release', { to: COMMITS[1], reason: 'lift the freeze' });
    expect(lifted.structured, lifted.text).toMatchObject({
      commit: COMMITS[1],
      unpinned: pinned,
      approvedBy: expect.stringMatching(/^Ada \(approver key ed25519:[0-9a-f]{16}\) \(signed\)$/),
    });
    expect(lifted.text).toMatch(
      /already live on dashboard-hosting-prod: no file changes\. The pin is cleared\./,
    );
    expect((await c.call('get_status')).structured).toMatchObject({
      pin: null,
      live: { commit: COMMITS[1] },
    });
    // Its use is recorded (signed, for this promote), the chain checks out, and it is not spent twice.
    expect((await auditOf('approval-used')).at(-1)?.data).toMatchObject({
      action: 'promote',
      deployId: promoteId,
      signed: { statement: { approver: 'Ada', deployId: promoteId } },
    });
    const verified = await auditVerifyWithCli();
    expect(verified.code, verified.stdout).toBe(0);
    expect((await c.call('pin_release', { reason: 'freeze again' })).isError).toBe(false);
    const again = await c.call('promote_release', { to: COMMITS[1], reason: 'lift the freeze' });
    expect(again.text).toMatch(/^APPROVAL_REQUIRED: /);
    expect((await c.call('get_status')).structured).toMatchObject({ pin: { commit: COMMITS[1] } });
  });

  it("attack: Ada's unused approval to lift one pin does not lift another pin set after it went", async () => {
    await c1ApprovedByAda.restore();
    const c = await protectedClient();
    expect((await c.call('pin_release', { reason: 'release freeze' })).isError).toBe(false);
    const asked = await c.call('promote_release', { to: COMMITS[1], reason: 'lift the freeze' });
    const promoteId = /frontendops approve (\S+) --stack/.exec(asked.text)?.[1] ?? '';
    expect(promoteId).toMatch(/^[0-9a-f]{7}-[0-9a-f]{10}$/);
    const approved = await approve(promoteId, keys().ada.path, ['--action', 'promote']);
    expect(approved.code, approved.stderr).toBe(0);
    const [request] = await findApprovalRequests(f().t.site, promoteId);
    // Her approval is not used: the pin goes at a terminal, and Bob pins the same release again.
    await unpinRelease(f().t.site, { request: asActor('dave') });
    const { pin: second } = await pinRelease(f().t.site, { request: asActor('bob') });
    const lifted = await c.call('promote_release', { to: COMMITS[1], reason: 'lift the freeze' });
    expect(lifted.isError, lifted.text).toBe(true);
    expect(lifted.text).toMatch(/^APPROVAL_REQUIRED: /);
    expect(lifted.text).toContain('(2222222, by bob)');
    expect(lifted.text).toMatch(/approval .*was for lifting another pin/);
    expect((await c.call('get_status')).structured).toMatchObject({ pin: { by: 'bob', at: second.at } });
    expect(await isUsed(f().t.site, request?.nonce ?? '')).toBe(false);
    expect((await auditOf('approval-used')).map((e) => e.data.deployId)).not.toContain(promoteId);
    const verified = await auditVerifyWithCli();
    expect(verified.code, verified.stdout).toBe(0);
  });

  it('attack: `frontendops approve` of a promote asked while one pin held, another pin there now, approves nothing', async () => {
    await c1ApprovedByAda.restore();
    const c = await protectedClient();
    expect((await c.call('pin_release', { reason: 'release freeze' })).isError).toBe(false);
    const asked = await c.call('promote_release', { to: COMMITS[1], reason: 'lift the freeze' });
    const promoteId = /frontendops approve (\S+) --stack/.exec(asked.text)?.[1] ?? '';
    await unpinRelease(f().t.site, { request: asActor('dave') });
    await pinRelease(f().t.site, { request: asActor('bob') });
    const approved = await approve(promoteId, keys().ada.path, ['--action', 'promote']);
    expect(approved.code, approved.stderr).toBe(2);
    expect(approved.stderr).toMatch(
      /^error: .*requested to lift another pin .*Nothing was approved\. Ask the agent again/m,
    );
    expect(await store().list()).not.toContainEqual(
      expect.objectContaining({ key: `${statePrefix()}approvals/signed/promote-${promoteId}.json` }),
    );
    expect((await c.call('get_status')).structured).toMatchObject({ pin: { by: 'bob' } });
  });

  it('an expired request is not approvable, and an approval of it does not count', async () => {
    await c0OnClientsWord.restore();
    const later = () => Date.now() + 2 * 60 * 60_000;
    const c = await protectedClient();
    const { deployId } = await planAndSync(c, COMMITS[2]);
    expect((await approve(deployId, keys().ada.path)).code).toBe(0);
    const future = await protectedClient({}, policy(), { now: later });
    const target = await future.call('get_deploy_target', { commit: COMMITS[2] });
    const sync = await future.call('run_sync', { handle: target.structured.handle });
    expect(sync.text).toMatch(/APPROVAL_REQUIRED.*it answers another request/);
    expect((await live())?.commit).toBe(COMMITS[0]);
  });
});

describe('a GitHub deployment environment approves (OIDC)', () => {
  const github = () => ({
    repository: 'sophia/dashboard',
    environment: 'production',
    actions: ['deploy' as const],
    issuer: oidc().issuer,
    audience: 'frontendops',
  });

  it("a job in the environment deploys, once per run; a rollback it was not given, another environment or a forged token don't", async () => {
    await c0OnClientsWord.restore();
    const job = oidc().job({ repository: 'sophia/dashboard', environment: 'production', run_id: '77' });
    // The stack's earlier approvals recorded another policy: the deployer adopts this one.
    await adoptedPolicy(f(), { approvers: {}, github: github() });
    const c = await protectedClient({}, { approvers: {}, github: github() }, { env: job });
    const { sync, deployId } = await planAndSync(c, COMMITS[2]);
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(
        /^GitHub environment "production" of sophia\/dashboard \(run 77 attempt 1, started by octocat\)/,
      ),
    });
    await c.call('invalidate_cdn', { deployId });

    const twice = await planAndSync(c, COMMITS[1]);
    expect(twice.sync.text).toMatch(/DENIED: The approval of this deploy .* was already used/);
    const back = await c.call('rollback');
    expect(back.text).toMatch(/APPROVAL_REQUIRED.*covers deploy, not rollback/);

    const staging = await protectedClient(
      {},
      { approvers: {}, github: github() },
      { env: oidc().job({ repository: 'sophia/dashboard', environment: 'staging', run_id: '78' }) },
    );
    expect((await planAndSync(staging, COMMITS[1])).sync.text).toMatch(
      /runs in environment "staging", not "production"/,
    );
    const otherRepo = await protectedClient(
      {},
      { approvers: {}, github: github() },
      { env: oidc().job({ repository: 'mallory/dashboard', environment: 'production', run_id: '79' }) },
    );
    expect((await planAndSync(otherRepo, COMMITS[1])).sync.text).toMatch(
      /token is for repository mallory\/dashboard/,
    );
    oidc().forgeWithOtherKey();
    const forged = await protectedClient(
      {},
      { approvers: {}, github: github() },
      { env: oidc().job({ repository: 'sophia/dashboard', environment: 'production', run_id: '80' }) },
    );
    expect((await planAndSync(forged, COMMITS[1])).sync.text).toMatch(/OIDC token could not be verified/);
    oidc().forgeWithOtherKey(false);
    expect((await live())?.commit).toBe(COMMITS[2]);
  });

  it('a job of a repository created again under the name is refused, told the job must be of the configured ids', async () => {
    await c0OnClientsWord.restore();
    const byIds = { approvers: {}, github: { ...github(), repositoryId: '700100200', ownerId: '600100200' } };
    await adoptedPolicy(f(), byIds);
    const recreated = await protectedClient({}, byIds, {
      env: oidc().job({
        repository: 'sophia/dashboard',
        repository_id: '700100999',
        environment: 'production',
        run_id: '81',
      }),
    });
    const refused = (await planAndSync(recreated, COMMITS[1])).sync.text;
    expect(refused).toMatch(/APPROVAL_REQUIRED.*with repository id 700100999, not 700100200/);
    expect(refused).toContain(
      'A GitHub Actions job of sophia/dashboard (repository id 700100200, owner id 600100200; not another repository of that name) running in the "production" environment is approved by that environment\'s reviewers.',
    );
    expect((await live())?.commit).toBe(COMMITS[0]);
  });
});

describe('the Approver given to the server (the console)', () => {
  it('is asked only where the stack trusts it, and is bound to the deploy id it was shown', async () => {
    await c0OnClientsWord.restore();
    const asked: unknown[] = [];
    const approver = {
      async approve(request: unknown) {
        asked.push(request);
        return { approved: true, by: 'console user', via: 'console' };
      },
    };
    const untrusted = await protectedClient({}, policy(), { approver });
    expect((await planAndSync(untrusted, COMMITS[1])).sync.text).toMatch(/APPROVAL_REQUIRED/);
    expect(asked).toEqual([]);

    await adoptedPolicy(f(), policy({ trustElicitation: true }));
    const trusted = await protectedClient({}, policy({ trustElicitation: true }), { approver });
    const { target, sync, deployId } = await planAndSync(trusted, COMMITS[1]);
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: 'console user (via console) (approver)',
    });
    expect(asked).toEqual([
      { action: 'deploy', stack: STACK, summary: target.structured.description, deployId },
    ]);
    await trusted.call('invalidate_cdn', { deployId });
  });

  it('an unprotected stack needs no approval: the client is never asked', async () => {
    // The stack before any case protected it: no approval recorded, its configuration protecting none.
    await nothingDeployed.restore();
    let asked = 0;
    const c = await connectInfra(f().server(), {
      elicit: () => {
        asked++;
        return { action: 'decline' };
      },
    });
    clients.push(c);
    const target = await c.call('get_deploy_target', { commit: COMMITS[2] });
    expect(target.structured.approvalRequired).toBe(false);
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({ outcome: 'synced', approvedBy: null });
    expect(asked).toBe(0);
    expect(APP).toBe('sophia-dashboard');
  });
});
