/**
 * A pin rewritten in the state bucket (who pinned, why) by whoever can write it, as the readers that
 * tell a pin before any lock would show it: the console's confirm dialog, `deploy --dry-run`'s note,
 * the agent's `get_deploy_target`. Each told the forged words as the pin's. Now each holds the pin to
 * the audit chain first and refuses one the chain does not bind, as the change itself would (TAMPERED).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createConsoleService } from '../../src/console/service.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { connectInfra, infraServerOn } from '../support/mcp-infra.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;
const request = (text: string): RequestInfo => ({
  text,
  actor: 'ada',
  planner: 'cli',
  at: new Date().toISOString(),
});

let t: TestDeployEnv;
let pinned: BucketSnapshot;
let stackFile: string;
const pinKey = () => `${t.target.statePrefix}pin.json`;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'pin-forged-readers' });
  await publishFixtureBuilds(t, APP, [V1, V2, V3]);
  await deployArtifact(t.site, { app: APP, commit: V1, request: request('ship v1') });
  await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2') });
  await pinRelease(t.site, { request: request('hold it') });
  stackFile = await t.writeOutputs();
  pinned = await snapshotBuckets([{ store: t.site.state, prefix: t.target.statePrefix }]);
}, 180_000);
beforeEach(async () => {
  await pinned.restore();
});
afterAll(() => t?.stop());

async function forgePin() {
  const object = await t.site.state.get(pinKey());
  if (!object) throw new Error('no pin');
  const pin = JSON.parse(object.body.toString('utf8'));
  await t.site.state.put(
    pinKey(),
    JSON.stringify({ ...pin, by: 'mallory', reason: 'the CTO froze releases' }),
    {
      contentType: 'application/json',
    },
  );
}

describe('a pin rewritten around the audit chain, as told before any lock', () => {
  it("the console's confirm dialog does not show it as the pin", async () => {
    const service = createConsoleService({
      config: await loadConfig(t.tmp, {}),
      stacks: [t.site.target.stack],
      openSite: async () => t.site,
    });
    const genuine = await service.plan(t.site.target.stack, 'promote', V3);
    expect(genuine.pin).toMatchObject({ by: 'ada' });
    await forgePin();
    const told = await service.plan(t.site.target.stack, 'promote', V3).then(
      (plan) => JSON.stringify(plan),
      (error: Error) => `${(error as { code?: string }).code}: ${error.message}`,
    );
    expect(told).not.toMatch(/mallory|CTO/);
    expect(told).toMatch(/^TAMPERED: .*pin\.json.*audit verify/);
  });

  it("deploy --dry-run's note does not name it", async () => {
    await forgePin();
    const run = await cli(['deploy', '--stack', stackFile, '--commit', V3, '--dry-run', '--no-tag'], {
      env: t.cliEnv(),
      cwd: t.tmp,
    });
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/mallory|CTO/);
    expect(run.stderr).toMatch(/pin\.json.*audit verify/);
  });

  it("the agent's get_deploy_target does not tell it", async () => {
    await forgePin();
    const client = await connectInfra(infraServerOn(t.site));
    try {
      const target = await client.call('get_deploy_target', { commit: V3 });
      expect(target.isError).toBe(true);
      expect(target.text).not.toMatch(/mallory|CTO/);
      expect(target.text).toMatch(/TAMPERED/);
    } finally {
      await client.close();
    }
  });
});
