/**
 * A model may ask for several tools in one step, and the AI SDK runs them at once: a read (get_status)
 * can start and end while run_sync waits for the infra server's approval question. The question is
 * the change's, whatever read came and went meanwhile: the gate answers it from the person's yes to
 * that change, and asks them nothing twice.
 */
import { type Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCliApprover } from '../../src/agent/approval.ts';
import { createToolGate, type GateOptions, type ToolGate } from '../../src/agent/gate.ts';
import { approvableActions, parseRequest, toolsFor } from '../../src/agent/intents.ts';
import { createAgentMcpClient } from '../../src/agent/mcp-clients.ts';
import { createRedactor } from '../../src/agent/redact.ts';
import { approvalPolicyFor, defaultConfig } from '../../src/config.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { adoptApprovalPolicy, approvalInForce } from '../../src/state/approval-in-force.ts';
import { approverKeysFor } from '../support/approver.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';

const APP = 'sophia-dashboard';
const [COMMIT, COMMIT2] = ['a1a1a1a1'.repeat(5), 'b2b2b2b2'.repeat(5)];
const keys = approverKeysFor(['bob']);
let t: TestDeployEnv;
const clients: Client[] = [];

const withoutApprovers = { ...defaultConfig(), approval: { approvers: {}, trustElicitation: true } };

/** The stack every case starts from: the two commits published, nothing live, nothing pending, no policy recorded. */
let published: BucketSnapshot;

beforeAll(async () => {
  t = await startDeployEnv();
  await publishFixtureBuilds(t, APP, [COMMIT, COMMIT2]);
  published = await snapshotStack(t.site);
});
beforeEach(() => published.restore());
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await t?.stop();
});

/**
 * A gate on a protected stack whose server trusts its client's answer, and whose approval
 * question is held until `meanwhile` (what the model asked for in the same step) has been answered:
 * deterministic, as if that call had been quicker. The person answers with `ask` (unless said: yes
 * once, then no); `approvers`: the configuration's, recorded as the stack's policy before the test.
 */
