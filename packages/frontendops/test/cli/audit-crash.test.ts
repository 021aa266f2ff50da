/**
 * kill -9 between an audit entry and the head that names it, where writes are conditional (as on S3,
 * MinIO and R2: the proxy in front of the embedded server honours them). The process that wrote entry
 * n+1 dies before moving the head; the next deploy finishes that append, keeps the entry, and lands.
 * Before, every later append of the stack was refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { startCli } from '../support/cli.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { type DeployProxy, startDeployProxy } from '../support/deploy-proxy.ts';
import { cli } from '../support/run-cli.ts';
import type { S3Proxy } from '../support/s3-proxy.ts';

const APP = 'sophia-dashboard';
const COMMITS = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
const STACK = 'dashboard-staging';
let t: TestDeployEnv;
let proxied: DeployProxy;
let proxy: S3Proxy;
let outputs: string;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startDeployEnv({ stack: STACK });
  proxied = await startDeployProxy(t, { conditional: true });
  proxy = proxied.proxy;
  outputs = await proxied.writeOutputs('staging', { cdn: true });
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'crash-test' };
  await publishFixtureBuilds(t, APP, COMMITS, { from: 0 });
});
afterAll(async () => {
  await proxied.close();
  await t.stop();
});

const deploy = (commit: string) =>
  cli(['deploy', '--stack', outputs, '--commit', commit, '--json', '--wait', '10'], { env, cwd: t.tmp });

describe('an audit append killed between its two writes, where writes are conditional', () => {
  it('the next deploy finishes it: the entry the killed process wrote stays, the chain verifies', async () => {
    const first = await deploy(COMMITS[0]);
    expect(first.code, first.stderr).toBe(0);
    const { state } = t.site;
    const prefix = t.target.statePrefix;
    const headBefore = (await readAudit(state, prefix)).length;

    // The second deploy's first audit append has written its entry; its head write never arrives.
    const held = proxy.hold((r) => r.method === 'PUT' && r.key === `${prefix}audit/head.json`);
    const crashing = startCli(['deploy', '--stack', outputs, '--commit', COMMITS[1], '--json'], env, t.tmp);
    try {
      await Promise.race([
        held.reached,
        crashing.done.then((r) => {
          throw new Error(`the deploy ended before its head write: ${r.stderr}`);
        }),
      ]);
      crashing.child.kill('SIGKILL');
      expect((await crashing.done).signal).toBe('SIGKILL');
    } finally {
      held.drop();
    }
    const left = await readAudit(state, prefix);
    expect(left).toHaveLength(headBefore + 1);
    const orphan = left.at(-1);
    expect((await verifyAudit(state, prefix)).problems).toContainEqual(
      expect.objectContaining({ kind: 'unfinished', seq: headBefore + 1 }),
    );

    const again = await deploy(COMMITS[1]);
    expect(again.code, again.stderr).toBe(0);
    // The re-run finishes the interrupted deploy (its summary then finds nothing left to do).
    expect((await t.site.records.readPointer())?.value.commit).toBe(COMMITS[1]);
    expect(await t.site.records.readPending()).toBeNull();
    const records = (await t.site.records.listRecords()).records;
    expect(records.filter((r) => r.commit === COMMITS[1]).map((r) => r.outcome)).toEqual(['succeeded']);
    const after = await readAudit(state, prefix);
    expect(after[headBefore]).toEqual(orphan);
    expect(await verifyAudit(state, prefix)).toMatchObject({ ok: true, problems: [] });
  });
});
