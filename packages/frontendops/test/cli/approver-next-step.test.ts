/**
 * `frontendops approve`, after signing, says what comes next for the change approved: the tool the
 * agent calls again (run_sync, rollback, promote_release, start_canary, promote_canary,
 * abort_canary). And a key file others can read is not used to sign (as ssh): nothing is approved.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApproverKey } from '../../src/approval/keys.ts';
import { toolOfApproved } from '../../src/cli/commands/approve.ts';
import { findApprovalRequests } from '../support/approver.ts';
import type { BucketSnapshot } from '../support/bucket-snapshot.ts';
import { ARTIFACTS, STACK } from '../support/deploy-env.ts';
import {
  COMMITS,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
  stopConnectedInfra,
} from '../support/mcp-infra.ts';
import { cli } from '../support/run-cli.ts';

let f: InfraFixture;
let c: InfraClient;
let keysDir: string;
let key: string;
let approvers: Record<string, string>;
/** The stack as the cases start from it: nothing deployed; COMMITS[0] deployed, approved. */
let fresh: BucketSnapshot;
let c0Live: BucketSnapshot;

beforeAll(async () => {
  f = await startInfraFixture();
  keysDir = await mkdtemp(join(tmpdir(), 'frontendops-next-step-'));
  key = join(keysDir, 'ada.pem');
  approvers = { Ada: await createApproverKey(key, undefined) };
  c = await connectInfra(f.server({ config: f.config([STACK], { approvers }) }));
  fresh = await f.snapshot();
  await deployApproved(COMMITS[0]);
  c0Live = await f.snapshot();
});
afterAll(async () => {
  await stopConnectedInfra(f, c);
  await rm(keysDir, { recursive: true, force: true });
});

async function approve(deployId: string, extra: string[] = []) {
  const outputs = await f.t.writeOutputs();
  const config = join(f.t.tmp, `approve-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(config, JSON.stringify({ protected: [STACK], approval: { approvers } }));
  return cli(['approve', deployId, '--stack', outputs, '--key', key, '--yes', ...extra], {
    env: { FRONTENDOPS_CONFIG: config, ...f.t.cliEnv() },
    cwd: f.t.tmp,
  });
}
/** A deploy of `commit` through the agent's tools, approved with `frontendops approve`, then synced. */
async function deployApproved(commit: string) {
  const target = await c.call('get_deploy_target', { commit });
  await c.call('run_sync', { handle: target.structured.handle });
  expect((await approve(target.structured.deployId as string)).code).toBe(0);
  expect((await c.call('run_sync', { handle: target.structured.handle })).structured.outcome).toBe('synced');
  await c.call('invalidate_cdn', { deployId: target.structured.deployId });
}
const deployIdIn = (text: string) =>
  /frontendops approve ([0-9a-f]{7}-[0-9a-f]{10})/.exec(text)?.[1] as string;
const signed = (action: string, deployId: string) =>
  f.t.s3.store(ARTIFACTS).get(`${f.t.site.target.statePrefix}approvals/signed/${action}-${deployId}.json`);

describe('frontendops approve: what comes next', () => {
  it.skipIf(process.platform === 'win32')(
    'a deploy: a key others can read signs nothing; made private, it signs, and names run_sync',
    async () => {
      await fresh.restore();
      const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
      const deployId = target.structured.deployId as string;
      expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
        /APPROVAL_REQUIRED/,
      );

      await chmod(key, 0o644);
      const refused = await approve(deployId);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /^error: The approver key at .* can be read by others than you \(mode 0644\)/m,
      );
      expect(refused.stderr).toContain(`chmod 600 ${key}`);
      expect(refused.stdout).toBe('');
      expect(await signed('deploy', deployId)).toBeNull();
      expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
        /APPROVAL_REQUIRED/,
      );

      await chmod(key, 0o600);
      const approved = await approve(deployId);
      expect(approved.code, approved.stderr).toBe(0);
      expect(approved.stdout).toMatch(
        /Ask the agent again: its next run_sync call for this change goes through, once\.$/m,
      );
      expect(approved.stdout).not.toMatch(/rollback|promote|canary/);
      const sync = await c.call('run_sync', { handle: target.structured.handle });
      expect(sync.structured.outcome, sync.text).toBe('synced');
      await c.call('invalidate_cdn', { deployId });
    },
  );

  it('a rollback names rollback; a release’s promote names promote_release', async () => {
    // Something to roll back from: COMMITS[1], approved, after COMMITS[0].
    await c0Live.restore();
    await deployApproved(COMMITS[1]);

    const back = await c.call('rollback', {});
    expect(back.text).toMatch(/APPROVAL_REQUIRED/);
    expect(back.text).toMatch(/`frontendops approve [0-9a-f]{7}-[0-9a-f]{10} --stack \S+ --action rollback`/);
    const rollbackId = deployIdIn(back.text);
    const approvedBack = await approve(rollbackId, ['--action', 'rollback']);
    expect(approvedBack.code, approvedBack.stderr).toBe(0);
    expect(approvedBack.stdout).toMatch(/its next rollback call for this change goes through/);
    expect((await c.call('rollback', {})).structured).toMatchObject({
      outcome: 'succeeded',
      commit: COMMITS[0],
    });

    // The rollback pinned COMMITS[0]; a promote of COMMITS[1] is its own approval.
    const promote = await c.call('promote_release', { to: COMMITS[1] });
    expect(promote.text).toMatch(/APPROVAL_REQUIRED/);
    expect(promote.text).toMatch(
      /`frontendops approve [0-9a-f]{7}-[0-9a-f]{10} --stack \S+ --action promote`/,
    );
    const promoteId = deployIdIn(promote.text);
    const [request] = (await findApprovalRequests(f.t.site, promoteId)).filter((r) => r.action === 'promote');
    expect(request?.to).toBe(COMMITS[1]);
    const approvedPromote = await approve(promoteId, ['--action', 'promote']);
    expect(approvedPromote.code, approvedPromote.stderr).toBe(0);
    expect(approvedPromote.stdout).toMatch(/its next promote_release call for this change goes through/);
    expect((await c.call('promote_release', { to: COMMITS[1] })).structured).toMatchObject({
      outcome: 'succeeded',
    });
  });

  it('each kind of change names the tool that carries it out (src/mcp/infra)', () => {
    expect(toolOfApproved({ action: 'deploy' })).toBe('run_sync');
    expect(toolOfApproved({ action: 'rollback' })).toBe('rollback');
    expect(toolOfApproved({ action: 'rollback', to: COMMITS[0] })).toBe('rollback');
    expect(toolOfApproved({ action: 'canary' })).toBe('start_canary');
    // A release's promote names the release; a canary's promotes the running canary.
    expect(toolOfApproved({ action: 'promote', to: COMMITS[1] })).toBe('promote_release');
    expect(toolOfApproved({ action: 'promote' })).toBe('promote_canary');
    expect(toolOfApproved({ action: 'abort' })).toBe('abort_canary');
  });
});
