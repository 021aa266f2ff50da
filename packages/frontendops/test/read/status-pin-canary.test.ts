/**
 * `status` (get_status, the console's card) against the audit log for the pin and, on an atomic
 * stack, the canary and previews: `pin.json` and `atomic/state.json` are the deployer role's to write
 * around the chain. A pin rewritten to name another person and reason, a pin planted where nobody
 * pinned, or a canary rewritten to name another requester, was shown as who pinned or started it.
 * Now status holds both objects to the newest entry's bindings; one `audit verify` calls tampered is
 * said (NOT AS RECORDED, exit 1) and its words are not shown.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import { readStatus } from '../../src/read/status.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { APP as ATOMIC_APP, type AtomicEnv, startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { requestBy, startShippedDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { stateObjects } from '../support/planted.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

/** The fields of atomic/state.json these cases rewrite. */
type AtomicStateFile = { canary: { request: RequestInfo; commit: string } };

let t: TestDeployEnv;
let deployed: BucketSnapshot;
let pinned: BucketSnapshot;
let genuinePin: Record<string, unknown>;
let stackFile: string;
const { read, write } = stateObjects(() => t);

beforeAll(async () => {
  t = await startShippedDeployEnv({ stack: 'status-pin-canary', app: APP, publish: [V1, V2], ship: 2 });
  stackFile = await t.writeOutputs();
  deployed = await snapshotBuckets([{ store: t.site.state, prefix: t.target.statePrefix }]);
  await pinRelease(t.site, { request: requestBy('hold it') });
  genuinePin = await read('pin.json');
  pinned = await snapshotBuckets([{ store: t.site.state, prefix: t.target.statePrefix }]);
}, 180_000);
beforeEach(async () => {
  await pinned.restore();
});
afterAll(() => t?.stop());

const statusCli = () => cli(['status', '--stack', stackFile], { env: t.cliEnv(), cwd: t.tmp });

describe('status holds the pin and the canary to the audit log', () => {
  it('as recorded: the pin and who pinned', async () => {
    const status = await readStatus(t.site);
    expect(status.recorded).toEqual({ state: 'as-recorded', note: null });
    expect(status.pin).toMatchObject({ by: 'ada' });
    const run = await statusCli();
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('PINNED');
  });

  it('a pin rewritten with another person and reason: not shown, said (exit 1)', async () => {
    await write('pin.json', { ...genuinePin, by: 'mallory', reason: 'the CTO froze releases' });
    const status = await readStatus(t.site);
    expect(JSON.stringify(status.pin)).not.toContain('mallory');
    expect(status.recorded.state).toBe('changed-outside');
    expect(status.recorded.note).toContain('pin.json');
    const run = await statusCli();
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain('mallory');
    expect(run.stdout).toContain('NOT AS RECORDED');
  });

  it('a pin planted where nobody pinned: not shown as a pin, said (exit 1)', async () => {
    await deployed.restore();
    await write('pin.json', { ...genuinePin, by: 'mallory', reason: 'frozen' });
    const status = await readStatus(t.site);
    expect(status.pin).toBeNull();
    expect(status.recorded.state).toBe('changed-outside');
    const run = await statusCli();
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain('PINNED');
  });
});

/** An atomic stack with v1 live and v2 on a 10% canary ada started: `run` on it, then it is stopped. */
async function withCanary(stack: string, run: (a: AtomicEnv) => Promise<void>): Promise<void> {
  const a = await startDeployedAtomicEnv({ stack }, [V1, V2, V3], 1);
  try {
    await startCanary(a.site, {
      app: ATOMIC_APP,
      commit: V2,
      weightPercent: 10,
      request: requestBy('10% first'),
    });
    await run(a);
  } finally {
    await a.stop();
  }
}

/** atomic/state.json's canary changed by `change`, written back as the deployer role can, around the chain. */
async function rewriteCanary(a: AtomicEnv, change: (canary: AtomicStateFile['canary']) => void) {
  const state = stateObjects(() => a);
  const stored = await state.read<AtomicStateFile>('atomic/state.json');
  change(stored.canary);
  await state.write('atomic/state.json', stored);
}

describe('on an atomic stack', () => {
  it('a canary rewritten with another requester: not shown as theirs, said', () =>
    withCanary('status-canary-forged', async (a) => {
      const as = await readStatus(a.site);
      expect(as.canary?.by).toBe('ada');
      await rewriteCanary(a, (canary) => {
        canary.request = { ...canary.request, actor: 'mallory' };
      });
      const status = await readStatus(a.site);
      expect(status.canary?.by).not.toBe('mallory');
      expect(status.recorded.state).toBe('changed-outside');
      expect(status.recorded.note).toContain('atomic/state.json');
    }));

  it("a canary relabelled with another build: what the CDN serves is not named by the forged state's words", () =>
    withCanary('status-canary-relabelled', async (a) => {
      expect((await readStatus(a.site)).served?.canary?.commit).toBe(V2);
      // The same release id, said to be another build: the CDN's store still matches it.
      await rewriteCanary(a, (canary) => {
        canary.commit = V3;
      });
      const status = await readStatus(a.site);
      expect(status.recorded.state).toBe('changed-outside');
      expect(JSON.stringify(status.served)).not.toContain(V3.slice(0, 7));
      expect(status.served?.state).not.toBe('as-recorded');
      // The release the CDN serves is named as its bound release index says.
      expect(status.served?.canary?.commit).toBe(V2);
    }));
});
