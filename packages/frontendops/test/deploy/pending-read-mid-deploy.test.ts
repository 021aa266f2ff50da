/**
 * A deploy moves the live pointer, then marks its crash-recovery record (pending.json) moved. A reader
 * holding no lock (status, what the console polls; a dry run) reads both at once, so while a deploy
 * runs it may get the pointer from before the switch and the record from after it: a record saying a
 * deploy went live that the pointer read never had. That is what a planted record says too
 * (live.ts checkPending refuses it, TAMPERED), but here nobody planted anything: the reading straddled
 * a switch. Said as a planted record, status showed no deploy under way but a record "not written by
 * FrontendOps" (exit 1), and the dry run refused, TAMPERED. A refusal now stands only if a second reading (the
 * record, then the pointer: the order opposite to their writes) is refused too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readStatus } from '../../src/read/status.ts';
import type { Site } from '../../src/site.ts';
import { requestBy, startShippedDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { readAcrossSwitch } from '../support/stopping-site.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

let t: TestDeployEnv;
/** The site as a reader sees it whose pointer read was served just before the deploy of v3 switched. */
let straddling: () => Site;

beforeAll(async () => {
  t = await startShippedDeployEnv({
    stack: 'pending-read-mid-deploy',
    app: APP,
    publish: [V1, V2, V3],
    ship: 2,
  });
  // The deploy of v3 caught between its pointer switch (and the record marked moved) and what follows.
  straddling = await readAcrossSwitch(
    t.site,
    { app: APP, commit: V3, request: requestBy('ship v3') },
    '/pending.json',
    /"pointerMoved":\s*true/,
  );
}, 180_000);
afterAll(() => t?.stop());

describe('a record and a pointer read across a running deploy’s switch', () => {
  it('status shows the deploy under way, not its record as planted', async () => {
    const status = await readStatus(straddling());
    expect(status.pending).toMatchObject({ commit: V3, pointerMoved: true });
    expect(status.recorded.note ?? '').not.toMatch(/crash-recovery record/);
  });

  it('the dry run is not refused as if the record were planted', async () => {
    const dry = await deployArtifact(straddling(), {
      app: APP,
      commit: V1,
      request: requestBy('back to v1'),
      dryRun: true,
    });
    expect(dry.dryRun).toBe(true);
  });
});
