/**
 * pin_release, unpin_release and promote_release through a real MCP client, and what the other
 * tools say about the pin: a rollback pins; get_deploy_target refuses a build past it (PINNED);
 * plans carry the files by kind and the CDN refresh in words.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRequest } from '../../../src/agent/intents.ts';
import { createApproverKey } from '../../../src/approval/keys.ts';
import { cliRequest } from '../../../src/cli/context.ts';
import type { CliIo } from '../../../src/cli/io.ts';
import { type ApprovalPolicy, approvalPolicyFor } from '../../../src/config.ts';
import { takeDeployLock } from '../../../src/deploy/deploy-lock.ts';
import { WORDS_MAX } from '../../../src/engine/text.ts';
import type { HeldLock } from '../../../src/ports.ts';
import { unpinnedSentence } from '../../../src/read/pin-words.ts';
import { connectSite } from '../../../src/stacks/open.ts';
import { readAudit, verifyAudit } from '../../../src/state/audit.ts';
import { clearPin, readPinStored, writePin } from '../../../src/state/pin.ts';
import { request } from '../../support/atomic-env.ts';
import type { BucketSnapshot } from '../../support/bucket-snapshot.ts';
import { STACK } from '../../support/deploy-env.ts';
import {
  APP,
  COMMITS,
  connectInfra,
  deployThroughTools,
  type InfraClient,
  type InfraFixture,
  infraServerOn,
  startConnectedInfra,
  stopConnectedInfra,
} from '../../support/mcp-infra.ts';

let f: InfraFixture;
let c: InfraClient;
/**
 * The stack as each pin case starts from it, made once through the tools: C0 then C1 deployed; rolled
 * back to C0 (pinned by the rollback); C0 pinned by hand instead; C2 promoted over that pin.
 */
let deployed: BucketSnapshot;
let rolledBack: BucketSnapshot;
let pinnedByHand: BucketSnapshot;
let promoted: BucketSnapshot;

beforeAll(async () => {
  ({ f, c } = await startConnectedInfra());
  for (const commit of [COMMITS[0], COMMITS[1]]) await deployThroughTools(c, commit);
  const ok = async (tool: string, args: Record<string, unknown>) => {
    const result = await c.call(tool, args);
    if (result.isError) throw new Error(`${tool}: ${result.text}`);
  };
  deployed = await f.snapshot();
  await ok('rollback', { request: 'roll back', requestedBy: 'alice' });
  rolledBack = await f.snapshot();
  await ok('unpin_release', { reason: 'fixed forward' });
  await ok('pin_release', { to: COMMITS[0].slice(0, 7), reason: 'release freeze' });
  pinnedByHand = await f.snapshot();
  await ok('promote_release', {
    to: COMMITS[2].slice(0, 7),
    reason: 'v3 fixes the totals',
    requestedBy: 'bob',
  });
  promoted = await f.snapshot();
});
afterAll(() => stopConnectedInfra(f, c));

