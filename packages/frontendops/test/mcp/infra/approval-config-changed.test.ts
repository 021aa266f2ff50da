/**
 * Who approves a protected stack's changes is read from frontendops.config.json each time a server
 * opens the stack. The attacker: whoever can change that file (a contributor whose pull request is
 * merged without care, a branch a workflow runs with its own checkout). Ada approved the stack's
 * last change, and the audit log recorded the approval policy it was judged under; the configuration
 * is then changed so that its author approves the next one alone:
 * - their own key added under `approval.approvers`;
 * - `approval.github` pointed at an environment without required reviewers, or at their fork;
 * - the ids of `approval.github`'s repository dropped, so a repository re-created under its name
 *   (or its owner's name taken) approves;
 * - `trustElicitation` turned on, so an MCP client's own yes counts.
 * None counts: an approval counts only under what both the configuration and the policy the audit log
 * recorded accept. An approval by an approver the log records adopts the configuration's policy, and
 * what it adds counts from then on.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadApproverKey, signStatement } from '../../../src/approval/keys.ts';
import type { ApprovalPolicy } from '../../../src/config.ts';
import { readAudit } from '../../../src/state/audit.ts';
import {
  adoptedPolicy,
  approverKeysFor,
  approveWithCli,
  cliOnProtected,
  findApprovalRequests,
  infraWithOidcFor,
} from '../../support/approver.ts';
import type { BucketSnapshot } from '../../support/bucket-snapshot.ts';
import { STACK } from '../../support/deploy-env.ts';
import { OWNER_ID, REPOSITORY_ID } from '../../support/github-oidc-double.ts';
import { COMMITS, type ConnectOptions, connectInfra, type InfraClient } from '../../support/mcp-infra.ts';
import { cli } from '../../support/run-cli.ts';

const { f, oidc, clients } = infraWithOidcFor();
const keys = approverKeysFor(['ada', 'mallory']);

/** The stack as the fixture starts it, put back before each case: each starts there, whichever ran before. */
let start: BucketSnapshot;
beforeAll(async () => {
  start = await f().snapshot();
});
beforeEach(() => start.restore());

/** The stack's policy as its owners wrote it: Ada approves. */
const owners = (): Partial<ApprovalPolicy> => ({ approvers: { Ada: keys().ada.publicKey } });

async function server(
  approval: Partial<ApprovalPolicy>,
  options: ConnectOptions = {},
  env?: Record<string, string>,
) {
  const c = await connectInfra(
    f().server({ config: f().config([STACK], approval), ...(env ? { env } : {}) }),
    options,
  );
  clients.push(c);
  return c;
}

const live = async () => (await f().t.site.records.readPointer())?.value ?? null;

async function planAndSync(c: InfraClient, commit: string) {
  const target = await c.call('get_deploy_target', { commit });
  expect(target.structured.approvalRequired).toBe(true);
  const sync = await c.call('run_sync', { handle: target.structured.handle });
  return { target, sync, deployId: target.structured.deployId as string };
}

/** A change Ada approves under the owners' policy, made live. */
async function approvedByAda(commit: string) {
  const c = await server(owners());
  const { target, deployId } = await planAndSync(c, commit);
  expect((await approveWithCli(f(), deployId, keys().ada.path, owners())).code).toBe(0);
  const sync = await c.call('run_sync', { handle: target.structured.handle });
  expect(sync.structured.outcome, sync.text).toBe('synced');
  await c.call('invalidate_cdn', { deployId });
}

