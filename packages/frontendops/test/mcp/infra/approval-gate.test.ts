import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ElicitRequest } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveDeploy } from '../../../src/cli/approve-deploy.ts';
import { readAudit } from '../../../src/state/audit.ts';
import { ARTIFACTS, HOSTING, STACK } from '../../support/deploy-env.ts';
import {
  APP,
  COMMITS,
  type ConnectOptions,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
} from '../../support/mcp-infra.ts';
import { cli } from '../../support/run-cli.ts';

let f: InfraFixture;
const clients: InfraClient[] = [];

beforeAll(async () => {
  f = await startInfraFixture();
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await f?.t.stop();
});

/** A client of a server whose config protects the test stack. */
async function protectedClient(
  options: ConnectOptions = {},
  server = f.server({ config: f.config([STACK]) }),
) {
  const c = await connectInfra(server, options);
  clients.push(c);
  return c;
}

const live = async () => (await f.t.site.records.readPointer())?.value ?? null;
const hostingKeys = async () => (await f.t.s3.store(HOSTING).list()).map((o) => `${o.key}:${o.etag}`).sort();
const approvals = async () =>
  (await readAudit(f.t.site.state, f.t.site.target.statePrefix)).filter((e) => e.type === 'approval');

async function syncAndInvalidate(c: InfraClient, commit: string) {
  const target = await c.call('get_deploy_target', { commit });
  expect(target.structured.approvalRequired).toBe(true);
  const sync = await c.call('run_sync', { handle: target.structured.handle });
  return { target, sync };
}

const CLI_REQUEST = { text: 'approve', actor: 'ada', planner: 'cli', at: new Date().toISOString() };