describe('the pin through the infra MCP server', () => {
  it('plan_deploy says what is in the release: files by kind and the CDN refresh in words', async () => {
    await deployed.restore();
    const plan = await c.call('plan_deploy', { commit: COMMITS[2] });
    expect(plan.structured.contents).toMatchObject({
      files: {
        html: { added: 0, changed: 1, removed: 0, paths: { changed: ['/index.html'] } },
        asset: { added: 2, changed: 0, removed: 2 },
        other: { added: 0, changed: 0, removed: 0 },
      },
      invalidation: expect.stringMatching(/^The CDN refreshes 2 paths \(\/, \/index\.html\)/),
    });
  });

  it('rollback pins; get_status shows the pin; get_deploy_target of another build is refused as PINNED', async () => {
    await deployed.restore();
    const back = await c.call('rollback', { request: 'roll back', requestedBy: 'alice' });
    expect(back.structured).toMatchObject({ commit: COMMITS[0], pinned: true });
    expect(back.text).toMatch(/now pinned to it/);
    const status = await c.call('get_status');
    expect(status.structured.pin).toMatchObject({ commit: COMMITS[0], cause: 'rollback' });
    expect(status.text).toMatch(/pinned to 1111111/);
    // What the pin does, in the same words on each surface: a deploy past it is refused, not queued.
    for (const text of [back.text, status.text]) {
      expect(text).toMatch(
        /deploys of other releases are refused until someone promotes a release or unpins/,
      );
      expect(text).not.toMatch(/\bwait/);
    }
    const target = await c.call('get_deploy_target', { commit: COMMITS[2] });
    expect(target.isError).toBe(true);
    expect(target.text).toMatch(
      /^PINNED: dashboard-hosting-prod is pinned to sophia-dashboard@1111111.*promote.*unpin/s,
    );
    // The dry run still answers (what a promote would do), and says a deploy is refused, in those words.
    const planned = await c.call('plan_deploy', { commit: COMMITS[2] });
    expect(planned.isError).toBe(false);
    // One field says the refusal (the run's words), and the text is made from it, saying once that
    // nothing was changed.
    const refusal = target.text.replace(/^PINNED: /, '');
    expect(planned.structured.refusedBy).toEqual({ code: 'PINNED', message: refusal });
    const said = planned.text.split('\n')[0] ?? '';
    expect(said).toBe(
      `Dry run: ${planned.structured.description}. A deploy of it is refused now (PINNED): ${refusal}`,
    );
    expect(said.match(/nothing was changed/gi)).toHaveLength(1);
  });

  it('run_sync of a handle issued before a pin is refused PINNED on a protected stack, no approval asked', async () => {
    await deployed.restore();
    const keyDir = await mkdtemp(join(tmpdir(), 'frontendops-pin-key-'));
    const approvers = { Ada: await createApproverKey(join(keyDir, 'ada.pem'), undefined) };
    await rm(keyDir, { recursive: true, force: true });
    const guarded = await connectInfra(f.server({ config: f.config([STACK], { approvers }) }));
    try {
      const target = await guarded.call('get_deploy_target', { commit: COMMITS[2] });
      expect(target.structured).toMatchObject({ approvalRequired: true });
      // Pinned after the handle was issued: the plan is the same, and its run would be refused.
      const pinned = await c.call('pin_release', { reason: 'release freeze' });
      expect(pinned.isError, pinned.text).toBe(false);
      const sync = await guarded.call('run_sync', { handle: target.structured.handle });
      // Refused as its run refuses it, before a person is asked to approve what would not be done.
      // Before, it asked (APPROVAL_REQUIRED) for the deploy the pin refuses.
      expect(sync.isError).toBe(true);
      expect(sync.text).toMatch(/^PINNED: dashboard-hosting-prod is pinned to sophia-dashboard@2222222/);
    } finally {
      await guarded.close();
    }
  });

  it('unpin_release lifts it and says what it was; unpinning again is a no-op; pin_release pins the live release', async () => {
    await rolledBack.restore();
    const unpinned = await c.call('unpin_release', { reason: 'fixed forward' });
    expect(unpinned.structured).toMatchObject({ stack: STACK, unpinned: { commit: COMMITS[0] } });
    // In the words every surface says an unpin with (the CLI's, the agent's: read/pin-words.ts).
    expect(unpinned.text.split('\n')[0]).toBe(
      unpinnedSentence(STACK, unpinned.structured.unpinned as { app: string; commit: string; by: string }),
    );
    const again = await c.call('unpin_release');
    expect(again.structured).toMatchObject({ unpinned: null });
    expect(again.text.split('\n')[0]).toBe(`${STACK} was not pinned; nothing changed.`);
    const pinned = await c.call('pin_release', { to: COMMITS[0].slice(0, 7), reason: 'release freeze' });
    expect(pinned.structured).toMatchObject({
      created: true,
      pin: { commit: COMMITS[0], cause: 'pin', reason: 'release freeze' },
    });
    const wrong = await c.call('pin_release', { to: COMMITS[2] });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toMatch(/^CONFLICT: .* is not the live release/);
    // A build the stack does not keep: a rollback goes to it only if it went live, which the history says.
    expect(wrong.text).toMatch(
      /if \S+ went live here \(`frontendops history` lists what did\), `frontendops rollback --to \S+` goes back to it and pins/,
    );
    // One it keeps: a rollback goes back to it, and pins.
    const kept = await c.call('pin_release', { to: COMMITS[1] });
    expect(kept.text).toMatch(
      /to go back to \S+ and pin it, roll back to it \(`frontendops rollback --to \S+`\)/,
    );
  });

  it('promote_release deploys a release for everyone and clears the pin; the audit says who and why', async () => {
    await pinnedByHand.restore();
    const promoted = await c.call('promote_release', {
      to: COMMITS[2].slice(0, 7),
      reason: 'v3 fixes the totals',
      requestedBy: 'bob',
    });
    expect(promoted.isError).toBe(false);
    expect(promoted.structured).toMatchObject({
      app: APP,
      commit: COMMITS[2],
      outcome: 'succeeded',
      unpinned: { commit: COMMITS[0], cause: 'pin' },
      approvedBy: null,
    });
    expect(promoted.text).toMatch(/^Promoted sophia-dashboard@3333333.*The pin is cleared\./s);
    expect((await c.call('get_status')).structured).toMatchObject({
      pin: null,
      live: { commit: COMMITS[2] },
    });
    const audit = await readAudit(f.t.site.state, f.t.site.target.statePrefix);
    expect(audit.at(-1)).toMatchObject({
      type: 'unpin',
      data: { via: 'promote', reason: 'v3 fixes the totals' },
    });
  });

  it('on a protected stack promote_release needs a human approval, like run_sync', async () => {
    await promoted.restore();
    const keyDir = await mkdtemp(join(tmpdir(), 'frontendops-pin-key-'));
    const approvers = { Ada: await createApproverKey(join(keyDir, 'ada.pem'), undefined) };
    await rm(keyDir, { recursive: true, force: true });
    const guarded = await connectInfra(f.server({ config: f.config([STACK], { approvers }) }));
    try {
      const refused = await guarded.call('promote_release', { to: COMMITS[1] });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(/^APPROVAL_REQUIRED: .*frontendops approve [0-9a-f]{7}-[0-9a-f]{10}/s);
      expect((await guarded.call('get_status')).structured).toMatchObject({ live: { commit: COMMITS[2] } });
    } finally {
      await guarded.close();
    }
    // Where the stack trusts its MCP clients, their user's confirmation counts, labelled as a claim.
    const asking = await connectInfra(
      f.server({ config: f.config([STACK], { approvers, trustElicitation: true }) }),
      {
        elicit: () => ({ action: 'accept', content: { confirm: true, approver: 'carol' } }),
      },
    );
    try {
      const promoted = await asking.call('promote_release', { to: COMMITS[1] });
      expect(promoted.structured).toMatchObject({
        commit: COMMITS[1],
        approvedBy: 'carol (as claimed by infra-test) (elicitation)',
      });
    } finally {
      await asking.close();
    }
  });

  it('on a protected stack unpin_release is refused, even where the stack trusts its clients: a person unpins at a terminal', async () => {
    // Lifting the pin lets the next approved deploy make any release live, an older one included.
    await pinnedByHand.restore();
    const keyDir = await mkdtemp(join(tmpdir(), 'frontendops-pin-key-'));
    const approvers = { Ada: await createApproverKey(join(keyDir, 'ada.pem'), undefined) };
    await rm(keyDir, { recursive: true, force: true });
    const entries = async () => (await readAudit(f.t.site.state, f.t.site.target.statePrefix)).length;
    const before = await entries();
    const guarded = await connectInfra(
      f.server({ config: f.config([STACK], { approvers, trustElicitation: true }) }),
      { elicit: () => ({ action: 'accept', content: { confirm: true, approver: 'carol' } }) },
    );
    try {
      const refused = await guarded.call('unpin_release', { reason: 'lift the freeze' });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(
        /^APPROVAL_REQUIRED: dashboard-hosting-prod is protected: lifting its pin lets deploys of other releases, older ones included, go live, which a person decides\. Nothing was changed\. Unpin at a terminal: `frontendops unpin --stack dashboard-hosting-prod`, or promote_release, which a person approves, to make a release live and lift the pin\./,
      );
      expect((await guarded.call('get_status')).structured).toMatchObject({
        pin: { commit: COMMITS[0], cause: 'pin' },
      });
    } finally {
      await guarded.close();
    }
    expect(await entries()).toBe(before);
  });

  it('on a protected stack promote_release of the live release, which only lifts the pin, needs an approval too', async () => {
    // What unpin_release is refused for, asked as a promote that copies nothing: the pin goes all the same.
    await pinnedByHand.restore();
    const keyDir = await mkdtemp(join(tmpdir(), 'frontendops-pin-key-'));
    const approvers = { Ada: await createApproverKey(join(keyDir, 'ada.pem'), undefined) };
    await rm(keyDir, { recursive: true, force: true });
    const guarded = await connectInfra(f.server({ config: f.config([STACK], { approvers }) }));
    try {
      const refused = await guarded.call('promote_release', { to: COMMITS[0], reason: 'lift the freeze' });
      expect(refused.isError, refused.text).toBe(true);
      expect(refused.text).toMatch(/^APPROVAL_REQUIRED: .*frontendops approve [0-9a-f]{7}-[0-9a-f]{10}/s);
      expect((await guarded.call('get_status')).structured).toMatchObject({
        live: { commit: COMMITS[0] },
        pin: { commit: COMMITS[0], cause: 'pin' },
      });
    } finally {
      await guarded.close();
    }
    // Approved (here by a client the stack trusts), the approval is used and the pin lifted.
    const asking = await connectInfra(
      f.server({ config: f.config([STACK], { approvers, trustElicitation: true }) }),
      { elicit: () => ({ action: 'accept', content: { confirm: true, approver: 'carol' } }) },
    );
    try {
      const lifted = await asking.call('promote_release', { to: COMMITS[0], reason: 'lift the freeze' });
      expect(lifted.structured, lifted.text).toMatchObject({
        commit: COMMITS[0],
        approvedBy: 'carol (as claimed by infra-test) (elicitation)',
        unpinned: { commit: COMMITS[0] },
      });
      expect((await asking.call('get_status')).structured).toMatchObject({ pin: null });
      const verified = await verifyAudit(f.t.site.state, f.t.site.target.statePrefix, {
        approvers,
      });
      expect(verified.problems).toEqual([]);
    } finally {
      await asking.close();
    }
  });
});

