/**
 * A deploy stopped after it made its release live (before its record and its deploy tag), then the
 * agent deploys another build: run_sync finishes the stopped deploy first, then syncs its own. The
 * finished deploy went live for everyone and is recorded now: its deploy tag is due, as the CLI and
 * the console make it (cli/finished-first-tag.test.ts). Before, run_sync's answer carried no receipt
 * for it, so the agent tagged only its own change. And the receipt it now carries is held to the
 * same checks as any: replayed it tags nothing new, altered or paired with another deployment's
 * values it is refused; and a model can have it used only with what the infra server said of it.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCliApprover } from '../../src/agent/approval.ts';
import { runAgentRequest } from '../../src/agent/index.ts';
import type { AgentClients } from '../../src/agent/types.ts';
import { deployArtifact, finishSyncedDeploy } from '../../src/deploy/deploy.ts';
import { WORDS_MAX } from '../../src/engine/text.ts';
import { parseTrailers, tagRequest, WORDS_CUT } from '../../src/git/deploy-tag.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import {
  type AgentSnapshot,
  type AgentTestEnv,
  APP,
  gateFor,
  runbookRequests,
  startAgentTestEnv,
} from '../support/agent-env.ts';
import { STACK } from '../support/deploy-env.ts';
import { type ChatRequest, startOpenAIDouble, type Turn, toolMessages } from '../support/openai-double.ts';
import { stoppingSite } from '../support/stopping-site.ts';

let e: AgentTestEnv;
let clients: AgentClients;
/** The runbook agent as an operator runs it, every approval given. */
let runbook: ReturnType<typeof runbookRequests>;
/** dashboard1 deployed; dashboard2's deploy stopped after its switch; v3 the latest build. */
let stoppedState: AgentSnapshot;
/** dashboard1 deployed, v3 the latest build: nothing stopped yet. */
let deployedState: AgentSnapshot;
let stopped: string;
let v3: string;
let before: string[];

const request = (text: string) => ({
  text,
  actor: 'rm-bob',
  planner: 'cli' as const,
  at: new Date().toISOString(),
});
const tags = async () => (await e.repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);
const trailersOf = async (tag: string) =>
  parseTrailers(await e.repo.git(['tag', '-l', '--format=%(contents)', tag]));
const tagged = async (tag: string) => (await e.repo.git(['rev-list', '-n', '1', tag])).trim();

beforeAll(async () => {
  e = await startAgentTestEnv();
  clients = await e.connect();
  runbook = runbookRequests(e, clients);
  await deployArtifact(e.t.site, { app: APP, commit: e.repo.commits.dashboard1, request: request('first') });
  v3 = await e.addRelease('v3');
  deployedState = await e.snapshot();
  stopped = await stopDeploy(request('ship the totals fix'));
  before = await tags();
  stoppedState = await e.snapshot();
});

