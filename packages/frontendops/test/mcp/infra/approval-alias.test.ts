/**
 * Who approves a change follows the environment, as its protection does. The attack: the
 * configuration names the protected stack twice — its own entry, whose approvals are signed ones
 * only, and another name for the same outputs (a second backend, a renamed stack) whose outputs
 * carry the same `statePrefix`, so it opens with the environment's own history. An MCP client
 * names that other stack: protection came from the environment's marker, but who may approve came
 * from the other name's entry (here the top-level policy, which trusts clients' answers), and the
 * client approved its own deploy of production.
 */
import { writeFile } from 'node:fs/promises';
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
async function selfApprovingClient() {
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
      args: [BIN, 'mcp', 'infra', '--stack', STACK],
      env,
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
});