/** `frontendops audit verify` under the owners' configuration (Ada the one approver). */
async function verifyWithOwnersConfig() {
  const outputs = await f().t.writeOutputs();
  const config = join(f().t.tmp, `owners-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(config, JSON.stringify({ protected: [STACK], approval: owners() }));
  return cli(['audit', 'verify', '--stack', outputs], {
    env: { FRONTENDOPS_CONFIG: config, ...f().t.cliEnv() },
    cwd: f().t.tmp,
  });
}

/** A change the stack's server refuses: APPROVAL_REQUIRED, what is live unchanged. */
async function refusedUnder(c: InfraClient, commit: string) {
  const before = await live();
  const { sync } = await planAndSync(c, commit);
  expect(sync.text).toMatch(/APPROVAL_REQUIRED/);
  expect(await live()).toEqual(before);
  return sync.text;
}

describe('whoever changes the configuration does not choose who approves a protected change', () => {
  it('their own key added under approval.approvers does not count until an approver the audit log records adopts it', async () => {
    await approvedByAda(COMMITS[0]);
    const changed = { approvers: { Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey } };
    const c = await server(changed);
    const { target, deployId } = await planAndSync(c, COMMITS[1]);
    const mallory = await approveWithCli(f(), deployId, keys().mallory.path, changed);
    expect(mallory.code, mallory.stderr).not.toBe(0);
    expect(mallory.stderr).toMatch(
      /the audit log does not record "Mallory" \(ed25519:[A-Za-z0-9_-]{43}\) as an approver of dashboard-hosting-prod/,
    );
    expect(mallory.stderr).toMatch(/frontendops approvers adopt --stack dashboard-hosting-prod/);
    expect(mallory.stderr).toMatch(/Nothing was approved/);
    const refused = await c.call('run_sync', { handle: target.structured.handle });
    expect(refused.text).toMatch(/APPROVAL_REQUIRED/);
    expect((await live())?.commit).toBe(COMMITS[0]);

    // Ada approves under the changed configuration: shown what it adopts, her approval adopts it.
    const ada = await approveWithCli(f(), deployId, keys().ada.path, changed);
    expect(ada.code, ada.stderr).toBe(0);
    expect(`${ada.stdout}${ada.stderr}`).toMatch(
      /This approval also adopts the approval policy in frontendops.config.json: adds approver Mallory \(ed25519:/,
    );
    const synced = await c.call('run_sync', { handle: target.structured.handle });
    expect(synced.structured, synced.text).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Ada/),
    });
    await c.call('invalidate_cdn', { deployId });

    // From then on, Mallory's approval counts.
    const next = await planAndSync(c, COMMITS[2]);
    expect((await approveWithCli(f(), next.deployId, keys().mallory.path, changed)).code).toBe(0);
    const hers = await c.call('run_sync', { handle: next.target.structured.handle });
    expect(hers.structured, hers.text).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Mallory/),
    });
    await c.call('invalidate_cdn', { deployId: next.deployId });

    // audit verify, under the owners' configuration (without Mallory), judges each approval under
    // the policy the log recorded then: it names the adoption and Mallory's approval through it.
    const verified = await verifyWithOwnersConfig();
    expect(verified.code, verified.stderr).toBe(0);
    const said = `${verified.stdout}${verified.stderr}`;
    expect(said).not.toMatch(/does not list/);
    expect(said).toMatch(
      /note: entry \d+: the approval it records used also adopted the approval policy of the configuration: it adds approver Mallory \(ed25519:/,
    );
    expect(said).toMatch(
      /note: entry \d+: it records a use of an approval signed by Mallory .*, an approver the policy entry \d+ adopted added/,
    );
  });

  it('an approval adopts only what its approver was shown: a key added to the configuration after they signed is not adopted', async () => {
    await approvedByAda(COMMITS[0]);
    const c = await server(owners());
    const { deployId } = await planAndSync(c, COMMITS[1]);
    // Ada approves under the owners' configuration: her approval adopts nothing, and she is told none.
    const ada = await approveWithCli(f(), deployId, keys().ada.path, owners());
    expect(ada.code, ada.stderr).toBe(0);
    expect(`${ada.stdout}${ada.stderr}`).not.toMatch(/also adopts/);
    // Then Mallory's key is merged into the configuration, and the change runs under it.
    const changed = { approvers: { Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey } };
    const later = await server(changed);
    const { sync } = await planAndSync(later, COMMITS[1]);
    expect(sync.structured, sync.text).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Ada/),
    });
    await later.call('invalidate_cdn', { deployId });
    // Ada's approval recorded no policy with Mallory in it: her approval alone still does not count.
    const next = await planAndSync(later, COMMITS[2]);
    const mallory = await approveWithCli(f(), next.deployId, keys().mallory.path, changed);
    expect(mallory.code, mallory.stdout).not.toBe(0);
    expect(mallory.stderr).toMatch(/the audit log does not record "Mallory"/);
    const refused = await later.call('run_sync', { handle: next.target.structured.handle });
    expect(refused.text).toMatch(/APPROVAL_REQUIRED/);
    expect((await live())?.commit).toBe(COMMITS[1]);
    // audit verify finds the use as it was: nothing adopted, nothing wrong.
    const verified = await verifyWithOwnersConfig();
    expect(verified.code, verified.stderr).toBe(0);
    expect(`${verified.stdout}${verified.stderr}`).not.toMatch(/adopted/);
  });

  it("an approver whose checkout's configuration is not the server's is told her approval adopts nothing, and the change's result says so", async () => {
    await approvedByAda(COMMITS[0]);
    // The server runs with Mallory's key merged; Ada's checkout still has the owners' configuration.
    const changed = { approvers: { Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey } };
    const c = await server(changed);
    const { target, deployId } = await planAndSync(c, COMMITS[1]);
    const ada = await approveWithCli(f(), deployId, keys().ada.path, owners());
    expect(ada.code, ada.stderr).toBe(0);
    expect(ada.stderr).toMatch(
      /The server asked for this approval under another approval policy than the one in your frontendops\.config\.json .*: this approval counts for this change but adopts no approval policy\./,
    );
    const synced = await c.call('run_sync', { handle: target.structured.handle });
    expect(synced.structured, synced.text).toMatchObject({ outcome: 'synced' });
    expect(synced.structured.approvedBy).toMatch(
      /^Ada .*\(signed; it adopted nothing of the approval policy in frontendops\.config\.json \(it adds approver Mallory \(ed25519:[A-Za-z0-9_-]{43}\)\): its approver was not shown it\)$/,
    );
    await c.call('invalidate_cdn', { deployId });

    // The other way round: the server runs with the owners' configuration, Ada's checkout has Mallory.
    // She is not told her approval adopts Mallory: it does not.
    const next = await planAndSync(await server(owners()), COMMITS[2]);
    const again = await approveWithCli(f(), next.deployId, keys().ada.path, changed);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/also adopts/);
    expect(again.stderr).toMatch(/adopts no approval policy/);
  });

  it('approval.github pointed at an environment without reviewers, or at their fork: the job’s approval does not count', async () => {
    await approvedByAda(COMMITS[0]);
    const github = (repository: string, environment: string) => ({
      ...owners(),
      github: {
        repository,
        environment,
        actions: ['deploy' as const],
        issuer: oidc().issuer,
        audience: 'frontendops',
      },
    });
    for (const [repository, environment, run] of [
      ['sophia/dashboard', 'preview', '301'],
      ['mallory/dashboard', 'production', '302'],
    ] as const) {
      const c = await server(
        github(repository, environment),
        {},
        {
          ...oidc().job({ repository, environment, run_id: run }),
        },
      );
      const text = await refusedUnder(c, COMMITS[2]);
      expect(text).toMatch(
        new RegExp(`the audit log does not record the GitHub environment "${environment}" of ${repository}`),
      );
    }
  });

  it('a repository re-created under the configured name: its job does not approve, nor once the configuration drops the ids', async () => {
    const github = (ids: { repositoryId?: string; ownerId?: string }): Partial<ApprovalPolicy> => ({
      ...owners(),
      github: {
        repository: 'sophia/dashboard',
        ...ids,
        environment: 'production',
        actions: ['deploy'],
        issuer: oidc().issuer,
        audience: 'frontendops',
      },
    });
    const bound = github({ repositoryId: REPOSITORY_ID, ownerId: OWNER_ID });
    const job = (approval: Partial<ApprovalPolicy>, run: string, repositoryId = REPOSITORY_ID) =>
      server(
        approval,
        {},
        oidc().job({
          repository: 'sophia/dashboard',
          environment: 'production',
          run_id: run,
          repository_id: repositoryId,
        }),
      );
    // The configured repository's job approves, and its entry records the ids with the policy.
    const first = await job(bound, '701');
    const { sync, deployId } = await planAndSync(first, COMMITS[0]);
    expect(sync.structured, sync.text).toMatchObject({ outcome: 'synced' });
    await first.call('invalidate_cdn', { deployId });
    const used = (await readAudit(f().t.site.state, f().t.site.target.statePrefix))
      .filter((e) => e.type === 'approval-used')
      .at(-1);
    expect(used?.data.policy).toMatchObject({
      github: { repositoryId: REPOSITORY_ID, ownerId: OWNER_ID },
    });
    // The same name, created again (another id): refused, and so once the ids are dropped from the
    // configuration, since the audit log records them.
    for (const approval of [bound, github({})]) {
      const text = await refusedUnder(await job(approval, '702', '999000111'), COMMITS[1]);
      expect(text).toMatch(/repository id 999000111, not 700100200/);
    }
  });

  it('a GitHub job’s approval, whose reviewers are not shown what it adopts, adopts no approver the log does not record', async () => {
    const policy = (approvers: Record<string, string>): Partial<ApprovalPolicy> => ({
      approvers,
      github: {
        repository: 'sophia/dashboard',
        environment: 'production',
        actions: ['deploy'],
        issuer: oidc().issuer,
        audience: 'frontendops',
      },
    });
    const job = (approval: Partial<ApprovalPolicy>, run: string) =>
      server(
        approval,
        {},
        oidc().job({ repository: 'sophia/dashboard', environment: 'production', run_id: run }),
      );
    const changed = policy({ Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey });
    for (const [approval, commit, run] of [
      [policy({ Ada: keys().ada.publicKey }), COMMITS[0], '401'],
      [changed, COMMITS[1], '402'],
    ] as const) {
      const c = await job(approval, run);
      const { sync, deployId } = await planAndSync(c, commit);
      expect(sync.structured, sync.text).toMatchObject({ outcome: 'synced' });
      await c.call('invalidate_cdn', { deployId });
    }
    // The job's change went through; Mallory, whom no one who approved was shown, still counts for nothing.
    const { deployId } = await planAndSync(await server(changed), COMMITS[2]);
    const mallory = await approveWithCli(f(), deployId, keys().mallory.path, changed);
    expect(mallory.code, mallory.stderr).not.toBe(0);
    expect(mallory.stderr).toMatch(/the audit log does not record "Mallory" \(ed25519:/);
  });

  it('trustElicitation turned on does not make an MCP client’s own yes the approval', async () => {
    await approvedByAda(COMMITS[0]);
    let asked = 0;
    const c = await server(
      { ...owners(), trustElicitation: true },
      {
        elicit: () => {
          asked += 1;
          return { action: 'accept', content: { confirm: true, approver: 'Ada' } };
        },
      },
    );
    const text = await refusedUnder(c, COMMITS[1]);
    expect(asked).toBe(0);
    expect(text).toMatch(/the audit log does not record trustElicitation/);
    const used = (await readAudit(f().t.site.state, f().t.site.target.statePrefix)).filter(
      (e) => e.type === 'approval-used',
    );
    expect(used).toHaveLength(1);
  });

  it('a trusted client is asked with what its yes also adopts: an approver the log does not record yet', async () => {
    const trusting = { approvers: {}, trustElicitation: true };
    await adoptedPolicy(f(), trusting);
    const messages: string[] = [];
    const c = await server(
      { approvers: { Mallory: keys().mallory.publicKey }, trustElicitation: true },
      {
        elicit: (request) => {
          messages.push(String(request.params.message));
          return { action: 'decline' };
        },
      },
    );
    const { sync } = await planAndSync(c, COMMITS[1]);
    expect(sync.text).toMatch(/declined/);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(
      /This approval also adopts the approval policy in frontendops.config.json: adds approver Mallory \(ed25519:[A-Za-z0-9_-]{43}\)\./,
    );
  });

  it('an approval given before the policy changed is not replayed by the one it no longer lists', async () => {
    // Mallory was an approver; the owners removed her, and an approval by Ada adopted that.
    const both = { approvers: { Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey } };
    const c = await server(both);
    const first = await planAndSync(c, COMMITS[0]);
    expect((await approveWithCli(f(), first.deployId, keys().ada.path, both)).code).toBe(0);
    expect((await c.call('run_sync', { handle: first.target.structured.handle })).structured).toMatchObject({
      outcome: 'synced',
    });
    await c.call('invalidate_cdn', { deployId: first.deployId });
    await approvedByAda(COMMITS[1]);
    // Mallory signed a request before; a configuration listing her again does not bring her back.
    const again = await server(both);
    const { target, deployId } = await planAndSync(again, COMMITS[2]);
    const hers = await approveWithCli(f(), deployId, keys().mallory.path, both);
    expect(hers.code).not.toBe(0);
    const sync = await again.call('run_sync', { handle: target.structured.handle });
    expect(sync.text).toMatch(/APPROVAL_REQUIRED/);
    expect((await live())?.commit).toBe(COMMITS[1]);
  });

  it("an approval whose approver's key was removed since: `approve` says it is there but not accepted, and why; asked again, a new request", async () => {
    // Mallory approves a deploy while the configuration lists her; before it runs, the owners remove her.
    const both = { approvers: { Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey } };
    const { deployId } = await planAndSync(await server(both), COMMITS[0]);
    expect((await approveWithCli(f(), deployId, keys().mallory.path, both)).code).toBe(0);
    const [first] = await findApprovalRequests(f().t.site, deployId);
    const c = await server(owners());

    // Ada is told the request's statement is there but does not count now, whose it is, and what to do.
    const ada = await approveWithCli(f(), deployId, keys().ada.path, owners());
    expect(ada.code).not.toBe(0);
    expect(ada.stderr).not.toMatch(/missing from the state bucket|tampering/);
    expect(ada.stderr).toMatch(
      /was already approved by Mallory .*\(audit entry \d+\); its signed statement is in the state bucket, but it is not accepted now: it is signed by "Mallory" with the key ed25519:[A-Za-z0-9_-]{43}, which frontendops\.config\.json does not list as an approver of dashboard-hosting-prod under that name\. Nothing was approved\. Ask the agent again: it makes a new request, which an approver of dashboard-hosting-prod \(Ada\) approves\./,
    );

    // Asked again, the server makes a new request (the dead one is not reused), and says why.
    const { target, sync: refused, deployId: same } = await planAndSync(c, COMMITS[0]);
    expect(same).toBe(deployId);
    expect(refused.text).toMatch(/APPROVAL_REQUIRED/);
    expect(refused.text).toMatch(
      /Note: the approval Mallory gave the earlier request for this change \(audit entry \d+\) does not count now \(it is signed by "Mallory" with the key ed25519:[A-Za-z0-9_-]{43}, which frontendops\.config\.json does not list/,
    );
    const [second] = await findApprovalRequests(f().t.site, deployId);
    expect(second?.nonce).toBeDefined();
    expect(second?.nonce).not.toBe(first?.nonce);

    // Mallory's stale signature never counts again, also where a configuration lists her again.
    expect((await planAndSync(await server(both), COMMITS[0])).sync.text).toMatch(/APPROVAL_REQUIRED/);
    expect(await live()).toBeNull();
    const [still] = await findApprovalRequests(f().t.site, deployId);
    expect(still?.nonce).toBe(second?.nonce);

    // A current approver approves the new request: the change goes through.
    const approved = await approveWithCli(f(), deployId, keys().ada.path, owners());
    expect(approved.code, approved.stderr).toBe(0);
    const synced = await c.call('run_sync', { handle: target.structured.handle });
    expect(synced.structured, synced.text).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Ada/),
    });
    expect((await live())?.commit).toBe(COMMITS[0]);
  });

  it.each([
    ['its signature edited', 'ada'],
    ["another approver's statement planted for the same request", 'mallory'],
  ] as const)(
    'a signed statement that is not the one the audit log recorded (%s): `approve` says TAMPERED; the server does not count it and asks anew',
    async (_what, planter) => {
      const both = { approvers: { Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey } };
      const c = await server(both);
      const { target, deployId } = await planAndSync(c, COMMITS[0]);
      expect((await approveWithCli(f(), deployId, keys().ada.path, both)).code).toBe(0);
      const [first] = await findApprovalRequests(f().t.site, deployId);
      // Whoever can write the state bucket replaces Ada's statement: her signature edited, or Mallory's
      // own signature over the same request, which the audit log never recorded.
      const { state, target: t } = f().t.site;
      const key = `${t.statePrefix}approvals/signed/deploy-${deployId}.json`;
      const stored = JSON.parse((await state.get(key))?.body.toString('utf8') ?? 'null');
      const statement = { ...stored.statement, approver: 'Mallory', publicKey: keys().mallory.publicKey };
      const planted =
        planter === 'ada'
          ? { ...stored, signature: `${stored.signature.slice(0, -4)}AAAA` }
          : {
              statement,
              signature: signStatement(await loadApproverKey(keys().mallory.path, undefined), statement),
            };
      await state.put(key, Buffer.from(JSON.stringify(planted)));

      const again = await approveWithCli(f(), deployId, keys().mallory.path, both);
      expect(again.code, again.stderr).toBe(1);
      expect(again.stderr).toMatch(
        /The signed statement of the approval request for deploy \S+ of dashboard-hosting-prod in the state bucket is not the one the audit log recorded Ada giving \(audit entry \d+\): it was replaced or changed since, which points to tampering\. Nothing was approved\. Ask the agent again: it makes a new request, which an approver of dashboard-hosting-prod \(Ada, Mallory\) approves\. Run `frontendops audit verify --stack dashboard-hosting-prod`/s,
      );

      // The server does not count it: a new request, saying why; nothing goes live.
      const refused = await c.call('run_sync', { handle: target.structured.handle });
      expect(refused.text).toMatch(/APPROVAL_REQUIRED/);
      expect(refused.text).toMatch(
        /Note: the approval Ada gave the earlier request for this change \(audit entry \d+\) does not count now \(the signed statement in the state bucket is not the one the audit log recorded, which points to tampering\)/,
      );
      expect(await live()).toBeNull();
      const [second] = await findApprovalRequests(f().t.site, deployId);
      expect(second?.nonce).not.toBe(first?.nonce);
    },
  );

  it('every recorded approver gone: the deployer’s `approvers adopt` records the configured policy, shown first; then the new approver counts', async () => {
    await approvedByAda(COMMITS[0]);
    // Ada's key is lost: the owners list Mallory alone, and nobody the log records can approve.
    const only = { approvers: { Mallory: keys().mallory.publicKey } };
    const c = await server(only);
    const { target, deployId } = await planAndSync(c, COMMITS[1]);
    expect((await approveWithCli(f(), deployId, keys().mallory.path, only)).code).not.toBe(0);
    const adopted = await cliOnProtected(f(), only, ['approvers', 'adopt'], ['--yes']);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.stderr).toMatch(
      /This adopts the approval policy in frontendops.config.json for dashboard-hosting-prod without an approval: it adds approver Mallory \(ed25519:[A-Za-z0-9_-]{43}\); removes approver Ada\./,
    );
    expect(adopted.stdout).toMatch(/^Adopted by .*: entry \d+ of the audit log of dashboard-hosting-prod/);
    // Adopted already: nothing more to adopt, nothing appended.
    const again = await cliOnProtected(f(), only, ['approvers', 'adopt'], ['--yes']);
    expect(again.stdout).toMatch(
      /already records the approval policy in frontendops.config.json\. Nothing was changed\./,
    );
    expect((await approveWithCli(f(), deployId, keys().mallory.path, only)).code).toBe(0);
    const synced = await c.call('run_sync', { handle: target.structured.handle });
    expect(synced.structured, synced.text).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Mallory/),
    });
    await c.call('invalidate_cdn', { deployId });
  });

  it('an approval policy rewritten in the recorded entry: the next approval is refused (TAMPERED), and audit verify fails', async () => {
    await approvedByAda(COMMITS[0]);
    const { state, target } = f().t.site;
    const used = (await readAudit(state, target.statePrefix))
      .filter((e) => e.type === 'approval-used')
      .at(-1);
    if (!used) throw new Error('no approval was used');
    const key = `${target.statePrefix}audit/${String(used.seq).padStart(10, '0')}.json`;
    const stored = JSON.parse((await state.get(key))?.body.toString('utf8') ?? 'null');
    stored.data.policy.approvers.Mallory = keys().mallory.publicKey;
    await state.put(key, JSON.stringify(stored), { contentType: 'application/json' });

    const changed = { approvers: { Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey } };
    const c = await server(changed);
    const { target: planned, deployId } = await planAndSync(c, COMMITS[1]);
    const hers = await approveWithCli(f(), deployId, keys().mallory.path, changed);
    expect(hers.code).not.toBe(0);
    expect(hers.stderr).toMatch(new RegExp(`The audit entry ${used.seq} was changed after it was written`));
    const sync = await c.call('run_sync', { handle: planned.structured.handle });
    expect(sync.text).toMatch(/TAMPERED/);
    expect((await live())?.commit).toBe(COMMITS[0]);
    const verified = await verifyWithOwnersConfig();
    expect(verified.code).not.toBe(0);
  });
});