async function gateHoldingTheQuestion(
  options: {
    approvers?: Record<string, string>;
    signal?: AbortSignal;
    ask?: (question: string, shown: readonly string[]) => Promise<string>;
    /** The gate's per-call timeout, read at each call (a test may shorten it for one call). */
    timeout?: { ms: number };
  } = {},
) {
  const config = {
    ...withoutApprovers,
    approval: { ...withoutApprovers.approval, approvers: options.approvers ?? {} },
  };
  const site = { ...t.site, protected: true, approval: approvalPolicyFor(config, STACK) };
  if (options.approvers) await adoptApprovalPolicy(site, 'the tests', Date.now());
  const held: { meanwhile: (() => Promise<unknown>) | null } = { meanwhile: null };
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createInfraServer({ config, openSite: async () => site, defaultStack: STACK }).connect(serverSide);
  const send = serverSide.send.bind(serverSide);
  serverSide.send = async (message, options) => {
    if ((message as { method?: string }).method === 'elicitation/create' && held.meanwhile) {
      const other = held.meanwhile;
      held.meanwhile = null;
      await other();
    }
    return send(message, options);
  };
  const infra = createAgentMcpClient();
  clients.push(infra);
  await infra.connect(clientSide);
  const intent = parseRequest('deploy the latest dashboard');
  const shown: string[] = [];
  const ask = options.ask ?? (async (_question, before) => (before.length > 0 ? 'n' : 'y'));
  const gateOptions: GateOptions = {
    clients: { infra, git: infra },
    stack: STACK,
    allowed: toolsFor(intent),
    asked: approvableActions(intent),
    approve: createCliApprover({
      yes: false,
      interactive: true,
      actor: 'ada',
      ask: (question) => {
        const before = [...shown];
        shown.push(question);
        return ask(question, before);
      },
    }),
    dryRun: false,
    maxCalls: 10,
    redactor: createRedactor([t.site.target.hostingBucket]),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const { timeout } = options;
  if (timeout) Object.defineProperty(gateOptions, 'callTimeoutMs', { get: () => timeout.ms });
  const gate: ToolGate = createToolGate(gateOptions);
  return { gate, shown, held, site };
}

describe('tool calls the gate has in flight at once', () => {
  it("a read that comes and goes while run_sync waits: the server's question is answered from the person's yes", async () => {
    const { gate, shown, held } = await gateHoldingTheQuestion();
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT });
    expect(target.structured, target.text).toMatchObject({ approvalRequired: true });
    let status: Awaited<ReturnType<ToolGate['call']>> | undefined;
    held.meanwhile = async () => {
      status = await gate.call('get_status', {});
    };
    const synced = await gate.call('run_sync', { handle: String(target.structured?.handle) });

    expect(status?.ok, status?.text).toBe(true);
    // Asked once, about the plan; the server's question answered from that yes. Before, the read's
    // end cleared the call in flight, and the person was asked again in the server's words.
    expect(shown).toHaveLength(1);
    expect(synced.ok, synced.text).toBe(true);
    expect(await t.site.records.readPointer()).not.toBeNull();
  });

  it('a second change while run_sync waits is refused, and the first is answered from its yes', async () => {
    const { gate, shown, held } = await gateHoldingTheQuestion();
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT2 });
    const deployId = String(target.structured?.deployId);
    let second: Awaited<ReturnType<ToolGate['call']>> | undefined;
    held.meanwhile = async () => {
      second = await gate.call('invalidate_cdn', { deployId });
    };
    const synced = await gate.call('run_sync', { handle: String(target.structured?.handle) });

    // One change at a time: the server's questions are then about the one in flight. Before, the
    // second replaced it as the call in flight, and the person was asked again.
    expect(second?.record.status, second?.text).toBe('refused');
    expect(second?.text).toMatch(/one change at a time: run_sync is still running/);
    expect(shown).toHaveLength(1);
    expect(synced.ok, synced.text).toBe(true);
  });
});

/**
 * Two changes in one model step: both start before either is approved. The second is refused before
 * anyone is asked about it, so the server's question about the first is answered from the person's
 * answer about the first only, whichever answer came first. Reads still run meanwhile, and a change
 * that ends without running leaves the way free for the next.
 */
