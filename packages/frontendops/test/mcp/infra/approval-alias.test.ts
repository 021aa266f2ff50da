/**
 * Who approves a change follows the environment, as its protection does. The attack: the
 * configuration names the protected stack twice — its own entry, whose approvals are signed ones
 * only, and another name for the same outputs (a second backend, a renamed stack) whose outputs
 * carry the same `statePrefix`, so it opens with the environment's own history. An MCP client
 * names that other stack: protection came from the environment's marker, but who may approve came
 * from the other name's entry (here the top-level policy, which trusts clients' answers), and the
 * client approved its own deploy of production. The same from the other side: a configuration that
 * lists production's approvers under its own name for it, opened while the bucket's marker names the
 * environment by a name that configuration does not list, took that name's (top-level) policy.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApprovalPolicy, acceptedByBoth } from '../../../src/config.ts';
import type { ApprovalAction } from '../../../src/ports.ts';
import { BIN } from '../../support/cli.ts';
import { ARTIFACTS, HOSTING, STACK } from '../../support/deploy-env.ts';
import { COMMITS, type InfraFixture, startInfraFixture, wrapClient } from '../../support/mcp-infra.ts';
import { cli } from '../../support/run-cli.ts';

const ALIAS = 'prod-eu';
/** A listed key (nobody here holds it): the only approver of the stack's own entry. */
const ADA = `ed25519:${'A'.repeat(43)}`;

let f: InfraFixture;
let env: Record<string, string>;
let prodOutputs: string;
const clients: Client[] = [];

beforeAll(async () => {
  f = await startInfraFixture();
  const outputs = (stack: string) => ({
    stack,
    artifactsBucket: ARTIFACTS,
    hostingBucket: HOSTING,
    region: 'us-east-1',
    endpoint: f.t.target.endpoint,
    statePrefix: f.t.target.statePrefix,
  });
  prodOutputs = join(f.t.tmp, 'prod-outputs.json');
  const aliasOutputs = join(f.t.tmp, 'alias-outputs.json');
  await writeFile(prodOutputs, JSON.stringify(outputs(STACK)));
  await writeFile(aliasOutputs, JSON.stringify(outputs(ALIAS)));
  const config = join(f.t.tmp, 'frontendops.config.json');
  await writeFile(
    config,
    JSON.stringify({
      protected: [STACK],
      // Other protected stacks trust their clients; production's own entry does not.
      approval: { trustElicitation: true },
      stacks: {
        [STACK]: { backend: 'outputs', file: prodOutputs, approval: { approvers: { Ada: ADA } } },
        [ALIAS]: { backend: 'outputs', file: aliasOutputs },
      },
    }),
  );
  const inherited: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('AWS_') && !k.startsWith('FRONTENDOPS_')) inherited[k] = v;
  }
  env = {
    ...inherited,
    ...f.t.cliEnv(),
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    FRONTENDOPS_CONFIG: config,
  };
  // Production's first release, by its operator at a terminal: its history, its marker (protected).
  const first = await cli(['deploy', '--stack', STACK, '--commit', COMMITS[0], '--yes', '--no-tag'], {
    env,
    cwd: f.t.tmp,
  });
  expect(first.code, first.stderr).toBe(0);
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await f?.t.stop();
});

/** `frontendops mcp infra` as operators run it, and a client that says yes to every question. */
async function selfApprovingClient(stack = STACK, config = env.FRONTENDOPS_CONFIG ?? '') {
  const client = new Client(
    { name: 'mallory', version: '0.0.0' },
    { capabilities: { elicitation: { form: {} } } },
  );
  client.setRequestHandler('elicitation/create', async () => ({
    action: 'accept' as const,
    content: { confirm: true, approver: 'Mallory' },
  }));
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', 'infra', '--stack', stack],
      env: { ...env, FRONTENDOPS_CONFIG: config },
      cwd: f.t.tmp,
      stderr: 'pipe',
    }),
  );
  clients.push(client);
  return wrapClient(client);
}

const live = async () => (await f.t.site.records.readPointer())?.value ?? null;

describe('attack: an MCP client names the protected environment by another configured name', () => {
  it("is held to the environment's approvers: its own answer does not deploy production", async () => {
    const c = await selfApprovingClient();
    // By its own name: the client's answer does not count (signed approvals only).
    const own = await c.call('get_deploy_target', { stack: STACK, commit: COMMITS[1] });
    expect(own.structured.approvalRequired).toBe(true);
    const refused = await c.call('run_sync', { handle: own.structured.handle });
    expect(refused.text).toMatch(/APPROVAL_REQUIRED/);

    // By the other name: the same environment, protected by its marker…
    const other = await c.call('get_deploy_target', { stack: ALIAS, commit: COMMITS[1] });
    expect(other.isError, other.text).toBe(false);
    expect(other.structured.approvalRequired).toBe(true);
    // …and, before, approved by the client itself.
    const sync = await c.call('run_sync', { handle: other.structured.handle });
    expect(sync.text).toMatch(/APPROVAL_REQUIRED/);
    expect(sync.structured.outcome).toBeUndefined();
    expect((await live())?.commit).toBe(COMMITS[0]);
  });
});

