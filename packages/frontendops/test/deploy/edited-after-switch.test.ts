/**
 * An operation genuinely stopped after its switch (the CDN serves it; its crash-recovery record
 * says what atomic/state.json its switch wrote), and atomic/state.json then edited by the deployer
 * role: a preview dropped (the next prune would delete the release its link shows), or a retiring
 * release the chain knows about added. The record's switch is served, but the edit is not what that
 * switch wrote: verify says tampered, and the next change refuses it rather than act on it and bind it.
 *
 * Stopped at two places: after its record was marked switched, and between its state write and that
 * mark. For the second, the record names the state its switch writes before it writes it; before
 * that, verify called the edit unfinished and the next change carried it into the state it binds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import { readAudit, stateDigest, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startDeployedAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { refusal } from '../support/refusal.ts';
import { type StoppedAtomic, stoppedAtomic, stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3, V4] = [
  'a1a1a1a1a1a1a1a1a1a1',
  'b2b2b2b2b2b2b2b2b2b2',
  'c3c3c3c3c3c3c3c3c3c3',
  'd4d4d4d4d4d4d4d4d4d4',
] as const;

/** Where the deploy stops: at its deployment record (marked switched), or at live.json (not yet). */
const STOPS = [
  {
    at: 'after its record was marked switched',
    stack: 'edited-after-switch',
    marked: true,
    key: /\/deployments\/[^/]+\.json$/,
  },
  {
    at: 'before its record was marked switched',
    stack: 'edited-before-mark',
    marked: false,
    key: /\/live\.json$/,
  },
] as const;

describe.each(STOPS)(
  'atomic: atomic/state.json edited after a switch stopped $at',
  ({ stack, marked, key: stopKey }) => {
    let t: AtomicEnv;
    const prefix = () => t.target.statePrefix;
    const stateKey = () => `${prefix()}atomic/state.json`;
    let stopped: AtomicPending;
    let written: string;
    let putState: StoppedAtomic['putState'];
    /** The stack as the stopped deploy left it: each case starts there (the last finishes it). */
    let stoppedHere: AtomicSnapshot;

    beforeAll(async () => {
      t = await startDeployedAtomicEnv({ stack }, [V1, V2, V3, V4], 2);
      await previewLink(t.site, { app: APP, commit: V4, request: request('preview v4') });
      // A deploy of V3 stopped after its switch wrote atomic/state.json.
      const stopping = stoppingSite(t.site, (key) => stopKey.test(key));
      ({ stopped, written, putState } = await stoppedAtomic(
        t,
        deployArtifact(stopping, { app: APP, commit: V3, request: request() }),
      ));
      expect(stopped.switched).toBe(marked);
      expect(JSON.parse(written).previews).toHaveLength(1);
      stoppedHere = await snapshotAtomicEnv(t);
    }, 180_000);
    afterAll(() => t?.stop());
    beforeEach(() => stoppedHere.restore());

    it('the record names the state its switch wrote', () => {
      expect(stopped.stateDigest).toBe(stateDigest(JSON.parse(written)));
    });

    const edits: [string, (state: Record<string, unknown[]>) => Record<string, unknown>][] = [
      ['its preview dropped', (state) => ({ ...state, previews: [] })],
      [
        'a retiring release the chain knows about added',
        (state) => ({
          ...state,
          retiring: [
            ...(state.retiring ?? []),
            {
              releases: [
                { releaseId: stopped.plan.pointerBefore?.live, app: APP, commit: V2, artifactDigest: '' },
              ],
              root: false,
              until: '2099-01-01T00:00:00.000Z',
              by: 'deploy:b2b2b2b-0000000000:x:',
            },
          ],
        }),
      ],
    ];
    for (const [what, edit] of edits) {
      it(`${what}: verify says tampered, the next change refuses TAMPERED`, async () => {
        await putState(edit(JSON.parse(written)));
        const verdict = await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases });
        expect(verdict.problems).toContainEqual(
          expect.objectContaining({ kind: 'tampered', object: 'atomic/state.json' }),
        );
        const head = (await readAudit(t.site.state, prefix())).length;
        const error = await refusal(deployArtifact(t.site, { app: APP, commit: V3, request: request() }));
        expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
        // It names the object's key and the version to put back: the one the stopped switch wrote, once
        // its record says it switched; before, the one the audit log records (the next change then
        // writes the switch's state again).
        if (marked) {
          expect(error.message).toContain(`${prefix()}atomic/state.json the stopped switch wrote`);
          expect(error.message).toContain(`is ${stopped.stateDigest}`);
        } else {
          expect(error.message).toContain(`${prefix()}atomic/state.json the audit log records`);
        }
        expect(error.message).toMatch(/the state bucket keeps its versions/);
        expect(await readAudit(t.site.state, prefix())).toHaveLength(head);
      });
    }

    it('as its switch wrote it, the next change finishes the stopped deploy with that state', async () => {
      await deployArtifact(t.site, { app: APP, commit: V3, request: request() });
      expect((await t.site.records.readRecord(stopped.plan.deployId))?.outcome).toBe('succeeded');
      expect(JSON.parse((await t.site.state.get(stateKey()))?.body.toString('utf8') ?? 'null')).toEqual(
        JSON.parse(written),
      );
      expect((await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases })).problems).toEqual(
        [],
      );
    });
  },
);
