/**
 * A running console reads the configuration file again at each request: a stack made protected in
 * it shows protected at once, and the audit badge is `audit verify` under the file as it is now; an
 * edited file that is not valid is refused in words on every request, the console staying up, and
 * once fixed it is used again.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalPolicyFor, configSchema, loadConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type { ApiError, AuditStatusView, StatusView } from '../../src/console/types.ts';
import { toAuditStatus } from '../../src/console/views.ts';
import { createInfraServer } from '../../src/mcp/infra/server.ts';
import { verifySite } from '../../src/read/verify-site.ts';
import { openSite } from '../../src/stacks/open.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { connectInfra } from '../support/mcp-infra.ts';

let t: TestDeployEnv;
let server: ConsoleServer;
let outputs: string;
const configFile = () => join(t.tmp, 'frontendops.config.json');
const writeConfig = (value: unknown) =>
  writeFile(configFile(), typeof value === 'string' ? value : JSON.stringify(value));

beforeAll(async () => {
  // Not a production name: nothing but the configuration protects it.
  t = await startDeployEnv({ stack: 'dashboard-staging' });
  outputs = await t.writeOutputs();
  // The stack's keys, as a console's environment holds them (test/support/cleanup.ts puts process.env back).
  Object.assign(process.env, t.cliEnv());
  await writeConfig({});
  server = await startConsole({
    config: await loadConfig(t.tmp, {}),
    loadConfig: () => loadConfig(t.tmp, {}),
    stacks: [outputs],
    cwd: t.tmp,
    uiDir: t.tmp,
  });
});
afterAll(async () => {
  await server?.close();
  await t?.stop();
});

const api = (resource: string) =>
  fetch(`${new URL(server.url).origin}/api/stacks/${encodeURIComponent(outputs)}/${resource}`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
async function getJson<T>(resource: string): Promise<T> {
  const res = await api(resource);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

describe('the console and an edited configuration', () => {
  it('shows a stack made protected in the file at once, and audits it as `audit verify` does now', async () => {
    expect((await getJson<StatusView>('status')).protected).toBe(false);
    await writeConfig({ protected: [t.target.stack] });
    expect((await getJson<StatusView>('status')).protected).toBe(true);
    const cli = await openSite(outputs, await loadConfig(t.tmp, {}), t.tmp);
    try {
      expect(cli.protected).toBe(true);
      expect(await getJson<AuditStatusView>('audit')).toEqual(toAuditStatus(await verifySite(cli, [])));
    } finally {
      cli.close();
    }
  });

  it('refuses an invalid edited file in words, on every request, and uses it again once fixed', async () => {
    await writeConfig('{ "protected": [');
    for (const resource of ['status', 'history', 'audit']) {
      const res = await api(resource);
      expect(res.status).toBe(400);
      const body = (await res.json()) as ApiError;
      expect(body.message).toMatch(/^The configuration was edited and cannot be used: .*is not valid JSON/);
      expect(body.message).toContain('until it is fixed');
    }
    await writeConfig({ protected: 'yes' });
    expect(((await (await api('status')).json()) as ApiError).message).toMatch(/protected/);
    await writeConfig({});
    expect((await getJson<StatusView>('status')).protected).toBe(false);
  });

  it("keeps the audit badge what `audit verify` says when the file stops accepting an approval's way", async () => {
    // A deploy approved by an MCP client's confirmation, which the configuration accepts then.
    const trusting = { protected: [t.target.stack], approval: { approvers: {}, trustElicitation: true } };
    await writeConfig(trusting);
    const config = configSchema.parse(trusting);
    const commit = '4444444ddddddddddddddddddddddddddddddddd';
    await publishFixtureBuilds(t, 'sophia-dashboard', [commit], { from: 4 });
    const c = await connectInfra(
      createInfraServer({
        config,
        defaultStack: t.target.stack,
        openSite: async () => ({
          ...t.site,
          protected: true,
          approval: approvalPolicyFor(config, t.target.stack),
        }),
      }),
      { elicit: () => ({ action: 'accept', content: { confirm: true, approver: 'Grace' } }) },
    );
    try {
      const target = await c.call('get_deploy_target', { commit });
      const sync = await c.call('run_sync', { handle: target.structured.handle });
      expect(sync.structured.outcome, sync.text).toBe('synced');
      await c.call('invalidate_cdn', { deployId: target.structured.deployId });
    } finally {
      await c.close();
    }
    expect((await getJson<AuditStatusView>('audit')).notes).toEqual([]);

    // The file stops trusting clients' confirmations: the badge says that approval is unchecked now,
    // as `audit verify` under the file says.
    await writeConfig({ protected: [t.target.stack] });
    const badge = await getJson<AuditStatusView>('audit');
    expect(badge.notes.join('\n')).toMatch(/an approval, was not checked/);
    const cli = await openSite(outputs, await loadConfig(t.tmp, {}), t.tmp);
    try {
      expect(badge).toEqual(toAuditStatus(await verifySite(cli, [])));
    } finally {
      cli.close();
    }
  });
});