describe('attack: a pin set between the plan a promote was judged by and its run', () => {
  const promotesOf = async () =>
    (await readAudit(f.t.site.state, f.t.site.target.statePrefix)).filter(
      (e) => e.type === 'approval-used' || (e.type === 'unpin' && e.data.via === 'promote'),
    ).length;

  /**
   * promote_release of the live release on the stack protected (`approval`, the console's Approver
   * saying yes where it counts), run while another holds the deploy lock: once the promote waits for
   * it, `meanwhile` changes the pin under that lock, which is then let go. The promote's answer.
   */
  async function promoteWhileLocked(
    to: string,
    approval: Partial<ApprovalPolicy>,
    meanwhile: (held: HeldLock) => Promise<void>,
  ) {
    const config = f.config([STACK], approval);
    const held = await takeDeployLock(f.t.site, { request: request('holding the lock') });
    let changed: Promise<void> | undefined;
    const site = await connectSite(f.t.target, {
      access: { credentials: f.t.s3.credentials, cdnEndpoint: f.t.cdn.endpoint },
      onNotice: (notice) => {
        if (/ is locked by /.test(notice)) changed ??= meanwhile(held).finally(() => held.release());
      },
    });
    const guarded = await connectInfra(
      f.server({
        config,
        lockWaitMs: 60_000,
        approver: { approve: async () => ({ approved: true, by: 'carol', via: 'the console' }) },
        openSite: async () => ({ ...site, protected: true, approval: approvalPolicyFor(config, STACK) }),
      }),
    );
    try {
      const answer = await guarded.call('promote_release', { to, reason: 'lift the freeze' });
      await changed;
      return answer;
    } finally {
      await guarded.close();
      if (!changed) await held.release();
      site.close();
    }
  }
  const pinByBob = async (held: HeldLock) => {
    const live = (await f.t.site.records.readPointer())?.value;
    if (!live) throw new Error('nothing live');
    const { deployId, app, commit } = live;
    const at = new Date().toISOString();
    await writePin(
      f.t.site,
      { stack: STACK, deployId, app, commit, by: 'bob', reason: null, at, cause: 'pin' },
      { lock: held, over: (await readPinStored(f.t.site)).etag },
    );
  };

  it('an approval to lift one pin is not spent on another, set while the promote waited for the lock', async () => {
    await pinnedByHand.restore();
    const before = await promotesOf();
    // Approved to lift the pin shown; meanwhile that pin is lifted, and Bob pins the release again.
    const lifted = await promoteWhileLocked(COMMITS[0], { trustElicitation: true }, async (held) => {
      await clearPin(f.t.site, { by: 'dave', reason: null, via: 'unpin', lock: held });
      await pinByBob(held);
    });
    expect(lifted.isError, lifted.text).toBe(true);
    expect(lifted.text).toMatch(
      /^CONFLICT: The approval of this promote was for lifting another pin \(the pin of \S+, set by .+ at \S+\), not the pin of \S+, set by bob at \S+, which is there now\. Nothing was changed: the pin stays\. Ask for the promote again: .* needs a new approval of it\./,
    );
    expect((await c.call('get_status')).structured).toMatchObject({ pin: { commit: COMMITS[0], by: 'bob' } });
    expect(await promotesOf()).toBe(before);
    expect((await verifyAudit(f.t.site.state, f.t.site.target.statePrefix)).problems).toEqual([]);
  });

  it('a promote of the live release planned with nothing pinned does not lift a pin set while it waited for the lock', async () => {
    await promoted.restore();
    const before = await promotesOf();
    const lifted = await promoteWhileLocked(COMMITS[2], {}, pinByBob);
    expect(lifted.isError, lifted.text).toBe(true);
    expect(lifted.text).toMatch(
      /^CONFLICT: This promote was planned when nothing was pinned, so nothing approved lifting the pin of \S+, set by bob at \S+, which was set since\. Nothing was changed: the pin stays\./,
    );
    expect((await c.call('get_status')).structured).toMatchObject({ pin: { by: 'bob' } });
    expect(await promotesOf()).toBe(before);
  });
});

