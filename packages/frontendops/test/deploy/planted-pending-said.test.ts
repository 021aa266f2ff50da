/**
 * The in-place crash-recovery record (pending.json) is bound by no entry: the deployer role can plant
 * one saying a deploy went live (`pointerMoved`) that never did. The next change holds it to what
 * FrontendOps writes (live.ts checkPending) and refuses it, TAMPERED, nothing changed
 * (forged-pending.test.ts). What is said before that change must not tell the record's story as true:
 * - its dry run (`deploy --dry-run`, get_deploy_target, what `approve` shows) said the run would first
 *   finish that deploy, "stopped after it went live", and asked to go ahead with a run that is refused;
 * - `status` said an interrupted deploy of that build "went live and is not recorded yet; the next
 *   deploy … finishes it", exit 0.
 * Now both say the refusal the change makes: the dry run refuses as the run does, and status shows no
 * interrupted change of it, says the record is refused (changed outside), and the CLI exits 1.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readStatus } from '../../src/read/status.ts';
import { readAudit } from '../../src/state/audit.ts';
import type { LivePointer } from '../../src/state/records.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { requestBy, startShippedDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { stateObjects } from '../support/planted.ts';
import { cli } from '../support/run-cli.ts';
import { stoppedAtEntryAfter } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

let t: TestDeployEnv;
let deployed: BucketSnapshot;
let stackFile: string;
let planted: { plan: { deployId: string } };
const { read, write } = stateObjects(() => t);

beforeAll(async () => {
  t = await startShippedDeployEnv({
    stack: 'planted-pending-said',
    app: APP,
    publish: [V1, V2, V3],
    ship: 2,
  });
  stackFile = await t.writeOutputs();
  deployed = await snapshotBuckets([
    { store: t.site.state, prefix: t.target.statePrefix },
    { store: t.site.hosting, prefix: '' },
  ]);
  // A genuine record of a deploy of v3 (published by CI, never approved here), taken from a run
  // stopped before its pointer moved, then planted as having gone live.
  const stopped = stoppedAtEntryAfter(t.site, (k) => k.endsWith('/live.json'));
  await expect(
    deployArtifact(stopped, { app: APP, commit: V3, request: requestBy('ship v3') }),
  ).rejects.toThrow(/stopped/);
  planted = { ...(await read<{ plan: { deployId: string } }>('pending.json')), pointerMoved: true } as never;
}, 180_000);
beforeEach(async () => {
  await deployed.restore();
  await write('pending.json', planted);
});
afterAll(() => t?.stop());

describe('a crash-recovery record planted as a deploy that went live', () => {
  it('the change refuses it (TAMPERED); its dry run says that refusal, not that it finishes it first', async () => {
    const pointer = await read<LivePointer>('live.json');
    expect(pointer.commit).toBe(V2);
    const entries = (await readAudit(t.site.state, t.target.statePrefix)).length;
    const run = await deployArtifact(t.site, {
      app: APP,
      commit: V1,
      request: requestBy('back to v1'),
    }).catch((e: unknown) => e as Error);
    expect(run).toMatchObject({ code: 'TAMPERED' });
    const dry = await deployArtifact(t.site, {
      app: APP,
      commit: V1,
      request: requestBy('back to v1'),
      dryRun: true,
    }).catch((e: unknown) => e as Error);
    expect(dry).toMatchObject({ code: 'TAMPERED', message: (run as Error).message });
    expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(entries);
    expect((await read<LivePointer>('live.json')).commit).toBe(V2);
  });

  it('status shows no interrupted deploy of it, says the record is refused, and the CLI exits 1', async () => {
    const status = await readStatus(t.site);
    expect(status.live?.commit).toBe(V2);
    expect(status.pending).toBeNull();
    expect(status.recorded.state).toBe('changed-outside');
    expect(status.recorded.note).toContain('pending.json');
    expect(status.recorded.note).toContain('never had live');
    const shown = await cli(['status', '--stack', stackFile], { env: t.cliEnv(), cwd: t.tmp });
    expect(shown.code).toBe(1);
    expect(shown.stdout).not.toMatch(/went live and is not recorded yet/);
    expect(shown.stdout).toContain(planted.plan.deployId);
  });
});
