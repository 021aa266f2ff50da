/**
 * On an atomic stack the deployer role can write the CDN's release store around FrontendOps: an
 * older kept release put back in the key is served again, its files still under their prefix. A pin
 * keeps "what is live": pinned then, it would freeze the release FrontendOps records while visitors
 * get another, and say so in its entry, `status` and every deploy it refuses. So a pin holds the store
 * to the recorded pointer, as it does for an interrupted switch: refused (CONFLICT), nothing written,
 * saying what is served and how to go on.
 *
 * The key deleted (edges then serve the bucket root, no release) is refused the same way.
 *
 * Before: the pin went through, pin.json and its entry naming v2 while the CDN served v1; with the
 * key deleted it still went through (driftOf sees no pointer, so no drift), though `status` said the
 * CDN served the bucket root.
 */
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_KEY } from '../../src/atomic/release-pointer.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease, readPin } from '../../src/deploy/pin.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { readStatus } from '../../src/read/status.ts';
import { uncheckedNotes, verifySite } from '../../src/read/verify-site.ts';
import { releaseStoreOwner } from '../../src/stacks/open.ts';
import { readAudit } from '../../src/state/audit.ts';
import { putJsonObject } from '../../src/state/json-object.ts';
import { APP, request } from '../support/atomic-env.ts';
import { outsideWritesEnvFor } from '../support/atomic-snapshot.ts';
import { get, releaseOf } from '../support/edge-probe.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
const { env, raw } = outsideWritesEnvFor({ stack: 'pin-served-elsewhere' }, [V1, V2], 2);

describe('a pin on an atomic stack whose release store was written outside FrontendOps', () => {
  it('refused (CONFLICT), nothing written, naming what is served; pinned once the recorded release is back', async () => {
    const t = env();
    const status = await readStatus(t.site);
    const older = status.releases.find((r) => r.commit === V1);
    const pointer = await t.site.records.readPointer();
    const kept = pointer?.value.releases.find((r) => r.commit === V1);
    if (!status.live || !older || !kept) throw new Error('v2 is live, v1 kept');
    const v1 = releaseIdFor(kept);
    // The deployer role points the store back at v1's kept release (the AWS console, a script).
    const store = t.store();
    await store.write({ live: v1 }, (await store.read()).etag);
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v1');

    const entries = (await readAudit(t.site.state, t.target.statePrefix)).length;
    const refused = await pinRelease(t.site, { request: request('freeze prod') }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'CONFLICT' });
    const message = (refused as Error).message;
    expect(message).toContain(v1); // what visitors get
    expect(message).toContain(status.live.deployId); // what FrontendOps records
    expect(message).toMatch(/changed outside FrontendOps/);
    expect(message).toMatch(/Nothing was pinned/);
    expect(message).toContain(`frontendops deploy --commit ${V2.slice(0, 7)}`);
    expect(await readPin(t.site)).toBeNull();
    expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(entries);

    // The recorded release put back (a deploy of it writes the store from the record): pinned.
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('put v2 back') });
    const { pin, created } = await pinRelease(t.site, { request: request('freeze prod') });
    expect([created, pin.commit]).toEqual([true, V2]);
  });

  it('the key deleted: refused the same way, naming the bucket root; pinned once a deploy wrote the key back', async () => {
    const t = env();
    const live = (await readStatus(t.site)).live;
    if (!live) throw new Error('v2 is live');
    await raw().write('delete');
    const status = await readStatus(t.site);
    expect(status.served).toMatchObject({ state: 'changed-outside', live: null });

    const entries = (await readAudit(t.site.state, t.target.statePrefix)).length;
    const refused = await pinRelease(t.site, { request: request('freeze prod') }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'CONFLICT', details: { served: null, live: live.deployId } });
    const message = (refused as Error).message;
    expect(message).toMatch(/serves the bucket root \(the store holds no release pointer\)/);
    expect(message).not.toMatch(/roll back to it/); // no release is served to keep
    expect(message).toContain(live.deployId);
    expect(message).toMatch(/changed outside FrontendOps/);
    expect(message).toMatch(/Nothing was pinned/);
    expect(message).toContain(`frontendops deploy --commit ${V2.slice(0, 7)}`);
    expect(await readPin(t.site)).toBeNull();
    expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(entries);

    // A deploy of the recorded release writes the key back from the record: v2 served, then pinned.
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('put v2 back') });
    expect(releaseOf((await get(`${t.edge.url}/`, {})).body)).toBe('v2');
    const { pin, created } = await pinRelease(t.site, { request: request('freeze prod') });
    expect([created, pin.commit]).toEqual([true, V2]);
  });
});

