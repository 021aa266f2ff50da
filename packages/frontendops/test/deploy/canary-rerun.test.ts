/**
 * `canary promote` and `canary abort` run again after the first run's answer was lost (the process
 * stopped after its switch, or the connection dropped): the second run finishes the first and says
 * what was done. Before, it finished it and then said "No canary runs" (NOT_FOUND), exit 1, although
 * the promote or abort had happened.
 */
import { expect, it } from 'vitest';
import { abortCanary, promoteCanary, readCanaryStatus, startCanary } from '../../src/deploy/canary.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const env = deployedAtomicEnvFor({ propagationMs: 25, stack: 'canary-rerun' }, [V1, V2, V3], 1);

/** Stops at the first audit entry of this type: after the switch, before the operation's record. */
const stoppingAtEntry = (type: string) =>
  stoppingSite(
    env().site,
    (key, body) => /\/audit\/\d{10}\.json$/.test(key) && String(body).includes(`"type":"${type}"`),
  );

it('promote, stopped after its switch, then run again: it finishes and says it promoted', async () => {
  const t = env();
  await startCanary(t.site, { app: APP, commit: V2, weightPercent: 10, request: request() });
  await expect(promoteCanary(stoppingAtEntry('canary-promote'), { request: request() })).rejects.toThrow(
    /stopped/,
  );
  expect((await t.store().read()).value).toMatchObject({ live: expect.stringContaining(V2.slice(0, 7)) });

  const again = await promoteCanary(t.site, { request: request('promote again') });
  expect(again).toMatchObject({ op: 'canary-promote', commit: V2, outcome: 'succeeded' });
  expect((await readCanaryStatus(t.site)).canary).toBeNull();
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('abort, stopped after its switch, then run again: it finishes and says it aborted', async () => {
  const t = env();
  await startCanary(t.site, { app: APP, commit: V3, weightPercent: 10, request: request() });
  await expect(abortCanary(stoppingAtEntry('canary-abort'), { request: request() })).rejects.toThrow(
    /stopped/,
  );
  const again = await abortCanary(t.site, { request: request('abort again') });
  expect(again).toMatchObject({ op: 'canary-abort', commit: V3, outcome: 'succeeded' });
  expect((await readCanaryStatus(t.site)).canary).toBeNull();
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('with nothing left to finish, promote still says no canary runs', async () => {
  const t = env();
  await expect(promoteCanary(t.site, { request: request() })).rejects.toMatchObject({ code: 'NOT_FOUND' });
});