describe("a person's words", () => {
  /** What cliRequest reads of a terminal: who is asking. */
  const ALICE = { env: { FRONTENDOPS_ACTOR: 'alice' } } as Partial<CliIo> as CliIo;

  it('are held to one limit at every door: an MCP reason takes what the CLI and the agent take', async () => {
    const words = `release freeze: ${'w'.repeat(WORDS_MAX - 16)}`;
    expect(words).toHaveLength(WORDS_MAX);
    // The CLI takes these words as --message, and the agent as a request.
    expect(cliRequest(ALICE, 'pin the live release', words).message).toBe(words);
    expect(parseRequest(`pin the live release, ${words}`.slice(0, WORDS_MAX)).kind).not.toBe('refuse');
    // So does an MCP client, as a pin's reason, recorded whole.
    await c.call('unpin_release');
    const pinned = await c.call('pin_release', { reason: words });
    expect(pinned.isError, pinned.text).toBe(false);
    expect(pinned.structured).toMatchObject({ created: true, pin: { reason: words } });
    await c.call('unpin_release');
    // One more character is refused by each, and nothing is pinned.
    const longer = `${words}!`;
    expect(() => cliRequest(ALICE, 'pin the live release', longer)).toThrow(
      /Invalid --message: it is 2001 characters long\. Expected 1–2000 characters/,
    );
    expect(() => cliRequest(ALICE, 'pin', '  ')).toThrow(/Invalid --message: it is empty\. Expected/);
    expect(parseRequest(longer)).toMatchObject({
      kind: 'refuse',
      reason: expect.stringMatching(/over 2000/),
    });
    const refused = await c.call('pin_release', { reason: longer });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/the argument "reason": Too big: expected string to have <=2000 characters/);
    expect((await c.call('get_status')).structured.pin).toBeNull();
  });
});

