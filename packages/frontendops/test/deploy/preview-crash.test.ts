/**
 * A preview that stops after its first state write (the release index of a build not deployed yet)
 * and before its entry, as a process killed or cut off there would, and is asked for again. Before,
 * the second preview found the index, wrote nothing new and bound nothing: the index stayed "written
 * around the chain" (tampered) for good. Now a preview binds an index it finds when it is the one the
 * build's manifest gives, so asking again finishes it; an index edited since is not bound, and verify
 * goes on reporting it.
 *
 * A preview writes its entry before atomic/state.json (which every change checks against the chain,
 * state/recorded-state.ts): stopped between the two, verify says unfinished, and the same preview,
 * or any change, goes on. In the other order every later change was refused, the stack wedged.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
let t: AtomicEnv;

beforeAll(async () => {
  t = await startAtomicEnv({ propagationMs: 25, stack: 'preview-crash' });
  await t.publish(V1, 'v1');
  await t.publish(V2, 'v2');
  await t.publish(V3, 'v3');
  await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
});
afterAll(() => t?.stop());

/** The site as a process sees it that stops at its first write of a "preview" audit entry. */
const stoppingAtPreviewEntry = () =>
  stoppingSite(
    t.site,
    (key, body) => /\/audit\/\d{10}\.json$/.test(key) && String(body).includes('"type":"preview"'),
  );

it('a preview stopped before its entry: verify reports it; the same preview again finishes it', async () => {
  const stopping = stoppingAtPreviewEntry();
  await expect(
    previewLink(stopping, { app: APP, commit: V2, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(false);

  const link = await previewLink(t.site, { app: APP, commit: V2, request: request('preview again') });
  expect(link.copied).toBe(0);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
});

it('an index edited after a stopped preview is not bound by the next one: verify still reports it', async () => {
  await expect(
    previewLink(stoppingAtPreviewEntry(), { app: APP, commit: V3, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  const indexes = await t.site.state.list(`${t.target.statePrefix}atomic/releases/`);
  const key = indexes.map((o) => o.key).find((k) => k.includes(V3.slice(0, 7))) as string;
  const index = JSON.parse((await t.site.state.get(key))?.body.toString() ?? '{}');
  await t.site.state.put(key, JSON.stringify({ ...index, files: ['/index.html'] }, null, 2));

  await previewLink(t.site, { app: APP, commit: V3, request: request('preview again'), verify: false });
  const { problems } = await verifyAudit(t.site.state, t.target.statePrefix);
  expect(problems).toEqual([
    expect.objectContaining({ kind: 'tampered', object: key.slice(t.target.statePrefix.length) }),
  ]);
});

it('a preview stopped between its entry and atomic/state.json: unfinished; asking again finishes it', async () => {
  const stopping = stoppingSite(t.site, (key) => key.endsWith('/atomic/state.json'));
  await expect(
    previewLink(stopping, { app: APP, commit: V2, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  const { problems } = await verifyAudit(t.site.state, t.target.statePrefix);
  expect(problems.filter((p) => p.object === 'atomic/state.json')).toEqual([
    expect.objectContaining({
      kind: 'unfinished',
      reason: expect.stringMatching(/Ask for the preview again/),
    }),
  ]);
  await previewLink(t.site, { app: APP, commit: V2, request: request('preview again'), verify: false });
  expect(
    (await verifyAudit(t.site.state, t.target.statePrefix)).problems.filter(
      (p) => p.object === 'atomic/state.json',
    ),
  ).toEqual([]);
  // And a deploy goes on after such a stop.
  const again = stoppingSite(t.site, (key) => key.endsWith('/atomic/state.json'));
  await expect(
    previewLink(again, { app: APP, commit: V3, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  expect((await deployArtifact(t.site, { app: APP, commit: V2, request: request() })).outcome).toBe(
    'succeeded',
  );
});
