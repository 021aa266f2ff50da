/**
 * Who approves a protected stack's changes is read from frontendops.config.json each time a server
 * opens the stack. The attacker: whoever can change that file (a contributor whose pull request is
 * merged without care, a branch a workflow runs with its own checkout). Ada approved the stack's
 * last change; the configuration is then changed so that its author approves the next one alone:
 * - their own key added under `approval.approvers`;
 * - `approval.github` pointed at an environment without required reviewers, or at their fork;
 * - `trustElicitation` turned on, so an MCP client's own yes counts.
 * Each is a documented limit (docs/security.md, "whoever can change the files the tool reads"): the
 * approval policy is the configuration's, and nothing records the one a protected change was last
 * approved under. How approvers may change over time is for the project to decide; these tests show
 * what such a change does today, and what `audit verify` says of it afterwards.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApprovalPolicy } from '../../../src/config.ts';
import { readAudit } from '../../../src/state/audit.ts';
import { approverKeysFor, approveWithCli, infraWithOidcFor } from '../../support/approver.ts';
import { type BucketSnapshot, snapshotBuckets } from '../../support/bucket-snapshot.ts';
import { STACK } from '../../support/deploy-env.ts';
import { COMMITS, type ConnectOptions, connectInfra, type InfraClient } from '../../support/mcp-infra.ts';
import { cli } from '../../support/run-cli.ts';

const { f, oidc, clients } = infraWithOidcFor();
const keys = approverKeysFor(['ada', 'mallory']);

/** The stack as the fixture starts it, put back before each case: each starts there, whichever ran before. */
let start: BucketSnapshot;
beforeAll(async () => {
  const { site } = f().t;
  start = await snapshotBuckets([
    { store: site.hosting },
    { store: site.state, prefix: site.target.statePrefix },
  ]);
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

describe('limit: whoever changes the configuration chooses who approves a protected change', () => {
  it('their own key added under approval.approvers approves the next change alone; audit verify under the owners’ configuration lists that approval as unchecked', async () => {
    await approvedByAda(COMMITS[0]);
    const changed = { approvers: { Ada: keys().ada.publicKey, Mallory: keys().mallory.publicKey } };
    const c = await server(changed);
    const { target, deployId } = await planAndSync(c, COMMITS[1]);
    const approved = await approveWithCli(f(), deployId, keys().mallory.path, changed);
    expect(approved.code, approved.stderr).toBe(0);
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/Mallory/),
    });
    expect((await live())?.commit).toBe(COMMITS[1]);
    await c.call('invalidate_cdn', { deployId });

    // Afterwards, only a configuration without Mallory's key tells that approval apart: verify
    // passes, and lists the record of a key that configuration does not list.
    const verified = await verifyWithOwnersConfig();
    expect(verified.code, verified.stderr).toBe(0);
    expect(`${verified.stdout}${verified.stderr}`).toMatch(
      /which the stack's configuration does not list under "Mallory" now/,
    );
  });

  it('approval.github pointed at an environment without reviewers, or at their fork, approves a job there: only the deployer role’s trust (its OIDC subject) stops it', async () => {
    const github = (repository: string, environment: string) => ({
      approvers: {},
      github: {
        repository,
        environment,
        actions: ['deploy' as const],
        issuer: oidc().issuer,
        audience: 'frontendops',
      },
    });
    const preview = await server(
      github('sophia/dashboard', 'preview'),
      {},
      {
        ...oidc().job({ repository: 'sophia/dashboard', environment: 'preview', run_id: '301' }),
      },
    );
    const one = await planAndSync(preview, COMMITS[2]);
    expect(one.sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^GitHub environment "preview" of sophia\/dashboard/),
    });
    await preview.call('invalidate_cdn', { deployId: one.deployId });

    const fork = await server(
      github('mallory/dashboard', 'production'),
      {},
      {
        ...oidc().job({ repository: 'mallory/dashboard', environment: 'production', run_id: '302' }),
      },
    );
    const two = await planAndSync(fork, COMMITS[0]);
    expect(two.sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^GitHub environment "production" of mallory\/dashboard/),
    });
    await fork.call('invalidate_cdn', { deployId: two.deployId });
    expect((await live())?.commit).toBe(COMMITS[0]);
  });

  it('trustElicitation turned on makes an MCP client’s own yes the approval', async () => {
    const c = await server(
      { ...owners(), trustElicitation: true },
      { elicit: () => ({ action: 'accept', content: { confirm: true, approver: 'Ada' } }) },
    );
    const { sync, deployId } = await planAndSync(c, COMMITS[1]);
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: 'Ada (as claimed by infra-test) (elicitation)',
    });
    await c.call('invalidate_cdn', { deployId });
    const used = (await readAudit(f().t.site.state, f().t.site.target.statePrefix)).filter(
      (e) => e.type === 'approval-used',
    );
    expect(used.at(-1)?.data).toMatchObject({ deployId, via: 'elicitation' });
  });
});