describe('approvals on a protected stack', () => {
  it('a client without elicitation is refused with how to approve; `frontendops approve <handle>` unblocks it', async () => {
    const c = await protectedClient();
    const { target, sync } = await syncAndInvalidate(c, COMMITS[0]);
    const deployId = target.structured.deployId as string;
    expect(sync.isError).toBe(true);
    expect(sync.text).toContain('APPROVAL_REQUIRED: dashboard-hosting-prod is a protected environment');
    expect(sync.text).toContain(`frontendops approve ${deployId} --stack ${STACK}`);
    expect(await live()).toBeNull();
    expect(await hostingKeys()).toEqual([]);

    const approved = await approveDeploy(f.t.site, {
      request: CLI_REQUEST,
      ref: target.structured.handle as string,
      by: 'Ada Lovelace',
    });
    expect(approved.record).toMatchObject({
      deployId,
      stack: STACK,
      action: 'deploy',
      approvedBy: 'Ada Lovelace',
      via: 'cli',
    });
    expect(approved.description).toBe(target.structured.description);
    const stored = await f.t.s3
      .store(ARTIFACTS)
      .get(`${f.t.site.target.statePrefix}approvals/${deployId}.json`);
    expect(JSON.parse(stored?.body.toString() ?? '{}')).toMatchObject({ approvedBy: 'Ada Lovelace' });

    const retry = await c.call('run_sync', { handle: target.structured.handle });
    expect(retry.isError).toBe(false);
    expect(retry.structured).toMatchObject({
      deployId,
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Ada Lovelace \(/),
    });
    expect((await c.call('invalidate_cdn', { deployId })).structured.outcome).toBe('succeeded');
    expect(await approvals()).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ decision: 'approved', deployId, by: 'Ada Lovelace', via: 'cli' }),
      }),
    ]);
  });

  it('a client with elicitation is asked (2025 push); its accept approves, the name is recorded', async () => {
    const asked: ElicitRequest[] = [];
    const c = await protectedClient({
      elicit: (request) => {
        asked.push(request);
        return { action: 'accept', content: { confirm: true, approver: 'Grace Hopper' } };
      },
    });
    const { target, sync } = await syncAndInvalidate(c, COMMITS[1]);
    expect(sync.isError).toBe(false);
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Grace Hopper \(/),
    });
    expect(asked).toHaveLength(1);
    const params = asked[0]?.params as { message: string; requestedSchema: { properties: object } };
    expect(params.message).toContain(target.structured.description as string);
    expect(params.message).toContain(target.structured.deployId as string);
    expect(params.message).not.toContain(HOSTING);
    expect(Object.keys(params.requestedSchema.properties)).toEqual(['confirm', 'approver']);
    expect((await live())?.commit).toBe(COMMITS[1]);
    expect((await approvals()).at(-1)?.data).toMatchObject({
      decision: 'approved',
      via: 'elicitation',
      by: 'Grace Hopper',
    });
    await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
  });

  it('a declined elicitation (2026-07-28 input_required round) changes nothing and says who declined', async () => {
    const c = await protectedClient({
      era: 'modern',
      name: 'release-console',
      elicit: () => ({ action: 'decline' }),
    });
    const before = await hostingKeys();
    const pointer = await live();
    const { target, sync } = await syncAndInvalidate(c, COMMITS[2]);
    expect(sync.isError).toBe(true);
    expect(sync.text).toMatch(
      /DENIED: Not approved: .* was declined by the user of release-console\. Nothing was changed\./,
    );
    expect(await hostingKeys()).toEqual(before);
    expect(await live()).toEqual(pointer);
    expect((await approvals()).at(-1)?.data).toMatchObject({
      decision: 'declined',
      deployId: target.structured.deployId,
    });
  });

  it('an accepted elicitation over 2026-07-28 input_required rounds approves', async () => {
    let asked = 0;
    const c = await protectedClient({
      era: 'modern',
      elicit: () => {
        asked++;
        return { action: 'accept', content: { confirm: true } };
      },
    });
    const { sync } = await syncAndInvalidate(c, COMMITS[2]);
    expect(sync.isError).toBe(false);
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^the user of infra-test \(/),
    });
    expect(asked).toBe(1);
    expect((await live())?.commit).toBe(COMMITS[2]);
    await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
  });

  it('accept with confirm: false is a decline', async () => {
    const c = await protectedClient({
      elicit: () => ({ action: 'accept', content: { confirm: false, approver: 'Linus' } }),
    });
    const back = await c.call('rollback');
    expect(back.isError).toBe(true);
    expect(back.text).toMatch(/declined by Linus/);
    expect((await live())?.commit).toBe(COMMITS[2]);
  });

  it('rollback: refused without elicitation, approved by deploy id in the terminal, then done', async () => {
    const c = await protectedClient();
    const refused = await c.call('rollback');
    expect(refused.isError).toBe(true);
    const deployId = /frontendops approve (\S+) --stack/.exec(refused.text)?.[1] ?? '';
    expect(deployId).toMatch(/^2222222-[0-9a-f]{10}$/);
    expect((await live())?.commit).toBe(COMMITS[2]);

    const approved = await approveDeploy(f.t.site, { request: CLI_REQUEST, ref: deployId, by: 'Ada' });
    expect(approved.record.action).toBe('rollback');
    expect(approved.description).toMatch(`roll back ${STACK} to ${APP}@2222222`);

    const back = await c.call('rollback');
    expect(back.isError).toBe(false);
    expect(back.structured).toMatchObject({
      deployId,
      commit: COMMITS[1],
      outcome: 'succeeded',
      approvedBy: expect.stringMatching(/^Ada \(/),
      pinned: true,
    });
    // A rollback pins the stack; the tests below deploy again (unpinning needs no approval).
    expect((await c.call('unpin_release')).isError).toBe(false);
  });

  it('an expired or mismatched approval does not count; stale and foreign handles are not approved', async () => {
    const c = await protectedClient();
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    const handle = target.structured.handle as string;
    await approveDeploy(f.t.site, {
      request: CLI_REQUEST,
      ref: handle,
      by: 'Ada',
      now: () => Date.now() - 2 * 60 * 60_000,
    });
    const refused = await c.call('run_sync', { handle });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/APPROVAL_REQUIRED/);

    await expect(approveDeploy(f.t.site, { request: CLI_REQUEST, ref: 'fo1.bad', by: 'x' })).rejects.toThrow(
      /claims cannot be read|malformed/,
    );
    await expect(
      approveDeploy(f.t.site, { request: CLI_REQUEST, ref: 'deploy everything', by: 'x' }),
    ).rejects.toThrow(/neither a handle .* nor a deploy id/);
    const [prefix, body, mac] = handle.split('.');
    const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString());
    const foreign = `${prefix}.${Buffer.from(JSON.stringify({ ...claims, stack: 'other' })).toString('base64url')}.${mac}`;
    await expect(approveDeploy(f.t.site, { request: CLI_REQUEST, ref: foreign, by: 'x' })).rejects.toThrow(
      /for stack other, not dashboard-hosting-prod/,
    );
    const stale = `${prefix}.${Buffer.from(JSON.stringify({ ...claims, deployId: '0000000-0000000000' })).toString('base64url')}.${mac}`;
    await expect(approveDeploy(f.t.site, { request: CLI_REQUEST, ref: stale, by: 'x' })).rejects.toThrow(
      /plan is stale\. Nothing was approved/,
    );
    const liveId = (await live())?.deployId ?? '';
    await expect(approveDeploy(f.t.site, { request: CLI_REQUEST, ref: liveId, by: 'x' })).rejects.toThrow(
      /already happened/,
    );
  });

  it('an Approver given to the server (e.g. the console) is asked when the client cannot be', async () => {
    const requests: unknown[] = [];
    const server = f.server({
      config: f.config([STACK]),
      approver: {
        async approve(request) {
          requests.push(request);
          return { approved: true, by: 'console user', via: 'console' };
        },
      },
    });
    const c = await protectedClient({}, server);
    const { target, sync } = await syncAndInvalidate(c, COMMITS[0]);
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^console user \(/),
    });
    expect(requests).toEqual([{ action: 'deploy', stack: STACK, summary: target.structured.description }]);
  });

  it('an unprotected stack needs no approval: the client is never asked', async () => {
    let asked = 0;
    const c = await connectInfra(f.server(), {
      elicit: () => {
        asked++;
        return { action: 'decline' };
      },
    });
    clients.push(c);
    const target = await c.call('get_deploy_target', { commit: COMMITS[2] });
    expect(target.structured.approvalRequired).toBe(false);
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({ outcome: 'synced', approvedBy: null });
    expect(asked).toBe(0);
  });

  it('`frontendops approve <handle> --stack <outputs.json> --as <name>` (the command) records an approval', async () => {
    const outputs = await f.t.writeOutputs();
    const config = join(f.t.tmp, 'approve-config.json');
    await writeFile(config, JSON.stringify({ protected: [STACK] }));
    const c = await protectedClient();
    const { target, sync } = await syncAndInvalidate(c, COMMITS[1]);
    expect(sync.isError).toBe(true);
    const approved = await cli(
      ['approve', target.structured.handle as string, '--stack', outputs, '--as', 'Terminal User'],
      { env: { FRONTENDOPS_CONFIG: config, ...f.t.cliEnv() }, cwd: f.t.tmp },
    );
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(
      `Approved: ${target.structured.description} (deploy id ${target.structured.deployId}) by Terminal User`,
    );
    const retry = await c.call('run_sync', { handle: target.structured.handle });
    expect(retry.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Terminal User/),
    });
  });
});
