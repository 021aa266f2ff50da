/**
 * A whole audit chain copied from one stack's state prefix to another's, by whoever can write the
 * state bucket: each entry still hashes and links as written, so the chain verified, though every
 * entry names the stack it was written for. Now `audit verify` of the other stack reports it
 * tampered: entries of another stack.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { defaultStatePrefix } from '../../src/engine/target.ts';
import {
  publishFixtureBuilds,
  requestBy,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { cli, verifyReasons } from '../support/run-cli.ts';

const FROM = 'copied-from';
const TO = 'copied-to';
const TO_HOSTING = 'sophia-dashboard-hosting-copied-to';
const COMMIT = 'c0ffee10'.repeat(5);
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv({ stack: FROM }, { extraBuckets: [TO_HOSTING] });
  await publishFixtureBuilds(t, 'sophia-dashboard', [COMMIT], { from: 0 });
  await deployArtifact(t.site, { app: 'sophia-dashboard', commit: COMMIT, request: requestBy('ship it') });
});
afterAll(() => t?.stop());

const verify = async (stack: string, hostingBucket?: string) => {
  const outputs = await t.writeOutputs({ stack, ...(hostingBucket ? { hostingBucket } : {}) });
  const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1' };
  return verifyReasons(await cli(['audit', 'verify', '--stack', outputs, '--json'], { env, cwd: t.tmp }));
};

it("a chain copied whole from another stack's state prefix: tampered, entries of another stack", async () => {
  expect(await verify(FROM)).toEqual({ code: 0, reasons: [] });
  const to = defaultStatePrefix(TO);
  for (const { key } of await t.site.state.list(t.target.statePrefix)) {
    const object = await t.site.state.get(key);
    if (object) await t.site.state.put(`${to}${key.slice(t.target.statePrefix.length)}`, object.body);
  }
  const { code, reasons } = await verify(TO, TO_HOSTING);
  expect(code).toBe(1);
  expect(reasons).toContainEqual(
    expect.stringMatching(new RegExp(`^entries of another stack: .* name ${FROM};`)),
  );
});
