/**
 * Attack: a client of `frontendops mcp infra --http` (it holds the bearer token) answers an approval
 * question on a stack that trusts its clients, but not the question it was asked. Over HTTP every
 * request is served by a new server instance, so the answer's only tie to its question is the
 * request state the server sent with it (an HMAC over the stack, the action, the deploy id and the
 * approval request's nonce). The answers here are sent as raw JSON-RPC, as any client could send
 * them: the state of the question about one deploy, with an accept, on another deploy; a state made
 * up; an answer kept past its question's hour.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodePublicKey } from '../../../src/approval/keys.ts';
import type { ApprovalPolicy } from '../../../src/config.ts';
import { createInfraServer } from '../../../src/mcp/infra/server.ts';
import { type HttpServing, serveHttp } from '../../../src/mcp/serve.ts';
import { APPROVAL_TTL_MS } from '../../../src/state/approval-evidence.ts';
import { readAudit } from '../../../src/state/audit.ts';
import { type BucketSnapshot, snapshotStack } from '../../support/bucket-snapshot.ts';
import { HOSTING, STACK } from '../../support/deploy-env.ts';
import { COMMITS, type InfraFixture, startInfraFixture, wrapClient } from '../../support/mcp-infra.ts';

const TOKEN = 'approval-answer-http-token-0123456789';

let f: InfraFixture;
let serving: HttpServing;
/** A tools/call's params as a 2026-07-28 client sends them, answer and request state included. */
interface CallParams {
  name: string;
  arguments: Record<string, unknown>;
  inputResponses?: Record<string, unknown>;
  requestState?: string;
  _meta: { 'io.modelcontextprotocol/clientInfo': { name: string; version: string } };
}
/** Every POST a client made: its headers and its JSON body. */
const sent: Array<{ headers: Headers; body: { params?: CallParams } }> = [];
const closers: Array<() => Promise<unknown>> = [];
/** How far the server's clock is ahead of this machine's (an answer kept past its question's hour). */
let later = 0;
/** The stack's approval policy as its configuration says it when each request is served. */
const TRUSTING: ApprovalPolicy = { approvers: {}, trustElicitation: true };
let configured = TRUSTING;
/** Nothing deployed, no approval used: where every case starts. */
let nothingDeployed: BucketSnapshot;

beforeAll(async () => {
  f = await startInfraFixture();
  const secret = randomBytes(32);
  const config = f.config([STACK], { trustElicitation: true });
  serving = await serveHttp(
    () =>
      createInfraServer({
        config,
        openSite: async () => ({
          ...f.t.site,
          protected: true,
          approval: configured,
        }),
        defaultStack: STACK,
        secret,
        now: () => Date.now() + later,
      }),
    { port: 0, token: TOKEN },
  );
  nothingDeployed = await snapshotStack(f.t.site);
});
beforeEach(async () => {
  later = 0;
  configured = TRUSTING;
  await nothingDeployed.restore();
});
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await serving?.close();
  await f?.t.stop();
});

/** A 2026-07-28 client that can be asked, and declines; every POST it makes is recorded. */
async function decliningClient(name: string) {
  const client = new Client(
    { name, version: '0.0.0' },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  client.setRequestHandler('elicitation/create', async () => ({ action: 'decline' }));
  const recording: typeof fetch = async (input, init) => {
    if (init?.method === 'POST' && typeof init.body === 'string') {
      sent.push({ headers: new Headers(init.headers), body: JSON.parse(init.body) });
    }
    return fetch(input, init);
  };
  await client.connect(
    new StreamableHTTPClientTransport(new URL(serving.url), {
      requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
      fetch: recording,
    }),
  );
  closers.push(() => client.close());
  return wrapClient(client);
}

/** The last answered tools/call a client sent: its headers and body (the state and the answer in it). */
function lastAnswered(): { headers: Headers; params: CallParams } {
  const found = sent.findLast((s) => s.body.params?.requestState !== undefined);
  if (!found?.body.params) throw new Error('no client sent an answer with a request state');
  return { headers: found.headers, params: found.body.params };
}

/** A JSON-RPC answer to a tools/call. */
interface RpcAnswer {
  result?: { isError?: boolean; content?: Array<{ text?: string }>; structuredContent?: unknown };
}

/** A tools/call sent as raw JSON-RPC with a client's headers; the tool's result. */
async function rawCall(headers: Headers, params: CallParams): Promise<RpcAnswer> {
  const response = await fetch(serving.url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 9001, method: 'tools/call', params }),
  });
  const text = await response.text();
  // One JSON answer, or the same as the one event of a text/event-stream.
  return JSON.parse(text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? text)) as RpcAnswer;
}

const live = async () => (await f.t.site.records.readPointer())?.value ?? null;
const hostingKeys = async () => (await f.t.s3.store(HOSTING).list()).map((o) => o.key);
const approvalsUsed = async () =>
  (await readAudit(f.t.site.state, f.t.site.target.statePrefix)).filter((e) => e.type === 'approval-used');

