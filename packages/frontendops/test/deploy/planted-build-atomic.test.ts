/**
 * A build planted in the artifacts bucket (no publish log records it), asked for on an atomic stack:
 * a deploy, a canary start and a preview link choose the build through buildTarget and
 * previewLink, not through the in-place path planted-build.test.ts covers. Each is refused
 * (NOT_FOUND, naming the publish log) before anything is written: no S3 write, the release store's
 * pointer as it was. A build CI published to another stack's log (a `buildsFrom`) is deployed, and
 * whoever approves the change on a protected atomic stack is told whose log recorded it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { publishArtifact } from '../../src/deploy/publish.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import {
  APP,
  ARTIFACTS,
  type AtomicEnv,
  request,
  startAtomicEnv,
  writeReleaseBuild,
} from '../support/atomic-env.ts';
import { publishToStack } from '../support/deploy-env.ts';
import { cli } from '../support/run-cli.ts';

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

describe("a build published under another stack's log, on a protected atomic stack", () => {
  const STAGING_HOSTING = 'atomic-hosting-staging';
  const STAGED = '3333333ccccccccccccccccccccccccccccccccc';
  let p: AtomicEnv;
  let run: (argv: string[]) => ReturnType<typeof cli>;
  beforeAll(async () => {
    p = await startAtomicEnv({ stack: 'prod', extraBuckets: [STAGING_HOSTING] });
    await p.publish(V1, 'v1');
    await deployArtifact(p.site, { app: APP, commit: V1, request: request('ship v1') });
    // CI published the build to staging's log only.
    const staged = await writeReleaseBuild(join(p.tmp, 'staged'), 'staged');
    await publishToStack(p, { stack: 'staging', hostingBucket: STAGING_HOSTING }, [
      { dir: staged.dir, app: APP, commit: STAGED },
    ]);
    const staging = join(p.tmp, 'staging.json');
    const { region, endpoint } = p.target;
    await writeFile(
      staging,
      JSON.stringify({
        stack: 'staging',
        artifactsBucket: ARTIFACTS,
        hostingBucket: STAGING_HOSTING,
        region,
        endpoint,
      }),
    );
    const stacks = {
      staging: { backend: 'outputs', file: staging },
      prod: { backend: 'outputs', file: await p.writeOutputs(), buildsFrom: ['staging'] },
    };
    await writeFile(
      join(p.tmp, 'frontendops.config.json'),
      JSON.stringify({ app: APP, stacks, protected: ['prod'] }),
    );
    run = (argv) => cli(argv, { cwd: p.tmp, env: { ...p.cliEnv(), FRONTENDOPS_CONFIG: undefined } });
  }, 180_000);
  afterAll(() => p?.stop());

  it('names that log to whoever approves its deploy or its canary', async () => {
    const what = `${APP}@${STAGED.slice(0, 7)}`;
    for (const [argv, said] of [
      [[], `deploy ${what} to prod (live: ${V1.slice(0, 7)})`],
      [['--canary', '10%'], `send 10% of prod's visitors to ${what} (live: ${V1.slice(0, 7)})`],
    ] as const) {
      const asked = await run(['deploy', '--commit', STAGED, '--stack', 'prod', ...argv]);
      expect(asked.code, asked.stdout + asked.stderr).not.toBe(0);
      expect(asked.stdout + asked.stderr).toContain(
        `${said}: 6 files to copy, one key write, nothing to invalidate; published to staging's log`,
      );
    }
  });
});
