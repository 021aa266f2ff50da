/**
 * Words the audit cannot record (half of a UTF-16 surrogate pair, which JSON carries as "\ud800" and
 * an MCP client can send as who asked) stop an atomic operation before its first write. Before, an
 * atomic rollback wrote its pending plan holding them, switched the site, and then failed to record
 * it: the site had changed with no entry (verify: tampered), the answer said nothing had changed, and
 * every later deploy of the stack failed on that plan until it was deleted by hand. An approval
 * request holding them was written before it was found out, and then recorded by no entry.
 */
import { describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { openApprovalRequest } from '../../src/state/approvals.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const unrecordable = () => ({ ...request('roll back'), actor: 'Eve\ud800' });

const env = deployedAtomicEnvFor({ stack: 'atomic-unrecordable' }, [V1, V2, V3], 2);

describe('an atomic operation asked for in words the audit cannot record', () => {
  it('is refused before its first write: store, state and chain as they were; the next one runs', async () => {
    const t = env();
    const pointer = await t.store().read();
    const mark = await t.mark();
    for (const attempt of [
      () => rollbackRelease(t.site, { request: unrecordable() }),
      () => deployArtifact(t.site, { app: APP, commit: V3, request: unrecordable() }),
      () => startCanary(t.site, { app: APP, commit: V3, weightPercent: 10, request: unrecordable() }),
    ]) {
      const refused = attempt();
      await expect(refused).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(refused).rejects.toThrow(/cannot be recorded.*Nothing was written/);
    }
    const writes = (await t.requestsSince(mark)).filter((r) => !['GET', 'HEAD'].includes(r.method));
    expect(writes.map((r) => `${r.method} ${r.key}`)).toEqual([]);
    expect((await t.store().read()).value).toEqual(pointer.value);
    expect((await t.site.records.readPointer())?.value.commit).toBe(V2);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);

    const next = await rollbackRelease(t.site, { request: request('roll back') });
    expect(next).toMatchObject({ commit: V1, outcome: 'succeeded' });
  });

  it('nor is an approval request for it written', async () => {
    const t = env();
    const mark = await t.mark();
    const asked = openApprovalRequest(t.site, {
      action: 'deploy',
      deployId: 'c3c3c3c-0123456789',
      summary: 'deploy v3',
      app: APP,
      commit: V3,
      change: `sha256:${'c'.repeat(64)}`,
      requestedBy: 'Eve\ud800',
      now: Date.now(),
    });
    await expect(asked).rejects.toThrow(/cannot be recorded.*Nothing was written/);
    const writes = (await t.requestsSince(mark)).filter((r) => !['GET', 'HEAD'].includes(r.method));
    expect(writes.map((r) => `${r.method} ${r.key}`)).toEqual([]);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});
