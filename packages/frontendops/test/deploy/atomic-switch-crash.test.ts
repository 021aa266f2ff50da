/**
 * An atomic deploy that stops right after its KeyValueStore switch, before atomic/state.json follows
 * (a process killed there), of a release that was live before and pruned since: the CDN serves the
 * new release while the state still names the old one.
 *
 * - `audit verify` says unfinished, naming what finishes it. Before, the release index the deploy
 *   wrote again (the chain had recorded its removal at the prune) read as "written around the
 *   chain": tampered, for a plain crash.
 * - `pin` refuses, saying which operation to run again. Before, it pinned the release the state
 *   still named, the one the CDN no longer served, and `unpin` and `pin` went on without a word.
 * - Run again, the deploy finishes; the chain verifies and the pin pins what is served.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { readPin } from '../../src/state/pin.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
let t: AtomicEnv;
let site: Site;

beforeAll(async () => {
  t = await startAtomicEnv({ propagationMs: 25, retain: 1, stack: 'atomic-switch-crash' });
  await t.publish(V1, 'v1');
  await t.publish(V2, 'v2');
  // No grace: each deploy prunes the release before it at once (its index removal is bound).
  site = await t.open({ releaseGraceMs: 0 });
  await deployArtifact(site, { app: APP, commit: V1, request: request() });
  await deployArtifact(site, { app: APP, commit: V2, request: request() });
});
afterAll(() => t?.stop());

const servedVersion = async () => (await (await fetch(`${t.edge.url}/version.txt`)).text()).trim();

it('stopped after the switch: verify says unfinished, pin refuses; the re-run finishes it', async () => {
  const before = await servedVersion();
  const stopping = stoppingSite(site, (key) => key.endsWith('/atomic/state.json'));
  await expect(deployArtifact(stopping, { app: APP, commit: V1, request: request() })).rejects.toThrow(
    /stopped/,
  );
  // The switch landed: the CDN serves V1 (after the store's propagation), the state still says V2.
  await expect.poll(servedVersion, { timeout: 5_000 }).not.toBe(before);
  expect((await site.records.readPointer())?.value.commit).toBe(V2);

  const { problems } = await verifyAudit(site.state, t.target.statePrefix);
  expect(problems.length).toBeGreaterThan(0);
  expect(problems.map((p) => `${p.kind}: ${p.object}`)).toEqual(
    problems.map((p) => `unfinished: ${p.object}`),
  );
  expect(problems.map((p) => p.reason).join('\n')).toMatch(/interrupted/);

  // A pin now would pin V2, which the CDN no longer serves.
  const pin = pinRelease(site, { request: request('pin') });
  await expect(pin).rejects.toMatchObject({ code: 'CONFLICT' });
  await expect(pin).rejects.toThrow(
    /interrupted deploy of sophia-dashboard@a1a1a1a.*Nothing was pinned.*deploy --commit a1a1a1a`/s,
  );
  expect(await readPin(site)).toBeNull();
  // Unpinning changes nothing that is served: it still goes through.
  expect((await unpinRelease(site, { request: request('unpin') })).cleared).toBeNull();

  const again = await deployArtifact(site, { app: APP, commit: V1, request: request() });
  expect(again.commit).toBe(V1);
  expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
  const pinned = await pinRelease(site, { request: request('pin') });
  expect(pinned.pin.commit).toBe(V1);
});
