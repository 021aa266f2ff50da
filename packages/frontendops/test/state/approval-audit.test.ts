/**
 * The approvals the audit chain records, tried as the deployer role would forge them. It may append
 * entries (state/audit.ts appendAudit), so it can write "approved by Ada, signed" for a change Ada
 * never saw, or record her one approval as used twice. `audit verify` must tell: every signed
 * approval the chain records carries the statement Ada signed, whose signature, key and contents it
 * checks against the entry, and each approval is used once, within its hour.
 */

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lostConditionalWrite } from '../../src/adapters/s3.ts';
import { encodePublicKey, keyFingerprint, signStatement } from '../../src/approval/keys.ts';
import type { ApprovalPolicy } from '../../src/config.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { checkApprovalEntries } from '../../src/state/approval-evidence.ts';
import { approvalInForce } from '../../src/state/approval-in-force.ts';
import {
  APPROVAL_TTL_MS,
  type ApprovalStatement,
  changeDigest,
  checkSignedApproval,
  consumeApproval,
  openApprovalRequest,
  signApproval,
} from '../../src/state/approvals.ts';
import { type AuditEntry, appendAudit, readAudit, verifyAudit } from '../../src/state/audit.ts';
import { auditEntryName } from '../../src/state/names.ts';
import { startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

let env: TestDeployEnv;
const ada = generateKeyPairSync('ed25519').privateKey;
const mallory = generateKeyPairSync('ed25519').privateKey;
const approvers = { Ada: encodePublicKey(ada) };
const DEPLOY_ID = '1111111-0123456789';
const OTHER_ID = '2222222-0123456789';
const NOW = Date.parse('2026-12-04T10:00:00Z');

beforeAll(async () => {
  env = await startDeployEnv();
});
afterAll(async () => {
  await env?.stop();
});

let chains = 0;
/** A stack of its own per test (the forgeries stay in a chain for good), with Ada as its approver. */
function freshSite(): Site {
  chains += 1;
  return {
    ...env.site,
    protected: true,
    approval: { approvers, trustElicitation: false },
    target: { ...env.site.target, statePrefix: `${env.site.target.statePrefix}approvals-${chains}/` },
  };
}

/** A deploy request for DEPLOY_ID (of 1111111…) or OTHER_ID (of 2222222…), opened at `at`. */
function openRequest(site: Site, deployId: typeof DEPLOY_ID | typeof OTHER_ID, at = NOW) {
  const digit = deployId.slice(0, 1);
  return openApprovalRequest(site, {
    action: 'deploy',
    deployId,
    summary: `deploy sophia-dashboard@${digit.repeat(7)}`,
    app: 'sophia-dashboard',
    commit: digit.repeat(40),
    change: `sha256:${digit.repeat(64)}`,
    requestedBy: 'infra-test',
    now: at,
  });
}

/** Ada really approves the deploy, and the server uses her approval: what a genuine chain holds. */
async function genuineApproval(site: Site) {
  const request = await openRequest(site, DEPLOY_ID);
  await signApproval(site, request, { key: ada, name: 'Ada' }, NOW + 60_000);
  const checked = await checkSignedApproval(site, request, NOW + 120_000);
  if (!checked || !('approval' in checked)) throw new Error(`not accepted: ${JSON.stringify(checked)}`);
  const used = await consumeApproval(site, request.nonce, {
    action: 'deploy',
    deployId: DEPLOY_ID,
    approval: checked.approval,
    now: NOW + 120_000,
    judged: await approvalInForce(site),
  });
  expect(used).toBe(true);
  const entries = await readAudit(site.state, site.target.statePrefix);
  return { request, entries, used: entries.find((e) => e.type === 'approval-used') as AuditEntry };
}

/** What the deployer role can do: append an entry of its choosing, through the tool's own append. */
const append = (site: Site, type: string, data: Record<string, unknown>, at: number) =>
  appendAudit(site.state, site.target.statePrefix, site.locker, { type, data, at: new Date(at) });

/** `audit verify` as at `now` (this file's clock, NOW, is in the past: a request's hour is judged by it). */
const verify = (site: Site, now = NOW) =>
  verifyAudit(site.state, site.target.statePrefix, { approvers, now });

function statementBy(key: KeyObject, name: string, over: Partial<ApprovalStatement>): ApprovalStatement {
  return {
    v: 1,
    stack: env.site.target.stack,
    action: 'deploy',
    deployId: OTHER_ID,
    nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
    expiresAt: new Date(NOW + APPROVAL_TTL_MS).toISOString(),
    approver: name,
    publicKey: encodePublicKey(key),
    signedAt: new Date(NOW).toISOString(),
    ...over,
  };
}

const usedBy = (statement: ApprovalStatement) =>
  `${statement.approver} (approver key ${keyFingerprint(statement.publicKey)})`;

/** An `approval-used` entry's data for OTHER_ID carrying `statement`, signed with `key`. */
const signedUseOf = (site: Site, statement: ApprovalStatement, key: KeyObject) => ({
  deployId: OTHER_ID,
  action: 'deploy',
  by: usedBy(statement),
  via: 'signed',
  stack: site.target.stack,
  signed: { statement, signature: signStatement(key, statement) },
});

describe('signed approvals in the audit chain', () => {
  it('a genuine approval and its use are checked: signature, key, contents, once', async () => {
    const site = freshSite();
    const { used } = await genuineApproval(site);
    expect(used.data).toMatchObject({ via: 'signed', deployId: DEPLOY_ID });
    const result = await verify(site);
    expect(result.problems).toEqual([]);
    expect(result.approvals).toEqual({ checked: 2, unchecked: [], adopted: [] });
  });

  /** A use "signed by Ada" with no statement, as an entry from before entries carried it looked. */
  const bareUse = (site: Site, at: number) =>
    append(
      site,
      'approval-used',
      {
        deployId: OTHER_ID,
        action: 'deploy',
        by: `Ada (approver key ${keyFingerprint(approvers.Ada)})`,
        via: 'signed',
        stack: site.target.stack,
      },
      at,
    );

  it('attack: a use "signed by Ada" appended with no statement after entries carried one: tampered', async () => {
    const site = freshSite();
    await genuineApproval(site);
    const forged = await bareUse(site, NOW + 200_000);
    const result = await verify(site);
    expect(result.ok).toBe(false);
    expect(result.approvals.checked).toBe(2);
    expect(result.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        seq: forged.seq,
        reason: expect.stringMatching(
          new RegExp(
            `entry ${forged.seq}: .*without the statement its approver signed, and no signed statement of any approval of that request is stored \\(approvals/signed/deploy-${OTHER_ID}\\.json\\): nobody signed it`,
          ),
        ),
      }),
    ]);
  });

  it('attack: the same bare use written before any record carried a statement is tampered too', async () => {
    const site = freshSite();
    const forged = await bareUse(site, NOW - 200_000);
    await genuineApproval(site);
    const result = await verify(site);
    expect(result.problems).toEqual([
      expect.objectContaining({ seq: forged.seq, reason: expect.stringMatching(/nobody signed it/) }),
    ]);
    expect(result.approvals).toEqual({ checked: 2, unchecked: [], adopted: [] });
  });

  /** Ada's approval of OTHER_ID, and its use recorded bare, as a FrontendOps from before records carried statements wrote it. */
  async function legacyApproval(site: Site, at: number) {
    const request = await openRequest(site, OTHER_ID, at);
    const statement = await signApproval(site, request, { key: ada, name: 'Ada' }, at + 60_000);
    // The older server passed no statement on: the use's entry carries none, only its marker.
    expect(
      await consumeApproval(site, request.nonce, {
        action: 'deploy',
        deployId: OTHER_ID,
        approval: { by: usedBy(statement), via: 'signed' },
        now: at + 120_000,
        judged: await approvalInForce(site),
      }),
    ).toBe(true);
    const entries = await readAudit(site.state, site.target.statePrefix);
    return { statement, use: entries.at(-1) as AuditEntry };
  }

  it('a record without its statement, as FrontendOps wrote before records carried it, is checked against the statement stored', async () => {
    const site = freshSite();
    await genuineApproval(site);
    const { statement, use } = await legacyApproval(site, NOW);
    expect(use.data.signed).toBeUndefined();
    let result = await verify(site);
    expect(result.problems).toEqual([]);
    expect(result.approvals).toEqual({ checked: 4, unchecked: [], adopted: [] });

    // Recorded as used a second time, bare, with its marker: the stored statement's nonce says it is
    // the same approval.
    const replay = await appendAudit(site.state, site.target.statePrefix, site.locker, {
      type: 'approval-used',
      data: use.data,
      ...(use.objects ? { objects: use.objects } : {}),
      at: new Date(NOW + 300_000),
    });
    result = await verify(site);
    expect(result.problems).toEqual([
      expect.objectContaining({
        seq: replay.seq,
        reason: expect.stringMatching(
          new RegExp(`already used by entry ${use.seq} \\(request nonce ${statement.nonce}\\)`),
        ),
      }),
    ]);
  });

  it('a request approved again later (asked again after its hour): the older bare records are unchecked, not tampered', async () => {
    const site = freshSite();
    // Its first approval, recorded bare by an older FrontendOps; the change stopped and its hour passed.
    const first = await legacyApproval(site, NOW);
    const given = (await readAudit(site.state, site.target.statePrefix)).find((e) => e.type === 'approval');
    // Asked again two hours later, approved again: the stored statement is now the second one's.
    const again = await openRequest(site, OTHER_ID, NOW + 2 * 3600_000);
    await signApproval(site, again, { key: ada, name: 'Ada' }, NOW + 2 * 3600_000 + 60_000);
    const result = await verify(site);
    expect(result.problems).toEqual([]);
    // The given record of the second approval carries its statement: checked. The first approval's
    // given record carried it too (this version writes it); its bare use cannot be checked now.
    expect(result.approvals.unchecked).toEqual([
      { seq: first.use.seq, reason: expect.stringMatching(/is of a later approval of it/) },
    ]);
    expect(given?.data.signed).toBeDefined();
  });

  it('attack: a spelling of `via` or `decision` FrontendOps never writes is tampered, not passed over', async () => {
    const site = freshSite();
    await genuineApproval(site);
    const base = { deployId: OTHER_ID, action: 'deploy', stack: site.target.stack };
    const forged = [
      await append(
        site,
        'approval-used',
        { ...base, by: usedBy(statementBy(ada, 'Ada', {})), via: 'Signed' },
        NOW + 200_000,
      ),
      await append(site, 'approval-used', { ...base, by: 'Ada' }, NOW + 200_000),
      await append(site, 'approval-used', { ...base, by: 'Ada', via: 'Elicitation' }, NOW + 200_000),
      await append(
        site,
        'approval',
        { ...base, decision: 'Approved', by: 'Ada', via: 'signed' },
        NOW + 200_000,
      ),
    ];
    const result = await verify(site);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.seq)).toEqual(forged.map((e) => e.seq));
    expect(result.problems.map((p) => p.reason)).toEqual([
      expect.stringMatching(/via "Signed", which FrontendOps never writes/),
      expect.stringMatching(/via null, which FrontendOps never writes/),
      expect.stringMatching(/via "Elicitation", which FrontendOps never writes/),
      expect.stringMatching(/an approval decided "Approved", which FrontendOps never writes/),
    ]);
  });

  it('attack: a genuine "given" record appended again is tampered, not counted twice', async () => {
    const site = freshSite();
    const { entries } = await genuineApproval(site);
    const given = entries.find((e) => e.type === 'approval') as AuditEntry;
    const replayed = await append(site, 'approval', given.data, NOW + 300_000);
    const result = await verify(site);
    expect(result.approvals.checked).toBe(2);
    expect(result.problems).toEqual([
      expect.objectContaining({
        seq: replayed.seq,
        reason: expect.stringMatching(/already recorded \(request nonce/),
      }),
    ]);
  });

  it("attack: an approval on a client's word, on a stack that accepts only signed ones, is not taken at its word", async () => {
    const site = freshSite();
    await genuineApproval(site);
    const forged = await append(
      site,
      'approval-used',
      {
        deployId: OTHER_ID,
        action: 'deploy',
        by: 'Ada (as claimed by claude-code)',
        via: 'elicitation',
        stack: site.target.stack,
      },
      NOW + 200_000,
    );
    const github = await append(
      site,
      'approval',
      {
        decision: 'approved',
        deployId: OTHER_ID,
        action: 'deploy',
        by: 'octocat',
        via: 'github-environment',
        stack: site.target.stack,
      },
      NOW + 210_000,
    );
    const accepts = { elicitation: false, githubEnvironment: false };
    const result = await verifyAudit(site.state, site.target.statePrefix, { approvers, accepts });
    expect(result.approvals.unchecked).toEqual([
      {
        seq: forged.seq,
        reason: expect.stringMatching(
          /on an MCP client's answer, which the approval policy the audit log recorded then does not accept \(trustElicitation is off there\)/,
        ),
      },
      {
        seq: github.seq,
        reason: expect.stringMatching(
          /on a GitHub environment's approval, .* \(it has no approval\.github there\)/,
        ),
      },
    ]);
    // A configuration of today that accepts them changes nothing: they are held to the policy the
    // chain recorded when they were made.
    const trusting = await verifyAudit(site.state, site.target.statePrefix, {
      approvers,
      accepts: { elicitation: true, githubEnvironment: true },
    });
    expect(trusting.approvals.unchecked.map((each) => each.seq)).toEqual([forged.seq, github.seq]);
  });

  it("attack: a statement signed by Mallory under Ada's name is not counted as Ada's", async () => {
    const site = freshSite();
    await genuineApproval(site);
    const statement = statementBy(mallory, 'Ada', {});
    const forged = await append(site, 'approval-used', signedUseOf(site, statement, mallory), NOW + 200_000);
    const result = await verify(site);
    expect(result.approvals.unchecked).toEqual([
      { seq: forged.seq, reason: expect.stringMatching(/does not list under "Ada"/) },
    ]);
  });

  it("attack: Ada's statement with its deploy id edited fails its signature: tampered", async () => {
    const site = freshSite();
    const { used } = await genuineApproval(site);
    const signed = used.data.signed as { statement: ApprovalStatement; signature: string };
    const forged = await append(
      site,
      'approval-used',
      {
        ...used.data,
        deployId: OTHER_ID,
        signed: {
          ...signed,
          statement: { ...signed.statement, deployId: OTHER_ID, nonce: 'BBBBBBBBBBBBBBBBBBBBBB' },
        },
      },
      NOW + 200_000,
    );
    const result = await verify(site);
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        seq: forged.seq,
        reason: expect.stringMatching(/signature .* does not verify/),
      }),
    );
  });

  it("attack: Ada's genuine statement under an entry for another change: tampered", async () => {
    const site = freshSite();
    const { used } = await genuineApproval(site);
    const forged = await append(site, 'approval-used', { ...used.data, deployId: OTHER_ID }, NOW + 200_000);
    const result = await verify(site);
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        seq: forged.seq,
        reason: expect.stringMatching(
          /deploy id 2222222-0123456789, but the statement Ada signed says 1111111-0123456789/,
        ),
      }),
    );
  });

  it('attack: her one approval recorded as used twice (a used marker deleted, the approval replayed): tampered', async () => {
    const site = freshSite();
    const { used } = await genuineApproval(site);
    const again = await append(site, 'approval-used', used.data, NOW + 300_000);
    const result = await verify(site);
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        seq: again.seq,
        reason: expect.stringMatching(new RegExp(`already used by entry ${used.seq}`)),
      }),
    );
  });

  it('attack: her approval recorded as used after its hour: tampered', async () => {
    const site = freshSite();
    const { used, request } = await genuineApproval(site);
    // The genuine use is under its marker; a forger recording one more change a day later:
    const late = await append(
      site,
      'approval-used',
      used.data,
      Date.parse(request.expiresAt) + 24 * 3600_000,
    );
    const result = await verify(site);
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        seq: late.seq,
        reason: expect.stringMatching(/after it expired/),
      }),
    );
  });

  it('attack: an approval given but never used, used a day later with the use backdated into its hour: tampered', async () => {
    const site = freshSite();
    const request = await openRequest(site, OTHER_ID);
    const statement = await signApproval(site, request, { key: ada, name: 'Ada' }, NOW + 60_000);
    // The change was never made. A day later the chain records other changes...
    const later = await append(
      site,
      'release',
      { deployId: DEPLOY_ID, stack: site.target.stack },
      NOW + 24 * 3600_000,
    );
    // ...and the deployer role records a use of Ada's approval, its time set inside her hour.
    const forged = await append(site, 'approval-used', signedUseOf(site, statement, ada), NOW + 10 * 60_000);
    const result = await verify(site);
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        seq: forged.seq,
        reason: expect.stringMatching(
          new RegExp(
            `comes after entry ${later.seq} of .*, when the approval had expired .*: it was written late and backdated`,
          ),
        ),
      }),
    );
  });

  it('attack: a statement approving another change, or naming none, does not count for the request', async () => {
    const site = freshSite();
    const request = await openRequest(site, DEPLOY_ID);
    await signApproval(site, request, { key: ada, name: 'Ada' }, NOW + 60_000);
    // The request rewritten (its nonce kept) to name the change the server plans now.
    const other = { ...request, change: `sha256:${'e'.repeat(64)}` };
    expect(await checkSignedApproval(site, other, NOW + 120_000)).toEqual({
      rejected: 'it approves another change than the one requested',
    });
    // A statement as FrontendOps signed before statements named their change.
    const { change: _none, ...older } = request;
    await signApproval(site, older, { key: ada, name: 'Ada' }, NOW + 60_000);
    expect(await checkSignedApproval(site, request, NOW + 120_000)).toEqual({
      rejected: expect.stringMatching(/names no planned change/),
    });
  });

  it('the change an approval binds: one deploy id, another build, share or live release, is another change', () => {
    const plan = {
      stack: 'prod',
      kind: 'deploy' as const,
      deployId: DEPLOY_ID,
      app: 'sophia-dashboard',
      commit: '1'.repeat(40),
      artifactDigest: `sha256:${'a'.repeat(64)}`,
      fromDeployId: null,
      fromCommit: null,
      copies: [],
      unchanged: 0,
      bytesToCopy: 0,
      prune: [],
      retained: [],
      invalidationPaths: [],
      noop: false,
    };
    const canary = {
      ...plan,
      op: 'canary-start' as const,
      pointerBefore: { live: 'r1' },
      pointerAfter: { live: 'r1', canary: 'r2', weight: 10 },
    };
    const digest = changeDigest(plan);
    // What a copy of the plan, planned again, has; the files it copies are not the change.
    expect(changeDigest({ ...plan, copies: [], unchanged: 9, retained: ['x'] })).toBe(digest);
    // A 40-bit deploy id matched by a build replaced in the artifacts bucket is not the build approved.
    expect(changeDigest({ ...plan, artifactDigest: `sha256:${'b'.repeat(64)}` })).not.toBe(digest);
    expect(changeDigest({ ...plan, fromDeployId: OTHER_ID })).not.toBe(digest);
    expect(changeDigest(canary)).not.toBe(
      changeDigest({ ...canary, pointerAfter: { ...canary.pointerAfter, weight: 50 } }),
    );
    expect(changeDigest(canary)).not.toBe(
      changeDigest({ ...canary, pointerBefore: { live: 'r1', canary: 'r2', weight: 5 } }),
    );
    expect(changeDigest(canary)).not.toBe(changeDigest({ ...canary, op: 'canary-promote' }));
  });

  it('a request asked again, stopped between its entry and its object: unfinished, and asking again writes it', async () => {
    // A fuzz of genuine flows: the object was written before its entry, so a stop between the two left
    // it bound by no entry, reused as it was when asked again, and verify said tampered for good.
    const site = freshSite();
    await openRequest(site, DEPLOY_ID); // never answered: its hour ends
    const later = NOW + 2 * 3600_000;
    const key = `${site.target.statePrefix}approvals/requests/deploy-${DEPLOY_ID}.json`;
    await expect(
      openRequest(
        stoppingSite(site, (k) => k === key),
        DEPLOY_ID,
        later,
      ),
    ).rejects.toThrow(/stopped/);
    expect((await verify(site, later)).problems).toEqual([
      expect.objectContaining({ kind: 'unfinished', object: `approvals/requests/deploy-${DEPLOY_ID}.json` }),
    ]);
    const request = await openRequest(site, DEPLOY_ID, later);
    await signApproval(site, request, { key: ada, name: 'Ada' }, later + 60_000);
    const checked = await checkSignedApproval(site, request, later + 120_000);
    if (!checked || !('approval' in checked)) throw new Error('not accepted');
    expect(
      await consumeApproval(site, request.nonce, {
        action: 'deploy',
        deployId: DEPLOY_ID,
        approval: checked.approval,
        now: later + 120_000,
        judged: await approvalInForce(site),
      }),
    ).toBe(true);
    expect((await verify(site)).problems).toEqual([]);
    // One edited by hand is no earlier binding: still tampered.
    const edited = { ...request, summary: 'edited' };
    await site.state.put(key, JSON.stringify(edited));
    expect((await verify(site)).problems).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: `approvals/requests/deploy-${DEPLOY_ID}.json` }),
    );
  });

  it('a use whose marker landed but whose answer was lost (the retry refused) counts once, not as used before', async () => {
    const site = freshSite();
    const request = await openRequest(site, DEPLOY_ID);
    await signApproval(site, request, { key: ada, name: 'Ada' }, NOW + 60_000);
    const checked = await checkSignedApproval(site, request, NOW + 120_000);
    if (!checked || !('approval' in checked)) throw new Error('not accepted');
    // Where writes are conditional: the marker's create lands, and its answer comes back refused.
    let lost = false;
    const state: ObjectStore = {
      ...site.state,
      supportsConditionalWrites: async () => true,
      async put(key, body, meta, condition) {
        // If-None-Match: * as S3 honours it (this test's server ignores it).
        if (condition?.ifNoneMatch === '*' && (await site.state.head(key))) {
          throw lostConditionalWrite(key);
        }
        const answer = await site.state.put(key, body, meta, condition);
        if (!lost && key.includes('/approvals/used/')) {
          lost = true;
          throw lostConditionalWrite(key);
        }
        return answer;
      },
    };
    const use = {
      action: 'deploy' as const,
      deployId: DEPLOY_ID,
      approval: checked.approval,
      now: NOW + 120_000,
      judged: await approvalInForce(site),
    };
    expect(await consumeApproval({ ...site, state }, request.nonce, use)).toBe(true);
    expect(lost).toBe(true);
    // A second use (another process, the marker there) is refused as ever.
    expect(await consumeApproval({ ...site, state }, request.nonce, use)).toBe(false);
    const result = await verify(site);
    expect(result.problems).toEqual([]);
    expect(result.approvals).toEqual({ checked: 2, unchecked: [], adopted: [] });
  });

  it('an approver whose clock runs ten minutes ahead: the genuine chain still checks out', async () => {
    const site = freshSite();
    const request = await openRequest(site, DEPLOY_ID);
    await signApproval(site, request, { key: ada, name: 'Ada' }, NOW + 11 * 60_000);
    const checked = await checkSignedApproval(site, request, NOW + 60_000);
    if (!checked || !('approval' in checked)) throw new Error('not accepted');
    await consumeApproval(site, request.nonce, {
      action: 'deploy',
      deployId: DEPLOY_ID,
      approval: checked.approval,
      now: NOW + 60_000,
      judged: await approvalInForce(site),
    });
    const result = await verify(site);
    expect(result.problems).toEqual([]);
    expect(result.approvals.checked).toBe(2);
  });

  describe('what a use records as adopted is held to the policy its approver was shown', () => {
    const wider: ApprovalPolicy = {
      approvers: { ...approvers, Mallory: encodePublicKey(mallory) },
      trustElicitation: false,
    };
    /**
     * After a genuine first approval (which records Ada alone), Ada approves OTHER_ID shown `shown`
     * (none: a statement from before statements named one), and the use records `records`: what
     * the deployer role, appending through a FrontendOps of its own, chooses.
     */
    async function secondUse(site: Site, shown: ApprovalPolicy | null, records: ApprovalPolicy) {
      await genuineApproval(site);
      const at = NOW + 3 * 60_000;
      const request = await openRequest(site, OTHER_ID, at);
      await signApproval(
        site,
        request,
        { key: ada, name: 'Ada' },
        at,
        shown ? { description: 'deploy', policy: shown } : undefined,
      );
      const checked = await checkSignedApproval(site, request, at);
      if (!checked || !('approval' in checked)) throw new Error(`not accepted: ${JSON.stringify(checked)}`);
      expect(
        await consumeApproval(site, request.nonce, {
          action: 'deploy',
          deployId: OTHER_ID,
          approval: checked.approval,
          now: at,
          judged: await approvalInForce(site),
          records,
        }),
      ).toBe(true);
      const entries = await readAudit(site.state, site.target.statePrefix);
      return { use: entries.filter((e) => e.type === 'approval-used').at(-1) as AuditEntry, at };
    }

    it('attack: a use recorded as adopting Mallory, whom Ada was not shown: tampered', async () => {
      const site = freshSite();
      const { use, at } = await secondUse(site, site.approval, wider);
      const result = await verify(site, at);
      expect(result.ok).toBe(false);
      expect(result.problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          seq: use.seq,
          reason: expect.stringMatching(
            /it records that the approval Ada .* signed adopted the approval policy of the configuration \(it adds approver Mallory .*\), which is not the policy its statement says Ada was shown/,
          ),
        }),
      );
    });

    it('genuine: Ada shown that her approval adds Mallory, and it does: a note, no fault', async () => {
      const site = freshSite();
      const { use, at } = await secondUse(site, wider, wider);
      const result = await verify(site, at);
      expect(result.problems).toEqual([]);
      expect(result.approvals.adopted).toContainEqual(
        expect.objectContaining({ seq: use.seq, reason: expect.stringMatching(/adds approver Mallory/) }),
      );
    });

    it('a use that adopts nothing new needs no policy named; one from before statements named it is unchecked, not tampered', async () => {
      const narrower = freshSite();
      const kept = await secondUse(narrower, null, { approvers, trustElicitation: false });
      expect((await verify(narrower, kept.at)).problems).toEqual([]);
      const site = freshSite();
      const { use, at } = await secondUse(site, null, wider);
      const result = await verify(site, at);
      expect(result.problems).toEqual([]);
      expect(result.approvals.unchecked).toContainEqual({
        seq: use.seq,
        reason: expect.stringMatching(
          /names no approval policy its approver was shown \(signed by a FrontendOps from before statements named it\)/,
        ),
      });
    });
  });

  it('without the approver list, signatures and contents are still checked; a key is held to the approval policy the chain records, else said to be unchecked', async () => {
    const site = freshSite();
    await genuineApproval(site);
    const result = await verifyAudit(site.state, site.target.statePrefix);
    // The use records the policy it was judged under (its first: it holds itself to it); the
    // approval given before it, with none recorded yet, has no list to be held against.
    expect(result.approvals.checked).toBe(1);
    expect(result.approvals.unchecked).toHaveLength(1);
    expect(result.approvals.unchecked[0]?.reason).toMatch(/no approver list was given/);
    expect(result.ok).toBe(true);
  });

  describe('a change held to the approval it names', () => {
    const CANARY_ID = OTHER_ID;
    const nonceOf = (seq: number) => `nonce-${seq}`.padEnd(22, 'A');
    const adaBy = () => usedBy(statementBy(ada, 'Ada', {}));
    /** A use of Ada's approval of a `weight`% canary (request nonce nonceOf(seq)), as consumeApproval records it. */
    const canaryUse = (seq: number, weight: number | undefined): AuditEntry => {
      const statement = statementBy(ada, 'Ada', {
        action: 'canary',
        deployId: CANARY_ID,
        nonce: nonceOf(seq),
        ...(weight === undefined ? {} : { weight }),
      });
      return {
        ...entryOf(seq, 'approval-used', {
          ...signedUseOf(env.site, statement, ada),
          action: 'canary',
          deployId: CANARY_ID,
        }),
        objects: { [`approvals/used/${nonceOf(seq)}.json`]: `sha256:${'0'.repeat(64)}` },
      };
    };
    /** A canary start naming the approval used at `use` (or none), as atomic-apply.ts writes it. */
    const started = (
      seq: number,
      weight: number,
      use: number | null,
      more: { pointerWeight?: number; deployId?: string; by?: string } = {},
    ): AuditEntry =>
      entryOf(seq, 'canary-start', {
        mode: 'atomic',
        deployId: more.deployId ?? CANARY_ID,
        weight,
        pointer: { live: 'r-live', canary: 'r-canary', weight: more.pointerWeight ?? weight },
        ...(use === null ? {} : { approval: { nonce: nonceOf(use), by: more.by ?? adaBy(), via: 'signed' } }),
      });
    const entryOf = (seq: number, type: string, data: Record<string, unknown>): AuditEntry => ({
      seq,
      at: new Date(NOW + seq * 1000).toISOString(),
      type,
      data: { stack: env.site.target.stack, ...data },
      prevHash: '',
      hash: '',
    });
    const problemsOf = (entries: AuditEntry[]) =>
      checkApprovalEntries(entries, approvers).problems.map((p) => [p.seq, p.reason]);

    it('a canary naming the use of her approval, at the share she signed: nothing to report', () => {
      expect(problemsOf([canaryUse(1, 5), started(2, 5, 1)])).toEqual([]);
      // A re-weight with an approval of its own.
      expect(problemsOf([canaryUse(1, 5), started(2, 5, 1), canaryUse(3, 20), started(4, 20, 3)])).toEqual(
        [],
      );
    });

    it('attack: a share she did not sign, in the entry or in the pointer it switched to: tampered', () => {
      expect(problemsOf([canaryUse(1, 5), started(2, 99, 1)])).toEqual([
        [
          2,
          'entry 2: it names the approval entry 1 records used, signed by Ada, but sends 99% of visitors to the canary where the statement says 5%: it was not made with that approval',
        ],
      ]);
      expect(problemsOf([canaryUse(1, 5), started(2, 5, 1, { pointerWeight: 99 })])).toEqual([
        [2, expect.stringMatching(/but sends 99% of visitors to the canary where the statement says 5%/)],
      ]);
    });

    it('attack: another kind of change, deploy id, approver or way, an approval never used or used after: tampered', () => {
      const other = `${'3'.repeat(7)}-0123456789`;
      expect(problemsOf([canaryUse(1, 5), started(2, 5, 1, { deployId: other })])).toEqual([
        [
          2,
          `entry 2: it names the approval entry 1 records used, but it is of deploy id ${other}, the use of ${CANARY_ID}: it was not made with that approval`,
        ],
      ]);
      // Her approval of a 5% canary named by a promote of that canary, or its abort (one deploy id).
      for (const type of ['canary-promote', 'canary-abort', 'deploy']) {
        const promoted = { ...started(2, 5, 1), type };
        expect(problemsOf([canaryUse(1, 5), promoted])).toEqual([
          [
            2,
            expect.stringMatching(
              new RegExp(`but it is a ${type}, which an approval of a canary does not cover`),
            ),
          ],
        ]);
      }
      expect(problemsOf([canaryUse(1, 5), started(2, 5, 1, { by: 'Mallory' })])).toEqual([
        [2, expect.stringMatching(/it says it was given by Mallory, the use by Ada/)],
      ]);
      const elsewise = started(2, 5, 1);
      (elsewise.data.approval as { via: string }).via = 'elicitation';
      expect(problemsOf([canaryUse(1, 5), elsewise])).toEqual([
        [2, expect.stringMatching(/it says it came "elicitation", the use "signed"/)],
      ]);
      expect(problemsOf([started(1, 5, 7)])).toEqual([
        [
          1,
          expect.stringMatching(
            /names the approval of request nonce nonce-7A+ .* but no entry before it records that approval used/,
          ),
        ],
      ]);
      expect(problemsOf([started(1, 5, 2), canaryUse(2, 5)]).map(([seq]) => seq)).toEqual([1]);
      expect(
        problemsOf([{ ...started(1, 5, null), data: { ...started(1, 5, null).data, approval: 'Ada' } }]),
      ).toEqual([
        [1, expect.stringMatching(/names the approval it used as "Ada", which FrontendOps never writes/)],
      ]);
    });

    it("an approval on someone's word is held to its use too: kind, deploy id, who", () => {
      const onWord: AuditEntry = {
        ...entryOf(1, 'approval-used', {
          action: 'deploy',
          deployId: DEPLOY_ID,
          by: 'The Boss',
          via: 'elicitation',
        }),
        objects: { [`approvals/used/${nonceOf(1)}.json`]: `sha256:${'0'.repeat(64)}` },
      };
      const change = (type: string, deployId: string) =>
        entryOf(2, type, { deployId, approval: { nonce: nonceOf(1), by: 'The Boss', via: 'elicitation' } });
      expect(problemsOf([onWord, change('deploy', DEPLOY_ID)])).toEqual([]);
      expect(problemsOf([onWord, change('rollback', DEPLOY_ID)]).map(([seq]) => seq)).toEqual([2]);
      expect(problemsOf([onWord, change('deploy', OTHER_ID)]).map(([seq]) => seq)).toEqual([2]);
      // A use of an action FrontendOps never writes, spelt as an object's own property: reported, no crash.
      for (const action of ['constructor', '__proto__', 'toString']) {
        const odd = { ...onWord, data: { ...onWord.data, action } };
        expect(problemsOf([odd, change('deploy', DEPLOY_ID)])).toEqual([
          [2, expect.stringMatching(new RegExp(`which an approval of a ${action} does not cover`))],
        ]);
      }
      // The same change written twice (two finishers whose locks did not meet) is not a forgery.
      expect(
        problemsOf([onWord, change('deploy', DEPLOY_ID), { ...change('deploy', DEPLOY_ID), seq: 3 }]),
      ).toEqual([]);
    });

    it('a change stopped before it went live, recorded as superseded, is held to the approval it names', () => {
      // An atomic canary start stopped before its switch, recorded by the next operation: no share moved.
      const stopped = (seq: number, type: string, use: number) => ({
        ...entryOf(seq, type, {
          mode: 'atomic',
          deployId: CANARY_ID,
          outcome: 'superseded',
          approval: { nonce: nonceOf(use), by: adaBy(), via: 'signed' },
        }),
      });
      expect(problemsOf([canaryUse(1, 5), stopped(2, 'canary-start-superseded', 1)])).toEqual([]);
      // Her canary approval named by a superseded deploy or rollback: not what she approved.
      for (const type of ['deploy-superseded', 'rollback-superseded']) {
        expect(problemsOf([canaryUse(1, 5), stopped(2, type, 1)])).toEqual([
          [
            2,
            expect.stringMatching(
              new RegExp(`but it is a ${type}, which an approval of a canary does not cover`),
            ),
          ],
        ]);
      }
      expect(problemsOf([stopped(1, 'canary-start-superseded', 4)])).toEqual([
        [1, expect.stringMatching(/but no entry before it records that approval used/)],
      ]);
    });

    it("a change naming no approval claims none: the operator's own command after a use whose change stopped", () => {
      // Ada's 5% was used, the start stopped before its entry; the operator started 20% from the console.
      expect(problemsOf([canaryUse(1, 5), started(2, 20, null)])).toEqual([]);
    });

    it('a statement signed before approvals named a share is held to its deploy id only', () => {
      expect(problemsOf([canaryUse(1, undefined), started(2, 40, 1)])).toEqual([]);
    });
  });
});

