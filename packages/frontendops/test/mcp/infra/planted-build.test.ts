/**
 * The agent's way to deploy, through the infra MCP server: a build put in the artifacts bucket with no
 * entry in the publish log (test/deploy/planted-build.test.ts has the CLI's) is neither planned nor
 * handed out for run_sync. Before, get_deploy_target planned it like any published build and the
 * agent's run_sync made it live.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishArtifact } from '../../../src/deploy/publish.ts';
import { writeFixtureBuild } from '../../support/fixture-build.ts';
import {
  APP,
  COMMITS,
  deployThroughTools,
  type InfraClient,
  type InfraFixture,
  startConnectedInfra,
  stopConnectedInfra,
} from '../../support/mcp-infra.ts';

const PLANTED = '4444444ddddddddddddddddddddddddddddddddd';
let f: InfraFixture;
let c: InfraClient;

beforeAll(async () => {
  ({ f, c } = await startConnectedInfra());
  await deployThroughTools(c, COMMITS[0]);
  const build = await writeFixtureBuild(join(f.t.tmp, 'planted'), { version: 'planted' });
  await publishArtifact(f.t.site.artifacts, { dir: build.dir, app: APP, commit: PLANTED });
});
afterAll(() => stopConnectedInfra(f, c));

describe('a build no publish log recorded, asked for through the infra server', () => {
  it('get_deploy_target and plan_deploy refuse it, and nothing is written', async () => {
    const before = (await f.t.site.state.list(f.t.target.statePrefix))
      .map((o) => `${o.key} ${o.etag}`)
      .sort();
    for (const tool of ['get_deploy_target', 'plan_deploy']) {
      const refused = await c.call(tool, { commit: PLANTED });
      expect(refused.isError, refused.text).toBe(true);
      expect(refused.text).toMatch(
        new RegExp(`${APP}@${PLANTED.slice(0, 7)} in the artifacts bucket is not recorded`),
      );
      expect(refused.structured?.handle).toBeUndefined();
    }
    const after = (await f.t.site.state.list(f.t.target.statePrefix)).map((o) => `${o.key} ${o.etag}`).sort();
    expect(after).toEqual(before);
    expect((await f.t.site.records.readPointer())?.value.commit).toBe(COMMITS[0]);
  });

  it('a build the log recorded is still handed out and deployed', async () => {
    expect(await deployThroughTools(c, COMMITS[1])).toMatch(/\S/);
    expect((await f.t.site.records.readPointer())?.value.commit).toBe(COMMITS[1]);
  });
});