describe("attack: the environment's marker names it by a name this configuration does not list", () => {
  it('the entry the operator wrote for it still decides: the client cannot approve its own deploy', async () => {
    // This operator's configuration calls production "prod" (its own outputs, its own default state
    // location) and lists its approver there; the bucket's marker, written by a configuration that
    // calls it dashboard-hosting-prod, names the environment by that name, which this configuration
    // does not list: before, its top-level policy (trusting clients) decided who approves.
    const outputs = join(f.t.tmp, 'prod-named.json');
    const { statePrefix: _own, ...rest } = JSON.parse(await readFile(prodOutputs, 'utf8'));
    await writeFile(outputs, JSON.stringify({ ...rest, stack: 'prod' }));
    const config = join(f.t.tmp, 'operator.config.json');
    await writeFile(
      config,
      JSON.stringify({
        protected: ['prod'],
        approval: { trustElicitation: true },
        stacks: { prod: { backend: 'outputs', file: outputs, approval: { approvers: { Ada: ADA } } } },
      }),
    );
    const c = await selfApprovingClient('prod', config);
    const status = await c.call('get_status');
    expect(status.structured).toMatchObject({ stack: STACK, protected: true });
    // A promote makes a published build live for everyone, as a deploy does.
    const sync = await c.call('promote_release', { to: COMMITS[2] });
    expect(sync.text).toMatch(/APPROVAL_REQUIRED/);
    expect(sync.structured.outcome).toBeUndefined();
    // A handle names the stack as this server knows it ("prod"), not as the marker does: run_sync
    // reaches the approval, where before it answered "Unknown stack".
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    expect(target.isError, target.text).toBe(false);
    const handled = await c.call('run_sync', { handle: target.structured.handle });
    expect(handled.text).not.toMatch(/Unknown stack/);
    expect(handled.text).toMatch(/APPROVAL_REQUIRED/);
    expect((await live())?.commit).toBe(COMMITS[0]);
  });
});

describe('what two names of one environment both accept', () => {
  it('is all of a policy the two share, and only what both accept where they differ', () => {
    const github = {
      repository: 'sophia-analytics/frontendops',
      environment: 'dashboard-hosting-prod',
      actions: ['deploy', 'rollback'] as ApprovalAction[],
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'frontendops',
    };
    const prod: ApprovalPolicy = { approvers: { Ada: ADA }, github, trustElicitation: false };
    expect(acceptedByBoth(prod, prod)).toEqual(prod);
    const other: ApprovalPolicy = {
      approvers: { Ada: ADA, Mallory: `ed25519:${'M'.repeat(43)}` },
      github: { ...github, actions: ['deploy'] },
      trustElicitation: true,
    };
    expect(acceptedByBoth(other, prod)).toEqual({
      approvers: { Ada: ADA },
      github: { ...github, actions: ['deploy'] },
      trustElicitation: false,
    });
    const staging = { ...other, approvers: { Ada: `ed25519:${'B'.repeat(43)}` } };
    expect(acceptedByBoth(prod, { ...staging, github: { ...github, environment: 'staging' } })).toEqual({
      approvers: {},
      trustElicitation: false,
    });
  });

  it('holds a GitHub job to the ids either names; ids that differ are two repositories, neither accepted', () => {
    const github = {
      repository: 'sophia-analytics/frontendops',
      environment: 'dashboard-hosting-prod',
      actions: ['deploy'] as ApprovalAction[],
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'frontendops',
    };
    const byName: ApprovalPolicy = { approvers: {}, github, trustElicitation: false };
    const ids = { repositoryId: '700100200', ownerId: '600100200' };
    const byIds: ApprovalPolicy = { ...byName, github: { ...github, ...ids } };
    // Either way round: the ids one names bind the job both accept.
    expect(acceptedByBoth(byName, byIds).github).toEqual({ ...github, ...ids });
    expect(acceptedByBoth(byIds, byName).github).toEqual({ ...github, ...ids });
    for (const other of [{ repositoryId: '999000111' }, { ownerId: '999000222' }]) {
      const recreated: ApprovalPolicy = { ...byName, github: { ...github, ...ids, ...other } };
      expect(acceptedByBoth(byIds, recreated).github).toBeUndefined();
    }
  });
});