/**
 * The deployer role writes the store's key frontendops-environment too: beside a pointer it put back
 * at an older release, a key naming another environment (or none, as a store switched before stores
 * named theirs) made the store's reads refused, CONFLICT, which status and `audit verify` took for a
 * store that did not answer. Before: status said "could not be read" (exit 0) and verify passed with
 * a note, so the switch nobody recorded went unreported.
 */
describe('the pointer written outside FrontendOps with the key naming the environment rewritten', () => {
  const other = releaseStoreOwner({ hostingBucket: 'another-hosting' });
  it.each([
    ['naming another environment', other],
    ['deleted', null],
  ])(
    '%s: status and audit verify still hold what is served to the chain; a pin is refused',
    async (_, named) => {
      const t = env();
      const pointer = await t.site.records.readPointer();
      const kept = pointer?.value.releases.find((r) => r.commit === V1);
      if (!kept) throw new Error('v1 kept');
      const store = t.store();
      await store.write({ live: releaseIdFor(kept) }, (await store.read()).etag);
      await raw().set(ENVIRONMENT_KEY, named);

      const status = await readStatus(t.site);
      expect(status.served).toMatchObject({ state: 'changed-outside', live: { commit: V1 } });
      const verified = await verifySite(t.site, []);
      expect(verified.result.ok).toBe(false);
      expect(verified.result.problems.map((p) => p.reason).join('\n')).toMatch(
        /the CDN's release store names .* it was changed outside FrontendOps/,
      );
      // What every change will refuse is said too, by status and by verify's notes.
      const refusal = named ? /names a hosting bucket other than/ : /names no environment yet/;
      expect(status.served?.note).toMatch(refusal);
      expect(uncheckedNotes(verified).join('\n')).toMatch(refusal);
      const entries = (await readAudit(t.site.state, t.target.statePrefix)).length;
      // Every change refuses the store in its own words (not as one that did not answer), nothing written.
      for (const change of [
        () => pinRelease(t.site, { request: request('freeze prod') }),
        () => deployArtifact(t.site, { app: APP, commit: V2, request: request('put v2 back') }),
        () => rollbackRelease(t.site, { request: request('back') }),
      ]) {
        const refused = await change().catch((e: unknown) => e);
        expect(refused).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(refusal) });
      }
      expect(await readPin(t.site)).toBeNull();
      expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(entries);
    },
  );
});

/**
 * The live pointer edited around the chain as well: the refusal the change makes is that edit's
 * (TAMPERED, naming live.json), as where the key was left alone, not the store's.
 */
describe('the live pointer edited and the key naming the environment rewritten', () => {
  it('a deploy is refused TAMPERED naming the live pointer, nothing written', async () => {
    const t = env();
    const read = await t.site.records.readPointer();
    if (!read) throw new Error('v2 is live');
    const edited = { ...read.value, releases: [...read.value.releases].reverse() };
    await putJsonObject(t.site.state, `${t.target.statePrefix}live.json`, edited);
    await raw().set(ENVIRONMENT_KEY, releaseStoreOwner({ hostingBucket: 'another-hosting' }));
    const entries = (await readAudit(t.site.state, t.target.statePrefix)).length;
    const refused = await deployArtifact(t.site, { app: APP, commit: V1, request: request('v1') }).catch(
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'TAMPERED', message: expect.stringContaining('live.json') });
    expect(await readAudit(t.site.state, t.target.statePrefix)).toHaveLength(entries);
  });
});
