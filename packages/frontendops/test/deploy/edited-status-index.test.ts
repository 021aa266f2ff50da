/**
 * `status` on an atomic stack whose release store names a release no state object names (here: the
 * live pointer put back by the deployer role as it was before the last deploy) reads that release's
 * index to say what visitors get. The deployer role edits that index to name another app and commit:
 * before, status said the CDN served them. Now an index read for status is held to the binding the
 * audit chain's newest entry carries (as status read it, beside the store), and one that does
 * not match it is not believed: status says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readStatus } from '../../src/read/status.ts';
import { APP, type AtomicEnv, request, startDeployedAtomicEnv } from '../support/atomic-env.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

describe('status: the index of a served release nothing else names, edited', () => {
  let t: AtomicEnv;
  let served: string;
  beforeAll(async () => {
    t = await startDeployedAtomicEnv({ stack: 'edited-status-index' }, [V1, V2, V3], 2);
    const liveKey = `${t.target.statePrefix}live.json`;
    const before = (await t.site.state.get(liveKey))?.body.toString('utf8') ?? '';
    await deployArtifact(t.site, { app: APP, commit: V3, request: request() });
    // The live pointer put back as it was before V3's deploy: the store names a release it does not.
    await t.site.state.put(liveKey, before, { contentType: 'application/json' });
    served = (await t.store().read()).value?.live as string;
  }, 180_000);
  afterAll(() => t?.stop());

  it('as written, status names its build; edited, it says the index does not match the audit log', async () => {
    const before = await readStatus(t.site);
    expect(before.served?.live).toMatchObject({ releaseId: served, app: APP, commit: V3 });

    const name = `${t.target.statePrefix}atomic/releases/${served}.json`;
    const index = JSON.parse((await t.site.state.get(name))?.body.toString('utf8') ?? '{}');
    const forged = `${V3.slice(0, 7)}${'e'.repeat(33)}`;
    await t.site.state.put(name, JSON.stringify({ ...index, app: 'other-app', commit: forged }), {
      contentType: 'application/json',
    });
    const status = await readStatus(t.site);
    expect(status.served?.live).toEqual({ releaseId: served, app: null, commit: null, deployId: null });
    expect(status.served?.note).toContain(`The release index of ${served} does not match the audit log`);
    expect(JSON.stringify(status)).not.toContain('other-app');
  });

  it('the audit log unreadable: the index is not believed, and status says it could not be checked', async () => {
    // The state bucket answers everything but the audit log (a throttled or failing read).
    const failing = (key: string) => key.includes('/audit/') || key.endsWith('/audit');
    const state = new Proxy(t.site.state, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (key: string, ...rest: unknown[]) =>
          typeof key === 'string' && failing(key)
            ? Promise.reject(new Error('SlowDown: reduce your request rate'))
            : value.call(target, key, ...rest);
      },
    });
    const status = await readStatus({ ...t.site, state });
    expect(status.served?.live).toEqual({ releaseId: served, app: null, commit: null, deployId: null });
    expect(status.served?.note).toContain(
      `The release index of ${served} could not be checked against the audit log (reading the log failed)`,
    );
    expect(status.served?.note).not.toContain('does not match the audit log');
  });
});
