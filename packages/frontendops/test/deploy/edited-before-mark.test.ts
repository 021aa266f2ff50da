/**
 * An operation genuinely stopped after its switch wrote atomic/state.json and before its
 * crash-recovery record was marked switched (the CDN serves it), then atomic/state.json edited by the
 * deployer role: a preview dropped (the next prune would delete the release its link shows), or a
 * retiring release the chain knows about added. The record says which state its switch writes before
 * it writes it: the edit is not that, so verify says tampered and the next change refuses it rather
 * than carry it into the state it writes and binds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import { readAudit, stateDigest, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { refusal } from '../support/refusal.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3, V4] = [
  'a1a1a1a1a1a1a1a1a1a1',
  'b2b2b2b2b2b2b2b2b2b2',
  'c3c3c3c3c3c3c3c3c3c3',
  'd4d4d4d4d4d4d4d4d4d4',
] as const;

describe('atomic: atomic/state.json edited after a switch stopped before its record was marked', () => {
  let t: AtomicEnv;
  const prefix = () => t.target.statePrefix;
  const stateKey = () => `${prefix()}atomic/state.json`;
  let stopped: AtomicPending;
  let written: string;

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'edited-before-mark' });
    for (const [i, commit] of [V1, V2, V3, V4].entries()) await t.publish(commit, `v${i + 1}`);
    for (const commit of [V1, V2]) await deployArtifact(t.site, { app: APP, commit, request: request() });
    await previewLink(t.site, { app: APP, commit: V4, request: request('preview v4') });
    // A deploy of V3 stopped after its switch wrote atomic/state.json, at its write of live.json.
    const stopping = stoppingSite(t.site, (key) => key === `${prefix()}live.json`);
    await expect(deployArtifact(stopping, { app: APP, commit: V3, request: request() })).rejects.toThrow(
      /stopped/,
    );
    stopped = JSON.parse(
      (await t.site.state.get(`${prefix()}atomic/pending.json`))?.body.toString('utf8') ?? 'null',
    ) as AtomicPending;
    expect(stopped.switched).toBe(false);
    written = (await t.site.state.get(stateKey()))?.body.toString('utf8') ?? '';
    expect(JSON.parse(written).previews).toHaveLength(1);
    const verdict = await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases });
    expect(verdict.problems.map((p) => p.kind)).not.toContain('tampered');
  }, 180_000);
  afterAll(() => t?.stop());
  beforeEach(async () => {
    await t.site.state.put(stateKey(), written, { contentType: 'application/json' });
  });

  it('the record names the state its switch writes, before it is marked switched', () => {
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
      await t.site.state.put(stateKey(), JSON.stringify(edit(JSON.parse(written))), {
        contentType: 'application/json',
      });
      const verdict = await verifyAudit(t.site.state, prefix(), { releaseStore: t.site.releases });
      expect(verdict.problems).toContainEqual(
        expect.objectContaining({ kind: 'tampered', object: 'atomic/state.json' }),
      );
      const head = (await readAudit(t.site.state, prefix())).length;
      const error = await refusal(deployArtifact(t.site, { app: APP, commit: V3, request: request() }));
      expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
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
});
