/**
 * A build planted in the artifacts bucket (no publish log records it), asked for on an atomic stack:
 * a deploy, a canary start and a preview link choose the build through buildTarget and
 * previewLink, not through the in-place path planted-build.test.ts covers. Each is refused
 * (NOT_FOUND, naming the publish log) before anything is written: no S3 write, the release store's
 * pointer as it was.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { publishArtifact } from '../../src/deploy/publish.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { APP, type AtomicEnv, request, startAtomicEnv, writeReleaseBuild } from '../support/atomic-env.ts';

const [V1, PLANTED] = [
  '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
];
let a: AtomicEnv;

beforeAll(async () => {
  a = await startAtomicEnv();
  await a.publish(V1, 'v1');
  await deployArtifact(a.site, { app: APP, commit: V1, request: request('ship v1') });
  // Written with the artifacts bucket's S3 access alone: no entry in any publish log.
  const build = await writeReleaseBuild(join(a.tmp, 'planted'), 'planted');
  await publishArtifact(a.site.artifacts, { dir: build.dir, app: APP, commit: PLANTED });
});
afterAll(() => a?.stop());

const WRITES = new Set(['PUT', 'POST', 'DELETE']);

/** Each way to make the planted build live, refused with `code` saying `words`; nothing written. */
async function refusedEach(code: string, words: RegExp) {
  const pointer = await a.store().read();
  const mark = await a.mark();
  // One after another: each takes the deploy lock.
  const attempts = {
    deploy: () => deployArtifact(a.site, { app: APP, commit: PLANTED, request: request('ship it') }),
    'dry run': () =>
      deployArtifact(a.site, {
        app: APP,
        commit: PLANTED,
        request: request('ship it'),
        dryRun: true,
      }),
    canary: () =>
      startCanary(a.site, { app: APP, commit: PLANTED, weightPercent: 10, request: request('10%') }),
    preview: () =>
      previewLink(a.site, { app: APP, commit: PLANTED, request: request('preview'), verify: false }),
  };
  for (const [what, run] of Object.entries(attempts)) {
    const attempt = run();
    await expect(attempt, what).rejects.toMatchObject({
      code: expect.stringMatching(new RegExp(`^${code}$`)),
    });
    await expect(attempt, what).rejects.toThrow(words);
  }
  const writes = (await a.requestsSince(mark)).filter((r) => WRITES.has(r.method));
  expect(writes.map((r) => `${r.method} ${r.bucket}/${r.key}`)).toEqual([]);
  expect(await a.store().read()).toEqual(pointer);
}

describe('a planted build on an atomic stack', () => {
  it('a deploy (and its dry run), a canary start and a preview link are refused before anything is written', async () => {
    await refusedEach(
      'NOT_FOUND',
      /sophia-dashboard@2222222 in the artifacts bucket is not recorded in the publish log dashboard-atomic deploys builds from.*Nothing was changed/,
    );
  });

  it('with the environment marker replaced too: refused, whichever is said first, and nothing is written', async () => {
    const marker = await a.site.hosting.get(ENVIRONMENT_MARKER);
    expect(marker).not.toBeNull();
    await a.site.hosting.put(ENVIRONMENT_MARKER, '{"stack":"elsewhere"}', {
      contentType: 'application/json',
    });
    try {
      await refusedEach('(NOT_FOUND|TAMPERED)', /Nothing was changed/);
    } finally {
      await a.site.hosting.put(ENVIRONMENT_MARKER, marker?.body ?? '', { contentType: 'application/json' });
    }
  });
});