/** An answered retry of `run_sync` as `answered` sent it, with another handle, state, answer or client name. */
function retried(
  answered: { params: CallParams },
  change: { handle?: unknown; requestState?: string; client?: string },
): CallParams {
  const params = structuredClone(answered.params);
  if (change.handle !== undefined) params.arguments.handle = change.handle;
  if (change.requestState !== undefined) params.requestState = change.requestState;
  // Every answer sent here is a yes.
  params.inputResponses = { approval: { action: 'accept', content: { confirm: true } } };
  if (change.client) params._meta['io.modelcontextprotocol/clientInfo'].name = change.client;
  return params;
}

/** What a tool call answered: its text, whether it failed. */
const resultOf = (answer: RpcAnswer) => ({
  isError: answer.result?.isError === true,
  text: String(answer.result?.content?.[0]?.text ?? JSON.stringify(answer)),
});

describe('attack: an MCP client over HTTP answers an approval question that is not the one it was asked', () => {
  it('the state of the question about one deploy, with an accept, does not approve another; a made-up state approves nothing', async () => {
    const asked = await decliningClient('asked-client');
    const first = await asked.call('get_deploy_target', { commit: COMMITS[0] });
    expect((await asked.call('run_sync', { handle: first.structured.handle })).text).toMatch(
      /^DENIED: Not approved/,
    );
    const question = lastAnswered();
    const other = await asked.call('get_deploy_target', { commit: COMMITS[1] });
    expect(other.structured.deployId).not.toBe(first.structured.deployId);

    const forOther = resultOf(
      await rawCall(
        question.headers,
        retried(question, { handle: other.structured.handle, client: 'other-client' }),
      ),
    );
    expect(forOther.isError).toBe(true);
    expect(forOther.text).toMatch(
      /^DENIED: The approval answer does not belong to this deploy of dashboard-hosting-prod/,
    );

    const madeUp = resultOf(
      await rawCall(
        question.headers,
        retried(question, { requestState: randomBytes(32).toString('base64url') }),
      ),
    );
    expect(madeUp.isError).toBe(true);
    expect(madeUp.text).toMatch(/^DENIED: The approval answer does not belong/);
    expect(await live()).toBeNull();
    expect(await hostingKeys()).toEqual([]);
    expect(await approvalsUsed()).toEqual([]);
  });

  it("an answer kept past its question's hour approves nothing; another client may answer the question it is asked, as its claim", async () => {
    const asked = await decliningClient('asked-client');
    const target = await asked.call('get_deploy_target', { commit: COMMITS[0] });
    await asked.call('run_sync', { handle: target.structured.handle });
    const question = lastAnswered();

    later = APPROVAL_TTL_MS + 1000;
    const again = await asked.call('get_deploy_target', { commit: COMMITS[0] });
    expect(again.structured.deployId).toBe(target.structured.deployId);
    const kept = resultOf(
      await rawCall(question.headers, retried(question, { handle: again.structured.handle })),
    );
    expect(kept.isError).toBe(true);
    expect(kept.text).toMatch(
      /^DENIED: The approval answer does not belong to this deploy of dashboard-hosting-prod/,
    );
    expect(await live()).toBeNull();
    expect(await hostingKeys()).toEqual([]);
    expect(await approvalsUsed()).toEqual([]);

    // The question asked now, answered by a client other than the one asked: it holds the same token.
    await asked.call('run_sync', { handle: again.structured.handle });
    const now = lastAnswered();
    expect(now.params.requestState).not.toBe(question.params.requestState);
    const accepted = await rawCall(now.headers, retried(now, { client: 'other-client' }));
    expect(accepted.result?.structuredContent).toMatchObject({
      outcome: 'synced',
      approvedBy: 'the user (as claimed by other-client) (elicitation)',
    });
    expect(await approvalsUsed()).toHaveLength(1);
  });

  it('an answer adopts no approval policy other than the one its question was asked under: a key added before the answer', async () => {
    const asked = await decliningClient('asked-client');
    const target = await asked.call('get_deploy_target', { commit: COMMITS[1] });
    await asked.call('run_sync', { handle: target.structured.handle });
    const question = lastAnswered();
    // Mallory's key merged into the configuration while the question waits for its answer.
    const mallory = encodePublicKey(generateKeyPairSync('ed25519').privateKey);
    configured = { ...TRUSTING, approvers: { Mallory: mallory } };
    try {
      const answered = resultOf(await rawCall(question.headers, retried(question, {})));
      expect(answered.isError, answered.text).toBe(true);
      expect(answered.text).toMatch(/^DENIED: The approval answer does not belong/);
      expect(await approvalsUsed()).toEqual([]);
      expect(await live()).toBeNull();
      expect(await hostingKeys()).toEqual([]);
    } finally {
      configured = TRUSTING;
    }
  });
});