describe('one change at a time', () => {
  /** Plans of both commits, and the two run_syncs started at once (the first, then the second). */
  async function twoSyncs(
    gate: ToolGate,
    held: { meanwhile: (() => Promise<unknown>) | null },
    release: () => void,
    between?: () => Promise<void>,
  ) {
    const plans = [];
    for (const commit of [COMMIT, COMMIT2]) {
      const target = await gate.call('get_deploy_target', { app: APP, commit });
      expect(target.structured, target.text).toMatchObject({ approvalRequired: true });
      plans.push(target.structured as { handle: string; deployId: string; adopts: string | null });
      await between?.();
      between = undefined;
    }
    const [first, second] = [plans[0], plans[1]].map((p) => gate.call('run_sync', { handle: p?.handle }));
    // The second's answer waits until the second has ended, or the first's question is asked.
    void second?.finally(release);
    held.meanwhile = async () => {
      release();
      await second;
    };
    const [one, two] = await Promise.all([first, second]);
    if (!one || !two) throw new Error('two calls were made');
    return { first: one, second: two, plans };
  }
  const held = () => {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { release, released };
  };

  for (const answeredFirst of ['first', 'second'] as const) {
    it(`yes to the first and no to the second, the ${answeredFirst} answered first: the first goes live`, async () => {
      const { release, released } = held();
      const {
        gate,
        shown,
        held: hold,
      } = await gateHoldingTheQuestion({
        ask: async (question) => {
          const isFirst = question.includes(COMMIT.slice(0, 7));
          if ((answeredFirst === 'first') !== isFirst) await released;
          return isFirst ? 'y' : 'n';
        },
      });
      const { first, second, plans } = await twoSyncs(gate, hold, release);

      // Before, both were put to the person and the server's question about the first was answered
      // from the second's no (the last decision after the first's), or, the second answered first,
      // declined as about another plan than the first decision's.
      expect(first.ok, first.text).toBe(true);
      expect((await t.site.records.readPointer())?.value.deployId).toBe(plans[0]?.deployId);
      expect(shown).toHaveLength(1);
      expect(second.record.status, second.text).toBe('refused');
      expect(second.text).toMatch(/one change at a time: run_sync is still running/);
    });
  }

  it('an adoption shown only with the second change is asked about again for the first', async () => {
    const { release, released } = held();
    const {
      gate,
      shown,
      held: hold,
      site,
    } = await gateHoldingTheQuestion({
      approvers: { Bob: keys().bob.publicKey },
      ask: async (question) => {
        if (!question.includes(COMMIT.slice(0, 7))) {
          await released;
          return 'y';
        }
        return /also adopts/.test(question) ? 'n' : 'y';
      },
    });
    // The first plan is described before another operator drops Bob (his key was lost), the
    // second after: only the second's says that approving it adopts the configuration's policy.
    const { first, second, plans } = await twoSyncs(gate, hold, release, async () => {
      await adoptApprovalPolicy(
        { ...t.site, approval: approvalPolicyFor(withoutApprovers, STACK) },
        'another operator',
        Date.now(),
      );
    });
    expect(plans.map((p) => p.adopts)).toEqual([null, expect.stringMatching(/adds approver Bob/)]);

    // The server's question about the first says it adopts the policy: the person was shown that
    // only with the second, so they are asked again, and their no keeps everything as it was.
    // Before, the second's yes answered it: the first went live and Bob was recorded again.
    expect(first.ok, first.text).toBe(false);
    expect(await t.site.records.readPointer()).toBeNull();
    expect((await approvalInForce(site)).recorded?.approvers).toEqual({});
    expect(shown).toHaveLength(2);
    expect(shown[0]).not.toMatch(/also adopts/);
    expect(shown[1]).toMatch(/This approval also adopts .*: adds approver Bob/);
    expect(second.record.status, second.text).toBe('refused');
  });

  it('a read the model asks for while the person is asked about a change runs meanwhile', async () => {
    let status: Awaited<ReturnType<ToolGate['call']>> | undefined;
    const { gate, shown } = await gateHoldingTheQuestion({
      ask: async () => {
        status = await gate.call('get_status', {});
        return 'y';
      },
    });
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT });
    const synced = await gate.call('run_sync', { handle: String(target.structured?.handle) });

    expect(status?.ok, status?.text).toBe(true);
    expect(shown).toHaveLength(1);
    expect(synced.ok, synced.text).toBe(true);
  });

  it('a change that ends without running (declined, or its approver failed) frees the slot', async () => {
    const answers: Array<() => Promise<string>> = [
      async () => 'n',
      async () => {
        throw new Error('the terminal closed');
      },
      async () => 'y',
    ];
    const { gate, shown } = await gateHoldingTheQuestion({
      ask: async (_question, before) => (answers[before.length] ?? (async () => 'n'))(),
    });
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT });
    const sync = () => gate.call('run_sync', { handle: String(target.structured?.handle) });

    const declined = await sync();
    expect(declined.declined, declined.text).toBe(true);
    await expect(sync()).rejects.toThrow(/the terminal closed/);
    // Neither kept the slot: the next change is asked about, and runs.
    const synced = await sync();
    expect(shown).toHaveLength(3);
    expect(synced.ok, synced.text).toBe(true);
    expect((await t.site.records.readPointer())?.value.deployId).toBe(target.structured?.deployId);
  });

  it('stopped while the person is asked: the change is not called, and nothing after it is', async () => {
    const stop = new AbortController();
    const { gate } = await gateHoldingTheQuestion({
      signal: stop.signal,
      ask: async () => {
        stop.abort();
        return 'y';
      },
    });
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT });
    const synced = await gate.call('run_sync', { handle: String(target.structured?.handle) });
    const after = await gate.call('get_status', {});

    expect(synced.record.status, synced.text).toBe('refused');
    expect(synced.text).toBe('Not called: the request was interrupted.');
    expect(after.text).toBe('Not called: the request was interrupted.');
    expect(gate.interrupted).toBe(true);
    expect(await t.site.records.readPointer()).toBeNull();
  });

  it('a change the gate refuses by its checks takes no slot from one in the same step', async () => {
    const { gate, shown } = await gateHoldingTheQuestion({ ask: async () => 'y' });
    const target = await gate.call('get_deploy_target', { app: APP, commit: COMMIT });
    const [unknown, synced] = await Promise.all([
      gate.call('run_sync', { handle: 'made-up' }),
      gate.call('run_sync', { handle: String(target.structured?.handle) }),
    ]);

    expect(unknown.text).toMatch(/unknown handle/);
    expect(shown).toHaveLength(1);
    expect(synced.ok, synced.text).toBe(true);
  });

  it("a late answer to an ended change's question is not taken for the next change's", async () => {
    const timeout = { ms: 30 * 60_000 };
    let releaseFirst = () => {};
    const firstReleased = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstAnswered: Promise<string> | undefined;
    const {
      gate,
      shown,
      held: hold,
    } = await gateHoldingTheQuestion({
      approvers: { Bob: keys().bob.publicKey },
      timeout,
      ask: async (question, before) => {
        // The first change's plan: yes. The server's question about it (it adopts a policy the
        // person was not shown): answered no, but only once that call has ended.
        if (before.length === 0) return 'y';
        if (before.length === 1) {
          expect(question).toMatch(/also adopts/);
          firstAnswered = firstReleased.then(() => 'n');
          return firstAnswered;
        }
        // The next change's plan, which says what it adopts: yes.
        return /also adopts/.test(question) ? 'y' : 'n';
      },
    });
    // The first plan is described before another operator drops Bob: the server's question about it
    // says it adopts, which the person was not shown, so they are asked again.
    const first = await gate.call('get_deploy_target', { app: APP, commit: COMMIT });
    await adoptApprovalPolicy(
      { ...t.site, approval: approvalPolicyFor(withoutApprovers, STACK) },
      'another operator',
      Date.now(),
    );
    // Short enough to end the call while the person is still answering the server's question
    // (which is answered only after it has ended), long enough for the server to ask it first, with
    // room for a loaded machine (the server asks within a few hundred milliseconds at load 15).
    timeout.ms = 4000;
    const ended = await gate.call('run_sync', { handle: String(first.structured?.handle) });
    expect(ended.record.status, ended.text).toBe('error');
    expect(ended.text).toMatch(/timed out/i);
    expect(shown).toHaveLength(2);

    timeout.ms = 30 * 60_000;
    const next = await gate.call('get_deploy_target', { app: APP, commit: COMMIT2 });
    expect(next.structured?.adopts, next.text).toMatch(/adds approver Bob/);
    // The late no comes in (and all it set off has run) before the server asks about the next change.
    hold.meanwhile = async () => {
      releaseFirst();
      await firstAnswered;
      await new Promise((resolve) => setImmediate(resolve));
    };
    const synced = await gate.call('run_sync', { handle: String(next.structured?.handle) });

    // The next change's question is answered from the yes to its own plan (which showed the
    // adoption). Before, the first change's late no landed among its approvals and declined it.
    expect(hold.meanwhile).toBeNull();
    expect(synced.ok, synced.text).toBe(true);
    expect(shown).toHaveLength(3);
    expect((await t.site.records.readPointer())?.value.deployId).toBe(next.structured?.deployId);
    expect(gate.approvals.map((a) => a.decision.approved)).toEqual([true, true]);
  });
});