describe('using an approval reads the chain once', () => {
  it("a GitHub run's approval (no request entry): one listing, each entry read once", async () => {
    const site = freshSite();
    await genuineApproval(site); // a request, its approval, its use (recording the policy)
    for (const n of [1, 2, 3]) await append(site, 'note', { n }, NOW + n);
    const judged = await approvalInForce(site);
    const chain = await readAudit(site.state, site.target.statePrefix);
    await env.s3.settle();
    const from = env.s3.requests.length;
    const used = await consumeApproval(site, 'github-run-key', {
      action: 'deploy',
      deployId: OTHER_ID,
      approval: { by: 'octo (GitHub environment)', via: 'github-environment' },
      now: NOW + 200_000,
      judged,
      records: judged.policy,
    });
    expect(used).toBe(true);
    await env.s3.settle();
    // What it read before its marker (after it, its entry's append reads the head and its entry).
    const sent = env.s3.requests.slice(from);
    const before = sent.slice(
      0,
      sent.findIndex((r) => r.method === 'PUT'),
    );
    const entries = chain.map((e) => `${site.target.statePrefix}${auditEntryName(e.seq)}`);
    const listings = before.filter((r) => r.method === 'GET' && r.query.includes('list-type'));
    const entryReads = before.filter((r) => r.method === 'GET' && entries.includes(r.key));
    // Before, the policy it was judged under and an earlier use were each looked for in a walk of its
    // own: two listings, and the newest entries read twice.
    expect(listings.length).toBe(1);
    expect(entryReads.map((r) => r.key).sort()).toEqual(entries.sort());
  });
});
