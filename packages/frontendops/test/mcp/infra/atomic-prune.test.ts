/**
 * What a deployment pruned is said where it happened: an atomic release's files leave after its switch
 * (and the grace), past run_sync, so invalidate_cdn, which records the deployment, says how many; the
 * agent reports that figure, the one `history` and the record show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../../src/adapters/git-local.ts';
import { runAgentRequest } from '../../../src/agent/index.ts';
import { defaultConfig } from '../../../src/config.ts';
import { createGitServer } from '../../../src/mcp/git-server.ts';
import { linkAgentClient } from '../../support/agent-link.ts';
import { type AtomicEnv, startAtomicEnv } from '../../support/atomic-env.ts';
import { createTestRepo } from '../../support/git-repo.ts';
import { connectInfra, type InfraClient, infraServerOn } from '../../support/mcp-infra.ts';

const C = [
  'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
  'b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1',
  'c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1',
];
let t: AtomicEnv;
let c: InfraClient;

beforeAll(async () => {
  // One release retained: each deploy after the first prunes the one it replaced.
  t = await startAtomicEnv({ retain: 1 });
  await t.publishVersions(C);
  c = await connectInfra(infraServerOn(t.site));
});
afterAll(async () => {
  await c.close();
  await t.stop();
});

describe('a prune on an atomic stack', () => {
  it('is said by invalidate_cdn, as the record has it, not by run_sync before it happened', async () => {
    const said: Array<{ sync: number; cdn: number; recorded: number }> = [];
    for (const commit of C) {
      const target = await c.call('get_deploy_target', { commit });
      const sync = await c.call('run_sync', { handle: target.structured.handle });
      const cdn = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
      expect(cdn.isError, cdn.text).toBe(false);
      const record = await t.site.records.readRecord(String(sync.structured.deployId));
      said.push({
        sync: Number(sync.structured.pruned),
        cdn: Number(cdn.structured.pruned),
        recorded: record?.deleted.length ?? -1,
      });
    }
    for (const { cdn, recorded } of said) expect(cdn).toBe(recorded);
    // The later two pruned the release they replaced; run_sync could not have said so.
    expect(said.slice(1).every((s) => s.cdn > 0 && s.sync === 0)).toBe(true);
  });

  it('is what the agent reports: the figure the record has', async () => {
    const repo = await createTestRepo();
    // The agent's own clients (they declare elicitation), each linked to a server of this stack.
    const infra = await linkAgentClient(infraServerOn(t.site));
    const git = await linkAgentClient(
      createGitServer({ host: createLocalGit({ repoDir: repo.dir }), defaultPath: 'apps/sophia-dashboard' }),
    );
    try {
      await t.publish(repo.commits.dashboard1, 'v4');
      await t.publish(repo.commits.dashboard2, 'v5');
      const deployed = await runAgentRequest('Deploy the latest dashboard', {
        actor: 'ada',
        planner: 'runbook',
        approve: async () => ({ approved: true, by: 'ada', via: 'test' }),
        clients: { infra, git },
        config: defaultConfig(),
        cwd: repo.dir,
        env: {},
      });
      expect(deployed.outcome, deployed.message).toBe('succeeded');
      const record = await t.site.records.readRecord(String(deployed.deployId));
      const pruned = record?.deleted.length ?? 0;
      expect(pruned).toBeGreaterThan(0);
      expect(deployed.message).toMatch(new RegExp(`Files: \\d+ copied, \\d+ unchanged, ${pruned} pruned\\.`));
    } finally {
      await Promise.allSettled([infra.close(), git.close()]);
      await repo.cleanup();
    }
  });
});
