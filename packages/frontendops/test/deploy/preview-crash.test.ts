/**
 * A preview stopped at each of its state writes, as a process killed or cut off there would be, and
 * asked for again. A preview writes its entry first, then the release index it made for the build,
 * then atomic/state.json, as a pin does. Stopped before its entry it has written no state. Stopped
 * after it, `audit verify` calls what did not land unfinished (not written around the chain), the
 * same preview asked again finishes it, and any other change goes on.
 *
 * Before, the index came before the entry: stopped between the two, verify reported the index as
 * written around the chain (tampered) until the build was previewed again. And atomic/state.json,
 * which every change checks against the chain (state/recorded-state.ts), once came before it too:
 * every later change was refused, the stack wedged.
 */
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const env = deployedAtomicEnvFor({ propagationMs: 25, stack: 'preview-crash' }, [V1, V2, V3], 1);
/**
 * The stack each case starts from, whichever ran before: V1 deployed and live, nothing previewed;
 * and the same with V3 previewed (its release index bound by the chain), for the case that deletes it.
 */
let deployed: AtomicSnapshot;
let v3Previewed: AtomicSnapshot;
beforeAll(async () => {
  deployed = await snapshotAtomicEnv(env());
  await previewLink(env().site, { app: APP, commit: V3, request: request('preview v3'), verify: false });
  v3Previewed = await snapshotAtomicEnv(env());
}, 180_000);
beforeEach(() => deployed.restore());

/** The site as a process sees it that stops at its first write of a "preview" audit entry. */
const stoppingAtPreviewEntry = () =>
  stoppingSite(
    env().site,
    (key, body) => /\/audit\/\d{10}\.json$/.test(key) && String(body).includes('"type":"preview"'),
  );

const indexKeyOf = async (commit: string) =>
  (await env().site.state.list(`${env().target.statePrefix}atomic/releases/`))
    .map((o) => o.key)
    .find((k) => k.includes(commit.slice(0, 7)));
const problemsOf = async () => (await verifyAudit(env().site.state, env().target.statePrefix)).problems;

it('a preview stopped before its entry has written no state; asking again goes on', async () => {
  const t = env();
  await expect(
    previewLink(stoppingAtPreviewEntry(), { app: APP, commit: V2, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  expect(await indexKeyOf(V2)).toBeUndefined();
  expect(await problemsOf()).toEqual([]);

  await previewLink(t.site, { app: APP, commit: V2, request: request('preview again') });
  expect(await indexKeyOf(V2)).toBeDefined();
  expect(await problemsOf()).toEqual([]);
});

it('a preview stopped between its entry and its release index: unfinished, and asking again finishes it', async () => {
  const t = env();
  const stopping = stoppingSite(t.site, (key) => /\/atomic\/releases\/[^/]+\.json$/.test(key));
  await expect(
    previewLink(stopping, { app: APP, commit: V3, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  expect(await indexKeyOf(V3)).toBeUndefined();
  const stopped = await problemsOf();
  expect(stopped.map((p) => p.kind)).not.toContain('tampered');
  expect(stopped).toContainEqual(
    expect.objectContaining({
      kind: 'unfinished',
      object: expect.stringMatching(/^atomic\/releases\//),
      reason: expect.stringMatching(
        /was not written \(the process stopped between the two\)\. Ask for the preview again/,
      ),
    }),
  );

  await previewLink(t.site, { app: APP, commit: V3, request: request('preview again'), verify: false });
  expect(await indexKeyOf(V3)).toBeDefined();
  expect(await problemsOf()).toEqual([]);
});

it('stopped before its release index, then another change: still unfinished, never tampered', async () => {
  const t = env();
  const stopping = stoppingSite(t.site, (key) => /\/atomic\/releases\/[^/]+\.json$/.test(key));
  const V4 = 'd4d4d4d4d4d4d4d4';
  await t.publish(V4, 'v4');
  await expect(
    previewLink(stopping, { app: APP, commit: V4, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  // A preview of another build writes atomic/state.json over the one the stopped preview left.
  await previewLink(t.site, { app: APP, commit: V2, request: request('another preview'), verify: false });
  const after = await problemsOf();
  expect(after.map((p) => `${p.kind}: ${p.object}`)).toEqual([
    expect.stringMatching(/^unfinished: atomic\/releases\//),
  ]);
  await previewLink(t.site, { app: APP, commit: V4, request: request('preview again'), verify: false });
  expect(await problemsOf()).toEqual([]);
});

it('a release index deleted after its preview went into the state is tampered, not unfinished', async () => {
  await v3Previewed.restore();
  const t = env();
  const key = (await indexKeyOf(V3)) as string;
  const body = (await t.site.state.get(key))?.body;
  await t.site.state.delete([key]);
  expect(await problemsOf()).toContainEqual(
    expect.objectContaining({ kind: 'tampered', object: key.slice(t.target.statePrefix.length) }),
  );
  await t.site.state.put(key, body as Buffer);
  expect(await problemsOf()).not.toContainEqual(expect.objectContaining({ kind: 'tampered' }));
});

it('an index edited after its preview is not bound by the next one: verify still reports it', async () => {
  const t = env();
  const stopping = stoppingSite(t.site, (key) => key.endsWith('/atomic/state.json'));
  const V5 = 'e5e5e5e5e5e5e5e5';
  await t.publish(V5, 'v5');
  await expect(
    previewLink(stopping, { app: APP, commit: V5, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  const key = (await indexKeyOf(V5)) as string;
  const index = JSON.parse((await t.site.state.get(key))?.body.toString() ?? '{}');
  await t.site.state.put(key, JSON.stringify({ ...index, files: ['/index.html'] }, null, 2));

  await previewLink(t.site, { app: APP, commit: V5, request: request('preview again'), verify: false });
  expect(await problemsOf()).toEqual([
    expect.objectContaining({ kind: 'tampered', object: key.slice(t.target.statePrefix.length) }),
  ]);
});

it('a preview stopped between its entry and atomic/state.json: unfinished; asking again finishes it', async () => {
  const t = env();
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

it("a release index missing after its stopped preview's end is tampered: nothing asks for that preview again", async () => {
  const t = env();
  const V6 = 'f6f6f6f6f6f6f6f6';
  await t.publish(V6, 'v6');
  const stopping = stoppingSite(t.site, (key) => /\/atomic\/releases\/[^/]+\.json$/.test(key));
  await expect(
    previewLink(stopping, { app: APP, commit: V6, request: request(), verify: false }),
  ).rejects.toThrow(/stopped/);
  const later = Date.now() + 200 * 3600 * 1000; // past any preview's longest life (168 hours)
  const { problems } = await verifyAudit(t.site.state, t.target.statePrefix, { now: later });
  expect(problems).toContainEqual(
    expect.objectContaining({
      kind: 'tampered',
      object: expect.stringMatching(/^atomic\/releases\/f6f6f6f-/),
    }),
  );
  await previewLink(t.site, { app: APP, commit: V6, request: request('preview again'), verify: false });
  expect(await problemsOf()).toEqual([]);
});