/** dashboard2's deploy, stopped at its deployment record: live, not recorded, not tagged. */
async function stopDeploy(asked: ReturnType<typeof request>): Promise<string> {
  const stopping = stoppingSite(e.t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
  await expect(
    deployArtifact(stopping, { app: APP, commit: e.repo.commits.dashboard2, request: asked }),
  ).rejects.toThrow(/stopped/);
  return String((await e.t.site.records.readPointer())?.value.deployId);
}

afterAll(() => e?.stop());

it('a stopped deploy run_sync finishes first gets its deploy tag from the agent, before the run’s own', async () => {
  await stoppedState.restore();
  // What the git server received in this case only: other cases stop a deploy with the same id.
  const receivedBefore = e.received.length;
  const result = await runbook('Deploy the latest dashboard.');
  expect(result.outcome, result.message).toBe('succeeded');
  expect(result.commit).toBe(v3);
  const record = await e.t.site.records.readRecord(stopped);
  expect(record?.outcome).toBe('succeeded');

  // Before, one tag (v3's): the finished deploy went live and was recorded with none.
  const made = (await tags()).filter((t) => !before.includes(t));
  expect(made).toHaveLength(2);
  const byDeploy = new Map<string, string>();
  for (const tag of made) byDeploy.set(String((await trailersOf(tag))['Deploy-Id']), tag);
  const finishedTag = byDeploy.get(stopped);
  const ownTag = byDeploy.get(String(result.deployId));
  expect(finishedTag, `tags: ${made.join(', ')}`).toBeDefined();
  expect(ownTag).toBe(result.tag);
  expect(await tagged(finishedTag as string)).toBe(e.repo.commits.dashboard2);
  expect(await tagged(ownTag as string)).toBe(v3);
  const finished = await trailersOf(finishedTag as string);
  expect(finished).toMatchObject({
    'Deploy-Id': stopped,
    'Artifact-Digest': record?.artifactDigest,
    Stack: STACK,
    // The words of the request that made it, as its own run would have tagged it.
    Request: 'ship the totals fix',
  });
  // Made first, and each anchored at a head the chain has: the finish's before the run's own.
  const own = await trailersOf(ownTag as string);
  const seq = (head: unknown) => Number(String(head).split(':')[0]);
  expect(seq(finished['Audit-Head'])).toBeLessThan(seq(own['Audit-Head']));
  const number = (tag: string) => Number(tag.split('-').at(-1));
  expect(number(finishedTag as string)).toBeLessThan(number(ownTag as string));
  expect(result.message).toContain(`Tag: ${ownTag}`);
  expect(result.message).toContain(finishedTag as string);
  expect(await verifyAudit(e.t.site.state, e.t.target.statePrefix)).toMatchObject({ ok: true });

  // ── The finished deploy's receipt, as any MCP client connected to the git server could hold it. ──
  const sent = e.received.slice(receivedBefore).filter((r) => r.name === 'create_deploy_tag');
  const forFinished = sent.find((r) => r.args.deployId === stopped)?.args as Record<string, unknown>;
  const forOwn = sent.find((r) => r.args.deployId === result.deployId)?.args as Record<string, unknown>;
  expect(forFinished?.receipt).toEqual(expect.any(String));
  const git = clients.git as Client;
  const call = async (args: Record<string, unknown>) => {
    const answer = await git.callTool({ name: 'create_deploy_tag', arguments: args });
    return {
      error: answer.isError === true,
      text: JSON.stringify(answer.content),
      data: answer.structuredContent,
    };
  };
  // Replayed unchanged: the tag it already has, nothing new.
  const replayed = await call(forFinished);
  expect(replayed.error, replayed.text).toBe(false);
  expect(replayed.data).toMatchObject({ name: finishedTag, created: false });
  // Paired with another deployment's values (the run's own), or the run's receipt with the finished
  // deployment's values: refused, nothing created.
  for (const args of [
    { ...forOwn, receipt: forFinished.receipt },
    { ...forFinished, receipt: forOwn.receipt },
    { ...forFinished, commit: v3 },
  ]) {
    const refused = await call(args);
    expect(refused.error, refused.text).toBe(true);
    expect(refused.text).toMatch(/receipt is for deployment .* disagrees|Nothing was created/);
  }
  // Its claims rewritten (another commit) under the same signature: refused as not the infra server's.
  const [prefix, claims, mac] = String(forFinished.receipt).split('.');
  const rewritten = JSON.parse(Buffer.from(String(claims), 'base64url').toString('utf8'));
  rewritten.commit = v3;
  rewritten.deployId = String(result.deployId);
  const forged = await call({
    ...forOwn,
    receipt: `${prefix}.${Buffer.from(JSON.stringify(rewritten)).toString('base64url')}.${mac}`,
  });
  expect(forged.error, forged.text).toBe(true);
  expect(forged.text).toMatch(/not one the infra server issued/);

  expect((await tags()).filter((t) => !before.includes(t))).toHaveLength(2);
});

it('a model tags the finished deploy only with what the infra server said of it; its own tag is the answer’s', async () => {
  await stoppedState.restore();
  const key = 'sk-test-finished-first-0123456789';
  let sync: Record<string, unknown> = {};
  let target: Record<string, unknown> = {};
  const tool = (name: string, args: Record<string, unknown> = {}): Turn => ({
    toolCalls: [{ name, arguments: args }],
  });
  const lastResult = (chat: ChatRequest) =>
    JSON.parse(
      toolMessages(chat)
        .at(-1)
        ?.match(/<untrusted-tool-result>\n([\s\S]*)\n<\/untrusted-tool-result>/)?.[1] ?? '{}',
    ) as Record<string, unknown>;
  const double = await startOpenAIDouble({
    apiKey: key,
    script: (chat, n) => {
      const first = sync.finishedFirstChange as Record<string, unknown> | undefined;
      switch (n) {
        case 0:
          return tool('latest_commit');
        case 1:
          return tool('get_deploy_target', { commit: v3 });
        case 2:
          target = lastResult(chat);
          return tool('run_sync', { handle: target.handle });
        case 3:
          sync = lastResult(chat);
          return tool('invalidate_cdn', { deployId: sync.deployId });
        case 4:
          // The run's own tag first, then the finished deploy's: the answer names the run's own.
          return tool('create_deploy_tag', {
            deployId: sync.deployId,
            commit: v3,
            artifactDigest: sync.artifactDigest,
            request: 'Deploy the latest dashboard',
          });
        case 5:
          // The finished deployment's id on the run's own commit: not what it put live.
          return tool('create_deploy_tag', {
            deployId: first?.deployId,
            commit: v3,
            artifactDigest: sync.artifactDigest,
            request: 'rewritten',
          });
        case 6:
          // Its own values, with words of the model's own: the tag says the words that made it.
          return tool('create_deploy_tag', {
            deployId: first?.deployId,
            commit: first?.commit,
            artifactDigest: first?.artifactDigest,
            request: 'the model says this was an emergency',
          });
        default:
          return { text: 'Done.' };
      }
    },
  });
  try {
    const result = await runAgentRequest('Deploy the latest dashboard', {
      actor: 'ada',
      approve: createCliApprover({ yes: true, interactive: false, actor: 'ada', ask: async () => 'n' }),
      clients,
      config: e.config,
      cwd: e.repo.dir,
      env: {
        FRONTENDOPS_MODEL: 'openai-compatible:finished-first',
        FRONTENDOPS_MODEL_BASE_URL: double.baseURL,
        FRONTENDOPS_MODEL_API_KEY: key,
      },
    });
    expect(sync.finishedFirst).toBe(stopped);
    const tagCalls = result.calls.filter((c) => c.tool === 'create_deploy_tag');
    // Before, the finished deployment's tags were refused as no change of this request.
    expect(tagCalls.map((c) => c.status)).toEqual(['ok', 'refused', 'ok']);
    expect(tagCalls[1]?.summary).toMatch(/the tag must name what deployment .* put live/);
    const made = (await tags()).filter((t) => !before.includes(t));
    expect(made).toHaveLength(2);
    const byDeploy = new Map<string, string>();
    for (const tag of made) byDeploy.set(String((await trailersOf(tag))['Deploy-Id']), tag);
    expect(await tagged(byDeploy.get(stopped) as string)).toBe(e.repo.commits.dashboard2);
    expect((await trailersOf(byDeploy.get(stopped) as string)).Request).toBe('ship the totals fix');
    // The answer's tag is the run's own, not the last one made.
    expect(result).toMatchObject({
      outcome: 'succeeded',
      deployId: sync.deployId,
      tag: byDeploy.get(String(sync.deployId)),
    });
  } finally {
    await double.close();
  }
});

it('words too long for a tag together (request and message) are cut for the finished deploy’s tag, never refused', async () => {
  await deployedState.restore();
  // Each within the limit, as the CLI takes them; joined for the tag, over it.
  const long = { ...request(`ship ${'the totals fix '.repeat(130)}`), message: 'why '.repeat(400) };
  expect(`${long.text}: ${long.message}`.length).toBeGreaterThan(WORDS_MAX);
  const id = await stopDeploy(long);
  const result = await runbook('Deploy the latest dashboard.');
  // Before: create_deploy_tag refused the finished deploy's words (over 2000 characters), and the run
  // stopped there, with neither tag made.
  expect(result.outcome, result.message).toBe('succeeded');
  const made = (await tags()).filter((t) => !before.includes(t));
  expect(made).toHaveLength(2);
  const finishedTag = made.find((t) => t !== result.tag) as string;
  const words = await e.repo.git(['tag', '-l', '--format=%(contents)', finishedTag]);
  expect(words).toContain(`Deploy-Id: ${id}`);
  expect(words).toContain(`ship the totals fix${' the totals fix'.repeat(20)}`);
  expect(words).toContain(WORDS_CUT);
});

it('a finished deploy’s tag that cannot be made does not stop the run’s own, and the answer says so', async () => {
  await deployedState.restore();
  // Words no tag takes (a right-to-left override), as a crash-recovery record can hold them.
  const id = await stopDeploy(request('ship \u202e the totals fix'));
  const result = await runbook('Deploy the latest dashboard.');
  // Before: the refused tag stopped the run, the run's own tag was not made (outcome failed).
  expect(result.outcome, result.message).toBe('succeeded');
  const made = (await tags()).filter((t) => !before.includes(t));
  expect(made).toEqual([result.tag]);
  expect(result.message).toMatch(new RegExp(`First finished ${id} .*its tag could not be made: .*U\\+202E`));
  expect(result.message).toContain(`Tag: ${result.tag}`);
});

it('a retried run_sync whose answer was lost still tags the deploy it finished first, with the same tag', async () => {
  await stoppedState.restore();
  // The first attempt: run_sync finishes the stopped deploy and syncs v3, and the finished deploy is
  // tagged; then its client went away, before invalidate_cdn and the run's own tag.
  const gate = gateFor(e, clients, 'deploy the latest dashboard');
  await gate.call('latest_commit', {});
  const target = await gate.call('get_deploy_target', { commit: v3 });
  const lost = await gate.call('run_sync', { handle: target.structured?.handle });
  const first = lost.structured?.finishedFirstChange as Record<string, unknown>;
  expect(first.deployId).toBe(stopped);
  const madeFirst = await gate.call('create_deploy_tag', {
    deployId: stopped,
    commit: first.commit,
    artifactDigest: first.artifactDigest,
    request: 'deploy the latest dashboard',
  });
  expect(madeFirst.ok, madeFirst.text).toBe(true);
  const firstTag = String(madeFirst.structured?.name);

  // The same request again: run_sync of the same handle answers "synced before", and the agent tags both.
  const result = await runbook('Deploy the latest dashboard.');
  expect(result.outcome, result.message).toBe('succeeded');
  // Before: the retry's answer had no finishedFirstChange, so the message said nothing of it.
  expect(result.message).toContain(
    `First finished ${stopped} (${e.repo.commits.dashboard2.slice(0, 7)}); its tag: ${firstTag}.`,
  );
  expect(result.finishedFirstTag).toBe(firstTag);
  // The finished deploy's tag is the one made before, not a second: two tags in all.
  const made = (await tags()).filter((t) => !before.includes(t));
  expect(made.sort()).toEqual([firstTag, result.tag].sort());
});

it('a retried run_sync names no change finished first where another request finished the one before', async () => {
  await deployedState.restore();
  // dashboard2 synced, then finished by invalidate_cdn (its own request, read back from its
  // crash-recovery record as every finish of a synced change is): nothing stopped when v3 came.
  const synced = await deployArtifact(e.t.site, {
    app: APP,
    commit: e.repo.commits.dashboard2,
    request: request('ship the totals fix'),
    stopBeforeInvalidation: true,
  });
  const finished = await finishSyncedDeploy(e.t.site, synced.deployId, { request: request('invalidate') });
  expect(finished.record.request.resumedFrom).toBeDefined();
  // v3 synced; its answer lost, then the same request again.
  const sync = async () => {
    const gate = gateFor(e, clients, 'deploy the latest dashboard');
    await gate.call('latest_commit', {});
    const target = await gate.call('get_deploy_target', { commit: v3 });
    return gate.call('run_sync', { handle: target.structured?.handle });
  };
  const lost = await sync();
  expect(lost.structured?.finishedFirstChange).toBeUndefined();
  const retried = await sync();
  expect(retried.structured?.outcome, retried.text).toBe('synced');
  // Before: the retry named dashboard2 as the change its run finished first (finishedFirstOnRecord).
  expect(retried.structured?.finishedFirstChange).toBeUndefined();
  expect(retried.structured?.finishedFirst).toBeUndefined();
});

it('a finished deploy’s stored words naming a bucket: its tag hides it, cut or not, as the CLI’s does', async () => {
  await deployedState.restore();
  const bucket = e.t.target.hostingBucket;
  // Long words, cut for the tag where the bucket's name is: before, they were cut first and hidden
  // after, so what was left of the name (all of it but its last two letters) stayed in the tag the
  // agent got back from create_deploy_tag.
  const text = `${'a'.repeat(WORDS_MAX - WORDS_CUT.length - bucket.length + 1)} ${bucket}${'-and-more'.repeat(20)}`;
  const id = await stopDeploy(request(text));
  const result = await runbook('Deploy the latest dashboard.');
  expect(result.outcome, result.message).toBe('succeeded');
  const words = await e.repo.git(['tag', '-l', '--format=%(contents)', String(result.finishedFirstTag)]);
  expect(words).toContain(`Deploy-Id: ${id}`);
  expect(words).toContain(WORDS_CUT);
  expect(words).not.toContain(bucket.slice(0, -2));
  // The words the CLI's tag of it has (cli/finished-first-tag.test.ts): the same.
  await expect(trailersOf(String(result.finishedFirstTag))).resolves.toMatchObject({
    Request: tagRequest({ text }, e.t.target),
  });
});