describe('another deploy holding the lock', () => {
  it('is said to an MCP client as LOCKED, with no CLI option it cannot pass', async () => {
    const held = await takeDeployLock(f.t.site, { request: request('holding the lock') });
    const waiting = await connectInfra(f.server({ lockWaitMs: 50 }));
    try {
      const pinned = await waiting.call('pin_release', { reason: 'hold it' });
      expect(pinned.isError).toBe(true);
      expect(pinned.text).toMatch(
        /^LOCKED: Deploying to \S+ is locked by .*wait for it to finish and try again\./,
      );
      expect(pinned.text).not.toMatch(/--wait|pass --/);
    } finally {
      await waiting.close();
      await held.release();
    }
  });

  it('each tool call says its own wait, once, though the server keeps the stack open for many', async () => {
    // As `frontendops mcp infra` serves: one site for every call, its notes to the operator.
    const said: string[] = [];
    const site = await connectSite(f.t.target, {
      access: { credentials: f.t.s3.credentials, cdnEndpoint: f.t.cdn.endpoint },
      onNotice: (notice) => said.push(notice),
    });
    const held = await takeDeployLock(f.t.site, { request: request('holding the lock') });
    const waiting = await connectInfra(infraServerOn(site, { lockWaitMs: 1000 }));
    try {
      // Two calls, each waiting for the same holder (who holds on): the second is told as the first was.
      for (const call of [1, 2]) {
        const pinned = await waiting.call('pin_release', { reason: `hold it (${call})` });
        expect(pinned.text).toMatch(/^LOCKED: /);
        expect(
          said.filter((notice) => / is locked by .*; waiting up to 1s for it\.$/.test(notice)),
        ).toHaveLength(call);
      }
    } finally {
      await waiting.close();
      await held.release();
      site.close();
    }
  });
});

