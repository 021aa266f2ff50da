/**
 * `history` says when who approves a protected stack's changes changed, by whom and what changed:
 * the deployer's `frontendops approvers adopt` (an `approval-policy` entry), and an approval that
 * adopted the configuration's policy with the change it approved (its `approval-used` entry). A
 * release manager reading the history (the CLI's text and JSON, get_history) sees it in the page
 * whose time it falls in; an approval under the policy already recorded changes nothing, and is no
 * such row.
 */
import { describe, expect, it } from 'vitest';
import type { ApprovalPolicy } from '../../src/config.ts';
import { approverKeysFor, approveWithCli, cliOnProtected, infraWithOidcFor } from '../support/approver.ts';
import { STACK } from '../support/deploy-env.ts';
import { COMMITS, connectInfra, type InfraClient } from '../support/mcp-infra.ts';

const { f, clients } = infraWithOidcFor();
const keys = approverKeysFor(['ada', 'mallory']);

async function server(approval: Partial<ApprovalPolicy>) {
  const c = await connectInfra(f().server({ config: f().config([STACK], approval) }));
  clients.push(c);
  return c;
}

/** A change `approver` approves with the CLI under `approval`, made live through the tools. */
async function approvedChange(
  c: InfraClient,
  commit: string,
  key: string,
  approval: Partial<ApprovalPolicy>,
) {
  const target = await c.call('get_deploy_target', { commit });
  const deployId = target.structured.deployId as string;
  await c.call('run_sync', { handle: target.structured.handle });
  const approved = await approveWithCli(f(), deployId, key, approval);
  expect(approved.code, approved.stderr).toBe(0);
  const sync = await c.call('run_sync', { handle: target.structured.handle });
  expect(sync.structured.outcome, sync.text).toBe('synced');
  await c.call('invalidate_cdn', { deployId });
  return deployId;
}

const KEY = 'ed25519:[A-Za-z0-9_-]{43}';

describe('history shows who approves changing', () => {
  it('after `approvers adopt`, and after an approval that adopts an added approver, in the page of their time', async () => {
    const owners = { approvers: { Ada: keys().ada.publicKey } };
    const adopted = await cliOnProtected(f(), owners, ['approvers', 'adopt'], ['--yes']);
    expect(adopted.code, adopted.stderr).toBe(0);

    const shown = await cliOnProtected(f(), owners, ['history']);
    expect(shown.code, shown.stderr).toBe(0);
    const adoptWords = new RegExp(
      `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC  \\S.* adopted the approval policy in frontendops\\.config\\.json without an approval \\(\`frontendops approvers adopt\`\\): records it for the first time: it adds approver Ada \\(${KEY}\\)\\.$`,
      'm',
    );
    expect(shown.stdout).toMatch(adoptWords);

    // Ada approves a change under a configuration that adds Mallory: her approval adopts it. Then
    // Mallory approves one under it: that approval changes nothing of who approves.
    const changed = { approvers: { ...owners.approvers, Mallory: keys().mallory.publicKey } };
    const c = await server(changed);
    const first = await approvedChange(c, COMMITS[0], keys().ada.path, changed);
    await approvedChange(c, COMMITS[1], keys().mallory.path, changed);

    const adaWords = new RegExp(
      `The approval of deploy ${first} by Ada \\(approver key ed25519:[0-9a-f]{16}\\), signed, also adopted the approval policy in frontendops\\.config\\.json: adds approver Mallory \\(${KEY}\\)\\.`,
    );
    const text = await cliOnProtected(f(), changed, ['history']);
    expect(text.stdout).toMatch(adaWords);
    expect(text.stdout).toMatch(adoptWords);
    expect(text.stdout).not.toMatch(/by Mallory/);

    const json = await cliOnProtected(f(), changed, ['history', '--json']);
    const page = JSON.parse(json.stdout);
    expect(page.policyChanges).toEqual([
      expect.objectContaining({
        by: expect.stringMatching(/^Ada/),
        deployId: first,
        description: expect.stringMatching(adaWords),
      }),
      expect.objectContaining({
        deployId: null,
        description: expect.stringMatching(/records it for the first time/),
      }),
    ]);
    expect(page.policyChanges[0].seq).toBeGreaterThan(page.policyChanges[1].seq);

    // A page at a time: the newest row's page spans no change of who approves; the older one both.
    const newest = await c.call('get_history', { limit: 1 });
    expect(newest.structured.policyChanges).toEqual([]);
    const older = await c.call('get_history', { limit: 1, before: newest.structured.next });
    expect((older.structured.deployments as { deployId: string }[]).map((d) => d.deployId)).toEqual([first]);
    expect(older.structured.policyChanges).toEqual(page.policyChanges);
    expect(older.text).toMatch(adaWords);
  });
});
