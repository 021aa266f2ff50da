import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../../src/deploy/deploy.ts';
import type { Site } from '../../../src/site.ts';
import { connectSite } from '../../../src/stacks/open.ts';
import type { RequestInfo } from '../../../src/state/records.ts';
import { HOSTING, STACK } from '../../support/deploy-env.ts';
import {
  APP,
  COMMITS,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
} from '../../support/mcp-infra.ts';

const STAGING = 'dashboard-hosting-staging';
const request: RequestInfo = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };

let f: InfraFixture;
let staging: Site;
const clients: InfraClient[] = [];
let clock = Date.parse('2026-11-25T09:00:00Z');
const secret = randomBytes(32);

beforeAll(async () => {
  f = await startInfraFixture();
  // A second stack name on the same endpoint: only handles are exchanged with it, nothing is deployed.
  // It names the same buckets and state location (a twin name of the environment): a state location
  // of its own for the same hosting bucket would have its marker refused (no entry there wrote it).
  staging = await connectSite(
    { ...f.t.target, stack: STAGING },
    { access: { credentials: f.t.s3.credentials, cdnEndpoint: f.t.cdn.endpoint } },
  );
  await deployArtifact(f.t.site, { app: APP, commit: COMMITS[0], request });
});
afterAll(async () => {
  for (const c of clients) await c.close();
  staging?.close();
  await f?.t.stop();
});

async function connect(options: { secret?: Buffer } = {}) {
  const server = f.server({
    secret: options.secret ?? secret,
    now: () => clock,
    openSite: async (name) => (name === STAGING ? staging : f.t.site),
  });
  const c = await connectInfra(server);
  clients.push(c);
  return c;
}

const liveDeployId = async () => (await f.t.site.records.readPointer())?.value.deployId;
const hostingIndex = async () => (await f.t.s3.store(HOSTING).get('index.html'))?.body.toString();

/** The handle with its claims changed and its signature kept. */
function tamper(handle: string, change: Record<string, unknown>): string {
  const [prefix, body, mac] = handle.split('.');
  const claims = { ...JSON.parse(Buffer.from(body ?? '', 'base64url').toString()), ...change };
  return `${prefix}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
}

describe('deploy-target handles', () => {
  it('reveal nothing sensitive: only stack, app, commit, deploy id, digest and expiry, signed', async () => {
    const c = await connect();
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const [, body] = (target.structured.handle as string).split('.');
    const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString());
    expect(Object.keys(claims).sort()).toEqual([
      'app',
      'artifactDigest',
      'commit',
      'deployId',
      'exp',
      'stack',
    ]);
    expect(claims).toMatchObject({ stack: STACK, app: APP, commit: COMMITS[1], exp: clock + 15 * 60_000 });
    expect(target.structured.handle).not.toContain(HOSTING);
  });

  it('a forged handle (claims altered, or signed by another server) is refused and nothing changes', async () => {
    const c = await connect();
    const live = await liveDeployId();
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const handle = target.structured.handle as string;

    const otherCommit = await c.call('run_sync', { handle: tamper(handle, { commit: COMMITS[2] }) });
    expect(otherCommit.isError).toBe(true);
    expect(otherCommit.text).toMatch(/BAD_INPUT: The handle is not one this server issued/);

    const longer = await c.call('run_sync', { handle: tamper(handle, { exp: clock + 86_400_000 }) });
    expect(longer.isError).toBe(true);
    expect(longer.text).toMatch(/not one this server issued/);

    const otherServer = await connect({ secret: randomBytes(32) });
    const foreign = await otherServer.call('run_sync', { handle });
    expect(foreign.isError).toBe(true);
    expect(foreign.text).toMatch(/not one this server issued/);

    expect(await liveDeployId()).toBe(live);
  });

  it('an expired handle is refused (injected clock) and nothing changes', async () => {
    const c = await connect();
    const live = await liveDeployId();
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    clock += 15 * 60_000 + 1;
    const late = await c.call('run_sync', { handle: target.structured.handle });
    expect(late.isError).toBe(true);
    expect(late.text).toMatch(/BAD_INPUT: The handle expired at .*get_deploy_target again/);
    expect(await liveDeployId()).toBe(live);
  });

  it('a handle of one stack cannot be used for another', async () => {
    const c = await connect();
    const live = await liveDeployId();
    const target = await c.call('get_deploy_target', { stack: STAGING, commit: COMMITS[1] });
    expect(target.structured.stack, target.text).toBe(STAGING);
    const handle = target.structured.handle as string;

    const named = await c.call('run_sync', { handle, stack: STACK });
    expect(named.isError).toBe(true);
    expect(named.text).toMatch(`This handle was issued for stack ${STAGING}, not ${STACK}`);

    const rewritten = await c.call('run_sync', { handle: tamper(handle, { stack: STACK }) });
    expect(rewritten.isError).toBe(true);
    expect(rewritten.text).toMatch(/not one this server issued/);

    // Nothing went live under either name (they share one state location).
    expect(await liveDeployId()).toBe(live);
    expect((await staging.records.readPointer())?.value.deployId).toBe(live);
  });

  it('a stale plan is refused: something else went live after get_deploy_target', async () => {
    const c = await connect();
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const other = await deployArtifact(f.t.site, { app: APP, commit: COMMITS[2], request });
    const index = await hostingIndex();

    const stale = await c.call('run_sync', { handle: target.structured.handle });
    expect(stale.isError).toBe(true);
    expect(stale.text).toMatch(
      /CONFLICT: The live release changed since this plan; ask for a new deploy target/,
    );
    expect(await liveDeployId()).toBe(other.deployId);
    expect(await hostingIndex()).toBe(index);

    // A fresh target works.
    const fresh = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const sync = await c.call('run_sync', { handle: fresh.structured.handle });
    expect(sync.structured).toMatchObject({ outcome: 'synced', deployId: fresh.structured.deployId });
  });

  it('a release that goes live while approval is pending is caught again under the lock', async () => {
    let raced: string | undefined;
    const server = f.server({
      // The console-like Approver counts here because this stack trusts its clients.
      config: f.config([STACK], { trustElicitation: true }),
      secret,
      now: () => clock,
      approver: {
        async approve() {
          // Someone else deploys while the human is deciding.
          raced = (await deployArtifact(f.t.site, { app: APP, commit: COMMITS[0], request })).deployId;
          return { approved: true, by: 'Ada', via: 'test' };
        },
      },
    });
    const c = await connectInfra(server);
    clients.push(c);
    const target = await c.call('get_deploy_target', { commit: COMMITS[2] });
    expect(target.structured.approvalRequired).toBe(true);
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.isError).toBe(true);
    expect(sync.text).toMatch(/CONFLICT: The live release changed since this plan/);
    expect(await liveDeployId()).toBe(raced);
    // What the racing deploy put there, not the approved plan's HTML.
    expect(await hostingIndex()).toBe(f.builds[0]?.files['/index.html']);
  });
});