describe('attack: an approved promote of another release lifts a pin set after it was approved', () => {
  it('approved with nothing pinned, it meets a freeze set since: refused, nothing goes live, the freeze stays', async () => {
    const [{ approveWithCli }, { pinRelease }] = await Promise.all([
      import('../../support/approver.ts'),
      import('../../../src/deploy/pin.ts'),
    ]);
    await promoted.restore();
    const keyDir = await mkdtemp(join(tmpdir(), 'frontendops-pin-key-'));
    const ada = join(keyDir, 'ada.pem');
    const approval = { approvers: { Ada: await createApproverKey(ada, undefined) } };
    const guarded = await connectInfra(f.server({ config: f.config([STACK], approval) }));
    try {
      const asked = await guarded.call('promote_release', { to: COMMITS[1], reason: 'back to v2' });
      expect(asked.text).toMatch(/^APPROVAL_REQUIRED: /);
      const promoteId = /frontendops approve (\S+) --stack/.exec(asked.text)?.[1] ?? '';
      const approved = await approveWithCli(f, promoteId, ada, approval, ['--action', 'promote']);
      expect(approved.code, approved.stderr).toBe(0);

      // Her approval is not used yet; an operator freezes what is live, for an incident.
      const { pin: freeze } = await pinRelease(f.t.site, {
        request: { ...request('pin'), actor: 'bob', message: 'incident 7: keep v3 live' },
      });
      const again = await guarded.call('promote_release', { to: COMMITS[1], reason: 'back to v2' });
      expect(again.isError, again.text).toBe(true);
      expect(again.text).toContain('set by bob');
      expect((await guarded.call('get_status')).structured).toMatchObject({
        live: { commit: COMMITS[2] },
        pin: { by: 'bob', at: freeze.at },
      });
    } finally {
      await guarded.close();
      await rm(keyDir, { recursive: true, force: true });
    }
  });
});
