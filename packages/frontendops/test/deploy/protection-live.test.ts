/**
 * Protection is read when a stack is opened, and a console or an MCP server keeps its stacks open
 * for as long as it runs. The attack: a long-running process opened the stack while it was not
 * protected; another operator's change (its configuration protects the stack) marks it protected;
 * the old process's next change used to go through with no approval at all. The marker is read
 * again under the deploy lock before the first write: such a change is refused, nothing changed,
 * and the process treats the stack as protected from then on (its next change asks for approval).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalPolicyFor, defaultConfig } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { readEnvironmentMarker } from '../../src/state/environment.ts';
import { type AtomicEnv, request as atomicRequest, startAtomicEnv } from '../support/atomic-env.ts';
import { APP, COMMITS, connectInfra, type InfraFixture, startInfraFixture } from '../support/mcp-infra.ts';

const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };

describe('a stack protected after a long-running process opened it (in place)', () => {
  let f: InfraFixture;
  let early: Site;
  let forServer: Site;
  const openAs = (isProtected: boolean) =>
    connectSite(f.t.target, {
      access: { credentials: f.t.s3.credentials, cdnEndpoint: f.t.cdn.endpoint },
      protected: isProtected,
      onNotice: () => undefined,
    });

  beforeAll(async () => {
    f = await startInfraFixture();
    // Both opened before anything is protected, as a console or an MCP server started earlier.
    early = await openAs(false);
    forServer = await openAs(false);
    await deployArtifact(early, { app: APP, commit: COMMITS[0], request });
    // Another operator, whose configuration protects the stack, makes a change: the marker says so.
    const guarded = await openAs(true);
    await deployArtifact(guarded, { app: APP, commit: COMMITS[1], request });
    guarded.close();
    expect((await readEnvironmentMarker(f.t.site.hosting))?.protected).toBe(true);
  });
  afterAll(async () => {
    early?.close();
    forServer?.close();
    await f?.t.stop();
  });

  it('its next change is refused before anything is written, and it knows the stack is protected', async () => {
    const before = await f.t.site.records.readPointer();
    await expect(deployArtifact(early, { app: APP, commit: COMMITS[2], request })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(
        /dashboard-hosting-prod is protected now.*Nothing was changed.*approval/s,
      ),
    });
    expect((await f.t.site.records.readPointer())?.etag).toBe(before?.etag);
    expect(early.protected).toBe(true);
    expect(await verifyAudit(f.t.site.state, f.t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('through the infra server: refused, then the same change needs an approval', async () => {
    const config = defaultConfig();
    const server = createInfraServer({
      config,
      defaultStack: f.t.site.target.stack,
      openSite: async () =>
        Object.assign(forServer, { approval: approvalPolicyFor(config, f.t.site.target.stack) }),
    });
    const c = await connectInfra(server);
    try {
      const before = await f.t.site.records.readPointer();
      const target = await c.call('get_deploy_target', { app: APP, commit: COMMITS[2] });
      const first = await c.call('run_sync', { handle: target.structured.handle });
      expect(first.isError).toBe(true);
      expect(first.text).toMatch(/CONFLICT.*protected now.*Nothing was changed/s);
      const again = await c.call('get_deploy_target', { app: APP, commit: COMMITS[2] });
      const second = await c.call('run_sync', { handle: again.structured.handle });
      expect(second.isError).toBe(true);
      expect(second.text).toMatch(/APPROVAL_REQUIRED/);
      expect((await f.t.site.records.readPointer())?.etag).toBe(before?.etag);
    } finally {
      await c.close();
    }
  });
});

describe('a stack protected after a long-running process opened it (atomic)', () => {
  let t: AtomicEnv;
  const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'];
  beforeAll(async () => {
    t = await startAtomicEnv();
    await t.publishVersions([V1, V2, V3]);
  });
  afterAll(() => t?.stop());

  it('a canary or a deploy from the old view is refused, nothing changed', async () => {
    await deployArtifact(t.site, { app: 'sophia-dashboard', commit: V1, request: atomicRequest() });
    const guarded = await t.open({ protected: true });
    await deployArtifact(guarded, { app: 'sophia-dashboard', commit: V2, request: atomicRequest() });
    const before = await t.store().read();
    await expect(
      deployArtifact(t.site, { app: 'sophia-dashboard', commit: V3, request: atomicRequest() }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await t.store().read()).etag).toBe(before.etag);
    expect(t.site.protected).toBe(true);
  });
});
