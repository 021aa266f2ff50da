/**
 * A deployment the CDN does not serve is a failure, whoever runs it: the CLI (deploy/verify.test.ts)
 * and the agent alike put the previous release back, record the failure, exit 1 and make no deploy
 * tag. Here the agent and the infra server: invalidate_cdn switches back, its answer carries no
 * receipt (so no client can tag the failed deployment), and the runbook says what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgentRequest } from '../../src/agent/index.ts';
import type { AgentClients } from '../../src/agent/types.ts';
import { exitCodeFor } from '../../src/cli/commands/agent.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import {
  type AgentSnapshot,
  type AgentTestEnv,
  runbookRequests,
  startAgentTestEnv,
} from '../support/agent-env.ts';
import { type StaleCdn, startStaleCdn } from '../support/stale-cdn.ts';

let e: AgentTestEnv;
let clients: AgentClients;
/** The "CDN": the hosting bucket's index.html, or a frozen (stale) copy of it. */
let cdn: StaleCdn;

const run = (text: string) => runbookRequests(e, clients)(text);
const tags = async () => (await e.repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);

/**
 * The story, told once in beforeAll: a deploy the CDN serves, then one it does not (switched back).
 * What each step answered is kept for its case; the stack after the failure is a snapshot the cases
 * that change it start from.
 */
const story = {} as {
  served: { result: Awaited<ReturnType<typeof run>>; tags: string[] };
  unserved: {
    /** The index.html the first deploy made live, which the "CDN" kept serving. */
    v1: string | null;
    sha: string;
    result: Awaited<ReturnType<typeof run>>;
    /** The tools/call names the servers received for it. */
    calls: string[];
    tags: string[];
    index: string | null;
    audit: Awaited<ReturnType<typeof readAudit>>;
    verified: Awaited<ReturnType<typeof verifyAudit>>;
  };
  afterFailure: AgentSnapshot;
};

beforeAll(async () => {
  cdn = await startStaleCdn(() => e.hostingIndex());
  e = await startAgentTestEnv({
    siteUrl: cdn.url,
    verifyTimeoutMs: 300,
    // Two releases kept: one good release after the failed one is enough to leave it behind.
    retain: 2,
  });
  clients = await e.connect();

  const result = await run('Deploy the latest dashboard');
  story.served = { result, tags: await tags() };

  const v1 = await e.hostingIndex();
  cdn.frozen = v1;
  const sha = await e.addRelease('v3');
  const before = e.received.length;
  const failed = await run('Deploy the latest dashboard');
  cdn.frozen = null;
  story.unserved = {
    v1,
    sha,
    result: failed,
    calls: e.received.slice(before).map((c) => c.name),
    tags: await tags(),
    index: await e.hostingIndex(),
    audit: await readAudit(e.t.site.state, e.t.target.statePrefix),
    verified: await verifyAudit(e.t.site.state, e.t.target.statePrefix),
  };
  story.afterFailure = await e.snapshot();
});
afterAll(async () => {
  await e?.stop();
  await cdn?.stop();
});

describe('a deployment the CDN does not serve', () => {
  it('the agent deploys, the CDN serves it: succeeded and tagged', () => {
    const { result, tags } = story.served;
    expect(result.outcome, result.message).toBe('succeeded');
    expect(result.message).toContain('; verified: the CDN serves it.');
    expect(tags).toHaveLength(1);
  });

  it('is switched back, recorded as failed, answered without a receipt, not tagged; the agent fails (exit 1)', () => {
    const { v1, sha, result, calls } = story.unserved;

    expect(result.outcome, result.message).toBe('failed');
    expect(exitCodeFor(result)).toBe(1);
    expect(result.message).toMatch(
      new RegExp(
        `${sha.slice(0, 7)}.*the CDN did not serve it \\(the CDN still serves another index\\.html\\)`,
        's',
      ),
    );
    // One phrase for the switch back, the runbook's and the infra server's answer alike (the CLI's:
    // deploy/verify.test.ts), naming the deployment that did it.
    const switchBack =
      /The previous release is live again, switched back automatically \(([0-9a-f]{7}-[0-9a-f]{10})\)\./.exec(
        result.message,
      )?.[1];
    expect(switchBack, result.message).toBeDefined();
    expect(result.calls.find((c) => c.tool === 'invalidate_cdn')?.summary).toContain(
      ` The previous release is live again, switched back automatically (${switchBack}); no deploy tag is due.`,
    );
    expect(result.message).toMatch(/no deploy tag/);
    expect(result.tag).toBeUndefined();

    // The server's answer: failed, switched back, nothing to tag; no tag was asked for or made.
    expect(calls).toContain('invalidate_cdn');
    expect(calls).not.toContain('create_deploy_tag');
    expect(story.unserved.tags).toHaveLength(1);
    expect(story.unserved.tags).toEqual(story.served.tags);
    expect(story.unserved.index).toBe(v1);
    const [failed, back] = story.unserved.audit
      .filter((entry) => entry.type === 'deploy' || entry.type === 'rollback')
      .slice(-2)
      .map((entry) => [entry.type, entry.data.commit, entry.data.outcome]);
    expect(failed).toEqual(['deploy', sha, 'failed']);
    expect(back?.[0]).toBe('rollback');
    expect(back?.[2]).toBe('succeeded');
    expect(story.unserved.verified).toMatchObject({ ok: true });
  });

  it('a rollback to the failed deployment, no longer retained, is refused before anyone is asked to approve it', async () => {
    await story.afterFailure.restore();
    const failed = (await e.t.site.records.listRecords()).records.find((r) => r.outcome === 'failed');
    expect(failed).toBeDefined();
    // A good release later it is no longer among the (two) retained ones: only its record is left,
    // and the server goes back only to a deployment that went live (deploy/deploy.ts).
    await e.addRelease('v4');
    expect((await run('Deploy the latest dashboard')).outcome).toBe('succeeded');
    const retained = (await e.t.site.records.readPointer())?.value.releases.map((r) => r.commit);
    expect(retained).not.toContain(failed?.commit);
    let asked = 0;
    const before = e.received.length;
    const result = await runAgentRequest(`roll back to ${failed?.commit.slice(0, 7)}`, {
      actor: 'ada',
      planner: 'runbook',
      approve: async () => {
        asked++;
        return { approved: true, by: 'Ada Release', via: 'test' };
      },
      clients,
      config: e.config,
      cwd: e.repo.dir,
      env: {},
    });
    expect(result.outcome, result.message).toBe('refused');
    expect(exitCodeFor(result)).toBe(2);
    expect(result.message).toMatch(/did not go live .*recorded failed.*nobody was asked to approve it/s);
    expect(asked).toBe(0);
    expect(e.received.slice(before).map((c) => c.name)).not.toContain('rollback');
  });

  it('invalidate_cdn of a deployment recorded as failed carries no receipt: nothing to tag', async () => {
    await story.afterFailure.restore();
    const records = (await e.t.site.records.listRecords()).records;
    const failed = records.find((r) => r.outcome === 'failed');
    expect(failed).toBeDefined();
    const answer = await clients.infra.callTool({
      name: 'invalidate_cdn',
      arguments: { deployId: failed?.deployId },
    });
    const data = answer.structuredContent as { outcome: string; receipt: string | null };
    expect([data.outcome, data.receipt]).toEqual(['failed', null]);
  });
});
