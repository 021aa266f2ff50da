/**
 * The live release's index (atomic/releases/<id>.json), edited by the deployer role while a canary
 * runs: its index.html digest changed. A canary abort verifies the edge against that digest once it
 * switched everyone to the live release; before, it read the index unchecked, so the edit decided
 * whether the abort verified (a page put in the hosting bucket to match would pass as the release's
 * own; the genuine page failed, and the abort was recorded failed). Now the index it reads is held
 * to the chain's binding as a switch's is: TAMPERED, nothing written, the canary still running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { refusal } from '../support/refusal.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

describe('atomic: the live release index edited before a canary abort', () => {
  let t: AtomicEnv;
  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'edited-abort-index' });
    await t.publish(V1, 'v1');
    await t.publish(V2, 'v2');
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    await startCanary(t.site, { app: APP, commit: V2, weightPercent: 30, request: request() });
  }, 180_000);
  afterAll(() => t?.stop());

  it('verify reports the index; the abort refuses TAMPERED and leaves the canary running', async () => {
    const prefix = t.target.statePrefix;
    const pointer = (await t.store().read()).value;
    const live = pointer?.live as string;
    expect(pointer?.canary).toBeDefined();
    const name = `${prefix}atomic/releases/${live}.json`;
    const index = JSON.parse((await t.site.state.get(name))?.body.toString('utf8') ?? '{}');
    await t.site.state.put(name, JSON.stringify({ ...index, indexSha256: 'f'.repeat(64) }), {
      contentType: 'application/json',
    });
    expect((await verifyAudit(t.site.state, prefix)).problems).toContainEqual(
      expect.objectContaining({ kind: 'tampered', object: `atomic/releases/${live}.json` }),
    );
    const head = (await readAudit(t.site.state, prefix)).length;
    const error = await refusal(abortCanary(t.site, { request: request('abort'), verifyTimeoutMs: 1000 }));
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toContain(`put back the version of ${name} the audit log records`);
    expect((await t.store().read()).value).toEqual(pointer);
    expect(await readAudit(t.site.state, prefix)).toHaveLength(head);

    // Put back, the abort goes through and verifies.
    await t.site.state.put(name, JSON.stringify(index), { contentType: 'application/json' });
    const summary = await abortCanary(t.site, { request: request('abort') });
    expect(summary.verification?.ok).toBe(true);
  });
});
