/**
 * A state object the audit chain never bound, there anyway: an atomic/state.json under an in-place
 * stack's prefix (stale, or written by hand by someone who can write the state prefix) holding a
 * canary. `audit verify` reported it as written around the chain, but a change read only objects the
 * chain had bound at least once: `migrate --to atomic` carried the canary into the chain, after
 * which verify passed while the state said a canary ran that the CDN's store did not have.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { migrateToAtomic } from '../../src/deploy/migrate.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';

const V = ['0a0a0a0a0a0a0a0a', '0b0b0b0b0b0b0b0b'] as const;
let t: AtomicEnv;

beforeAll(async () => {
  t = await startAtomicEnv({ propagationMs: 0, stack: 'unbound-state' });
  await t.publishVersions(V);
});
afterAll(() => t?.stop());

it('an atomic state the chain never bound stops the next change (TAMPERED), nothing written; removed, it goes', async () => {
  const inPlace = await t.open({ inPlace: true });
  await deployArtifact(inPlace, { app: APP, commit: V[0], request: request() });
  await deployArtifact(inPlace, { app: APP, commit: V[1], request: request() });
  const key = `${t.target.statePrefix}atomic/state.json`;
  const forged = {
    canary: {
      deployId: '0a0a0a0-0000000000',
      releaseId: '0a0a0a0-r000000000000',
      app: APP,
      commit: V[0],
      weight: 50,
    },
    previews: [],
    retiring: [],
  };
  await t.site.state.put(key, JSON.stringify(forged));
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([
    expect.objectContaining({ kind: 'tampered', object: 'atomic/state.json' }),
  ]);
  const mark = await t.mark();

  const migrate = migrateToAtomic(t.site, { request: request('migrate') });
  await expect(migrate).rejects.toMatchObject({ code: 'TAMPERED' });
  await expect(migrate).rejects.toThrow(/atomic\/state\.json of unbound-state changed outside FrontendOps/);
  const writes = (await t.requestsSince(mark)).filter((r) => !['GET', 'HEAD'].includes(r.method));
  expect(writes.filter((r) => !/lock/.test(r.key ?? '')).map((r) => `${r.method} ${r.key}`)).toEqual([]);
  expect((await t.store().read()).value).toBeNull();

  // The object removed (put back as the chain has it: absent), the migration goes through.
  await t.site.state.delete([key]);
  const moved = await migrateToAtomic(t.site, { request: request('migrate') });
  expect(moved.outcome).toBe('succeeded');
  expect((await t.store().read()).value).not.toHaveProperty('canary');
  expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
});
