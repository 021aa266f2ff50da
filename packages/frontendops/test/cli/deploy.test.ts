import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileLocker } from '../../src/adapters/lock-file.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { deployLockName } from '../../src/deploy/deploy-lock.ts';
import { artifactFileKey } from '../../src/engine/manifest.ts';
import { lockDirFor } from '../../src/stacks/open.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { startCli, waitForStderr } from '../support/cli.ts';
import {
  ARTIFACTS,
  HOSTING,
  publishAsCi,
  publishToStack,
  requestBy,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { type FixtureBuild, referencedPaths, writeFixtureBuild } from '../support/fixture-build.ts';
import { createTestRepo } from '../support/git-repo.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
/** Production's own hosting bucket: protection follows the bucket, so prod must not share staging's. */
const PROD_HOSTING = 'sophia-dashboard-hosting-real-prod';
/** A stack of its own for the deploy tag's repository checks (the staging stack's state is edited above). */
const TAGGED_HOSTING = 'sophia-dashboard-hosting-tagged';
const COMMITS = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3', 'd4d4d4d4d4d4d4d4'];
let t: TestDeployEnv;
let outputs: string;
let cliEnv: Record<string, string>;
const builds = new Map<string, FixtureBuild>();
/**
 * The staging stack as the cases start from it, made once: nothing deployed; the first commit live;
 * the other three deployed over it (the three releases retention keeps, so the next deploy prunes).
 */
let nothingLive: BucketSnapshot;
let firstLive: BucketSnapshot;
let threeRetained: BucketSnapshot;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-staging' }, { extraBuckets: [PROD_HOSTING, TAGGED_HOSTING] });
  outputs = await t.writeOutputs({ cdn: true });
  // The embedded server's key and the CloudFront double's endpoint, through the SDK's standard variables.
  cliEnv = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'cli-test' };
  for (const [i, commit] of COMMITS.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `b${i}`), { version: `v${i}`, shared: 120 + i });
    builds.set(commit, build);
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }
  const snapshot = () => snapshotStack(t.site);
  nothingLive = await snapshot();
  const deploy = (commit: string) =>
    deployArtifact(t.site, { app: APP, commit, request: requestBy(`deploy ${commit}`, 'cli-test') });
  await deploy(COMMITS[0] as string);
  firstLive = await snapshot();
  for (const commit of COMMITS.slice(1)) await deploy(commit);
  threeRetained = await snapshot();
}, 180_000);
afterAll(() => t.stop());

/** The builds published to the staging stack, as CI publishes them to another stack's log too. */
const ciBuilds = () =>
  COMMITS.map((commit) => ({ dir: builds.get(commit)?.dir as string, app: APP, commit }));

/** Where a case's hosting writes start: the hosting bucket's files then, and the request log's length. */
async function hostingMark(): Promise<{ files: Map<string, string>; at: number }> {
  await t.s3.settle();
  const files = new Map<string, string>();
  for (const { key } of await t.site.hosting.list(''))
    files.set(key, (await t.site.hosting.get(key))?.body.toString() ?? '');
  return { files, at: t.s3.requests.length };
}

/**
 * Replays every hosting write the server saw since `start` over the files the bucket held then, and
 * checks that no HTML ever referenced a missing key.
 */
async function assertNoBrokenHtmlSince(start: { files: Map<string, string>; at: number }) {
  await t.s3.settle();
  const state = new Map(start.files);
  const contentOf = (source: string) => {
    const [, , commit, , ...rest] = source.split('/');
    return builds.get(commit ?? '')?.files[`/${rest.join('/')}`] ?? '';
  };
  for (const r of t.s3.requests.slice(start.at).filter((q) => q.bucket === HOSTING)) {
    if (r.copySource) state.set(r.key, contentOf(r.copySource));
    else if (r.deletedKeys) for (const key of r.deletedKeys) state.delete(key);
    else continue;
    for (const [key, content] of state) {
      if (!key.endsWith('.html')) continue;
      for (const ref of referencedPaths(content))
        expect(state.has(ref.slice(1)), `${key} → ${ref} after ${r.method} ${r.key}`).toBe(true);
    }
  }
}

async function expectHostingEquals(commit: string) {
  const build = builds.get(commit) as FixtureBuild;
  for (const [path, content] of Object.entries(build.files)) {
    expect((await t.site.hosting.get(path.slice(1)))?.body.toString(), path).toBe(content);
  }
}

/** The CLI in this process (runCli), in a directory that is no git repository: no deploy tags here. */
const run = (argv: string[]) => cli(argv, { env: cliEnv, cwd: t.tmp });
/** The CLI as its own process, for what only a process boundary shows: kill -9, a lock held across processes. */
const spawnCli = (argv: string[]) => startCli(argv, cliEnv, t.tmp);

describe('frontendops CLI', () => {
  it('deploys with --json: one summary object with counts, invalidation and duration', async () => {
    await nothingLive.restore();
    const start = await hostingMark();
    const result = await run(['deploy', '--stack', outputs, '--commit', COMMITS[0] as string, '--json']);
    expect(result.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    const files = Object.keys(builds.get(COMMITS[0] as string)?.files ?? {}).length;
    expect(summary).toMatchObject({
      commit: COMMITS[0],
      outcome: 'succeeded',
      copied: files,
      unchanged: 0,
      pruned: 0,
      retained: 1,
    });
    expect(summary.invalidation.paths).toEqual(['/', '/favicon.ico', '/index.html', '/robots.txt']);
    expect(summary.invalidation.ids).toHaveLength(1);
    expect(typeof summary.durationMs).toBe('number');
    expect(t.cdn.createRequests().length).toBeGreaterThan(0);
    await assertNoBrokenHtmlSince(start);
  });

  it('a --repo that is no git repository stops deploy, rollback and promote before anything is written', async () => {
    // A wrong git host must stop the command before it changes anything.
    await firstLive.restore();
    await t.s3.settle();
    const before = t.s3.requests.length;
    const cdnMark = t.cdn.mark();
    const notARepo = join(t.tmp, 'b0');
    for (const argv of [
      ['deploy', '--stack', outputs, '--commit', COMMITS[1] as string, '--yes', '--repo', notARepo],
      ['rollback', '--stack', outputs, '--yes', '--repo', notARepo],
      ['promote', COMMITS[1] as string, '--stack', outputs, '--yes', '--repo', notARepo],
    ]) {
      const result = await run(argv);
      expect(result.code, `${argv[0]}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(/not a git repository/i);
      expect(result.stderr).not.toMatch(/at .*\.ts:\d+/);
    }
    await t.s3.settle();
    expect(t.s3.requests.slice(before).filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
    expect(t.cdn.createRequests(cdnMark)).toEqual([]);
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    await firstLive.restore();
    await t.s3.settle();
    const before = t.s3.requests.length;
    const result = await run([
      'deploy',
      '--stack',
      outputs,
      '--commit',
      COMMITS[1] as string,
      '--dry-run',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const [was, next] = [
      builds.get(COMMITS[0] as string)?.files ?? {},
      builds.get(COMMITS[1] as string)?.files ?? {},
    ];
    const differing = Object.keys(next).filter((path) => was[path] !== next[path]).length;
    expect(JSON.parse(result.stdout)).toMatchObject({
      outcome: 'planned',
      dryRun: true,
      copied: differing,
      unchanged: Object.keys(next).length - differing,
    });
    await t.s3.settle();
    // Read-only: not even the probe for conditional-write support writes anything.
    expect(t.s3.requests.slice(before).filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
  });

  it('a second deploy fails clearly, naming the holder, while the lock is held; waits when asked', async () => {
    await firstLive.restore();
    const start = await hostingMark();
    // Another operator's process holds the stack's deploy lock.
    const holder = createFileLocker(lockDirFor(outputsTarget()));
    const held = await holder.acquire(deployLockName(outputsTarget()), {
      owner: 'release-bot on ci-7 (pid 4242)',
      ttlMs: 60_000,
      waitMs: 0,
    });
    const refused = await run([
      'deploy',
      '--stack',
      outputs,
      '--commit',
      COMMITS[1] as string,
      '--wait',
      '0',
      '--json',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /Deploying to dashboard-staging is locked by release-bot on ci-7 \(pid 4242\)/,
    );
    expect(refused.stderr).toMatch(/--wait <seconds>/);
    expect(refused.stderr).not.toMatch(/at .*\.ts:\d+/);
    // With --wait the second deploy waits for the lock, says so as it begins to wait (who holds it,
    // for how long it waits), and lands once the lock is let go.
    const waiting = spawnCli([
      'deploy',
      '--stack',
      outputs,
      '--commit',
      COMMITS[1] as string,
      '--wait',
      '30',
      '--json',
    ]);
    const told = await waitForStderr(
      waiting.child,
      /locked by release-bot on ci-7 \(pid 4242\).*; waiting up to (\d+)s/,
    );
    expect(Number(told[1])).toBeGreaterThan(20);
    expect(waiting.child.exitCode).toBeNull();
    await held.release();
    const landed = await waiting.done;
    expect(landed.code, landed.stderr).toBe(0);
    expect(JSON.parse(landed.stdout)).toMatchObject({ commit: COMMITS[1], outcome: 'succeeded' });
    await assertNoBrokenHtmlSince(start);
  });

  it('the holder a lock object names is shown escaped, on one line: never terminal control nor a line of its own', async () => {
    // Whoever writes where the lock lives chooses the holder's words: an OSC 52 sequence (writes the
    // clipboard), a bell, and a new line forging a note of ours.
    const holder = createFileLocker(lockDirFor(outputsTarget()));
    const held = await holder.acquire(deployLockName(outputsTarget()), {
      owner: 'mallory\u001b]52;c;cm0gLXJmIH4=\u0007\nnote: approved by ada',
      ttlMs: 60_000,
      waitMs: 0,
    });
    try {
      const refused = await run([
        'deploy',
        '--stack',
        outputs,
        '--commit',
        COMMITS[1] as string,
        '--wait',
        '1',
      ]);
      expect(refused.code).toBe(1);
      // Both the wait's notice and the refusal name the holder.
      expect(refused.stderr).toMatch(/waiting up to 1s/);
      expect(refused.stderr.includes('\u001b') || refused.stderr.includes('\u0007')).toBe(false);
      expect(refused.stderr).not.toMatch(/^note: approved by ada/m);
      expect(
        refused.stderr.split('mallory\\u001b]52;c;cm0gLXJmIH4=\\u0007\\nnote: approved by ada'),
      ).toHaveLength(3);
    } finally {
      await held.release();
    }
  });

  it('two deploys started together both land, one after the other, with no lost update', async () => {
    await firstLive.restore();
    const start = await hostingMark();
    const [a, b] = await Promise.all([
      run(['deploy', '--stack', outputs, '--commit', COMMITS[2] as string, '--wait', '60', '--json']),
      run(['deploy', '--stack', outputs, '--commit', COMMITS[3] as string, '--wait', '60', '--json']),
    ]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    const ids = [JSON.parse(a.stdout).deployId, JSON.parse(b.stdout).deployId];
    const records = (await t.site.records.listRecords()).records;
    const later = records.find((r) => ids.includes(r.deployId) && ids.includes(r.fromDeployId ?? ''));
    expect(later, 'the second deploy was planned from the first one').toBeDefined();
    await assertNoBrokenHtmlSince(start);
  });

  it.each([
    ['during the asset copies', { bucket: HOSTING, copy: true, keySuffix: '.js', nth: 1 }],
    ['right after the HTML was written', { bucket: HOSTING, copy: true, keySuffix: 'index.html', nth: 1 }],
    [
      'right after the live pointer moved',
      { bucket: ARTIFACTS, method: 'PUT', keySuffix: '/live.json', nth: 1 },
    ],
    ['right after pruning', { bucket: HOSTING, method: 'POST', query: 'delete', nth: 1 }],
    // The record's existence check comes after the CDN invalidation was sent.
    ['right after the CDN invalidation', { bucket: ARTIFACTS, method: 'HEAD', keySuffix: '.json', nth: 1 }],
  ])('converges after kill -9 %s', async (_when, rule) => {
    // Deploy the one release that is not retained: every run copies, prunes the oldest and invalidates.
    await threeRetained.restore();
    const start = await hostingMark();
    // The stack is put back as it was, so each case's deploy has the same id: the invalidations it
    // asked for are those of the CallerReferences sent since (the CDN keeps what earlier cases made).
    const cdnMark = t.cdn.mark();
    const retained = new Set((await t.site.records.readPointer())?.value.releases.map((r) => r.commit));
    const target = COMMITS.find((c) => !retained.has(c)) as string;
    const paused = t.s3.pauseAfter(rule);
    const crashing = spawnCli(['deploy', '--stack', outputs, '--commit', target, '--json']);
    try {
      await Promise.race([paused, crashing.done]);
      expect(crashing.child.exitCode, 'the deploy was still running at the crash point').toBeNull();
      crashing.child.kill('SIGKILL');
      expect((await crashing.done).signal).toBe('SIGKILL');
    } finally {
      t.s3.resume();
    }

    const again = await run(['deploy', '--stack', outputs, '--commit', target, '--json', '--wait', '10']);
    expect(again.code, again.stderr).toBe(0);
    expect((await t.site.records.readPointer())?.value.commit).toBe(target);
    await expectHostingEquals(target);
    // The re-run is the same deploy (same id), so the CDN saw one invalidation, however often it was sent.
    const finished = (await t.site.records.listRecords()).records.find(
      (r) => r.commit === target && r.outcome === 'succeeded',
    );
    const references = new Set(
      t.cdn.createRequests(cdnMark).map((r) => /<CallerReference>([^<]+)</.exec(r.body)?.[1]),
    );
    const sent = t.cdn
      .invalidations()
      .filter(
        (i) => references.has(i.callerReference) && i.callerReference.startsWith(finished?.deployId ?? '?'),
      );
    expect(new Set(sent.map((i) => i.id)).size).toBe(1);
    expect(finished?.invalidation?.ids).toEqual([sent[0]?.id]);
    expect(await t.site.records.readPending()).toBeNull();
    const records = (await t.site.records.listRecords()).records;
    expect(records.find((r) => r.commit === target && r.outcome === 'succeeded')).toBeDefined();
    await assertNoBrokenHtmlSince(start);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('rolls back, reports status and history, and verifies the audit chain; tampering is caught', async () => {
    await threeRetained.restore();
    const rollback = await run(['rollback', '--stack', outputs, '--json']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(JSON.parse(rollback.stdout)).toMatchObject({ kind: 'rollback', outcome: 'succeeded' });
    const status = JSON.parse((await run(['status', '--stack', outputs, '--json'])).stdout);
    expect(status.live.commit).toBe(JSON.parse(rollback.stdout).commit);
    const history = JSON.parse((await run(['history', '--stack', outputs, '--json'])).stdout);
    expect(history.deployments[0].kind).toBe('rollback');
    const ok = await run(['audit', 'verify', '--stack', outputs, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).ok).toBe(true);

    // Rewrite one entry's outcome: verification must fail at that entry.
    const key = `${t.target.statePrefix}audit/0000000002.json`;
    const entry = JSON.parse((await t.site.state.get(key))?.body.toString() ?? '{}');
    entry.data.outcome = 'failed';
    await t.site.state.put(key, JSON.stringify(entry));
    const bad = await run(['audit', 'verify', '--stack', outputs, '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, problem: { seq: 2 } });
    // In words too: which entry.
    const said = await run(['audit', 'verify', '--stack', outputs]);
    expect(said.code).toBe(1);
    expect(said.stdout).toMatch(/^ {2}tampered \(entry 2\): /m);
  });

  it('a protected stack needs a human approval: no terminal and no --yes is refused, nothing changes', async () => {
    const prod = await t.writeOutputs({
      stack: 'dashboard-hosting-prod',
      cdn: true,
      hostingBucket: PROD_HOSTING,
    });
    await publishToStack(t, { stack: 'dashboard-hosting-prod', hostingBucket: PROD_HOSTING }, ciBuilds());
    await t.s3.settle();
    const before = t.s3.requests.length;
    const refused = await run(['deploy', '--stack', prod, '--commit', COMMITS[0] as string]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /dashboard-hosting-prod is a protected environment \(the configuration lists it under "protected"\): "deploy sophia-dashboard@a1a1a1a .*" needs a person's approval.*--yes/,
    );
    await t.s3.settle();
    const writes = t.s3.requests.slice(before).filter((r) => !['GET', 'HEAD'].includes(r.method));
    expect(writes.filter((r) => r.bucket === PROD_HOSTING)).toEqual([]);
    expect(writes.filter((r) => r.key.includes('/state/dashboard-hosting-prod/'))).toEqual([]);

    for (const commit of [COMMITS[0], COMMITS[1]] as string[]) {
      const approved = await run(['deploy', '--stack', prod, '--commit', commit, '--yes', '--json']);
      expect(approved.code, approved.stderr).toBe(0);
    }
    const rollback = await run(['rollback', '--stack', prod]);
    expect(rollback.code).toBe(2);
    expect(rollback.stderr).toMatch(
      /protected environment \(the configuration lists it under "protected"\): "roll back dashboard-hosting-prod to .*" needs a person's approval/,
    );
    const status = JSON.parse((await run(['status', '--stack', prod, '--json'])).stdout);
    expect(status.live.commit).toBe(COMMITS[1]);
  });

  it('refuses bad input with a clear message, exit code 2, no stack trace, nothing uploaded', async () => {
    await t.s3.settle();
    const before = t.s3.requests.length;
    const missing = await run([
      'publish',
      join(t.tmp, 'nope'),
      '--app',
      APP,
      '--commit',
      'e5e5e5e5e5'.repeat(4),
      '--stack',
      outputs,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist or is not a directory/);
    expect(missing.stderr).not.toMatch(/at .*\.ts:\d+/);
    // A build directory of the project that is a symlink leaving it (committed as `dist`, say).
    const elsewhere = await mkdtemp(join(tmpdir(), 'frontendops-elsewhere-'));
    try {
      const outside = await writeFixtureBuild(join(elsewhere, 'site'), { version: 'away' });
      await symlink(outside.dir, join(t.tmp, 'linked-dist'));
      const linked = await run([
        'publish',
        'linked-dist',
        '--app',
        APP,
        '--commit',
        'e5e5e5e5e5'.repeat(4),
        '--stack',
        outputs,
      ]);
      expect(linked.code, linked.stderr).toBe(2);
      expect(linked.stderr).toContain(
        `The build directory ${join(t.tmp, 'linked-dist')} is in the repository ${t.tmp}, but it is a symlink, or under one, to ${outside.dir}, outside it`,
      );
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
    const badCommit = await run(['deploy', '--stack', outputs, '--commit', 'not-a-sha']);
    expect(badCommit.code).toBe(2);
    expect(badCommit.stderr).toMatch(/is not a commit sha: expected 7 to 64 lower-case hex/);
    const shortSha = await run(['deploy', '--stack', outputs, '--commit', 'ffffff0', '--json']);
    expect(shortSha.code).toBe(2);
    expect(shortSha.stderr).toMatch(
      /No build of sophia-dashboard is published for a commit starting with ffffff0/,
    );
    const unknownStack = await run(['status', '--stack', 'no-such-stack']);
    expect(unknownStack.code).toBe(2);
    expect(unknownStack.stderr).toMatch(/Unknown stack "no-such-stack"/);
    await t.s3.settle();
    expect(t.s3.requests.slice(before).filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
    expect(
      await t.site.artifacts.head(artifactFileKey(APP, 'e5e5e5e5e5'.repeat(4), '/index.html')),
    ).toBeNull();
  });

  it('a deploy whose tag cannot be made stops before going live; a change made is never exit 2', async () => {
    const stack = await t.writeOutputs({
      stack: 'dashboard-tagged',
      cdn: true,
      hostingBucket: TAGGED_HOSTING,
    });
    await publishToStack(t, { stack: 'dashboard-tagged', hostingBucket: TAGGED_HOSTING }, ciBuilds());
    const repo = await createTestRepo();
    try {
      const live = async () =>
        JSON.parse((await run(['status', '--stack', stack, '--json'])).stdout).live?.commit ?? null;
      const first = await run(['deploy', '--stack', stack, '--commit', COMMITS[0] as string, '--no-tag']);
      expect(first.code, first.stderr).toBe(0);
      await t.s3.settle();
      const before = t.s3.requests.length;
      const cdnMark = t.cdn.mark();

      // The published build's commit is not in the repository the tag goes to (nor a commit git can
      // resolve a short sha to). Refused before anything is written, saying what to do.
      const notInRepo = await run([
        'deploy',
        '--stack',
        stack,
        '--commit',
        COMMITS[1] as string,
        '--repo',
        repo.dir,
      ]);
      expect(notInRepo.code, notInRepo.stderr).toBe(2);
      expect(notInRepo.stderr).toMatch(
        /b2b2b2b2b2b2b2b2 is not a commit the git repository knows: .* Nothing was changed\. Give more of the sha or all of it/s,
      );
      // A tag on GitHub needs a token; without one the deploy would go live and then fail to tag.
      const noToken = await cli(
        ['deploy', '--stack', stack, '--commit', COMMITS[1] as string, '--github', 'acme/dashboard'],
        {
          env: { ...cliEnv, GITHUB_TOKEN: '' },
          cwd: t.tmp,
        },
      );
      expect(noToken.code, noToken.stderr).toBe(2);
      expect(noToken.stderr).toMatch(/GITHUB_TOKEN.*Nothing was changed/s);
      // A promote names its release first too.
      const promote = await run(['promote', COMMITS[1] as string, '--stack', stack, '--repo', repo.dir]);
      expect(promote.code, promote.stderr).toBe(2);
      expect(promote.stderr).toMatch(
        /b2b2b2b2b2b2b2b2 is not a commit the git repository knows: .* Nothing was changed/s,
      );
      await t.s3.settle();
      expect(t.s3.requests.slice(before).filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
      expect(t.cdn.createRequests(cdnMark)).toEqual([]);
      expect(await live()).toBe(COMMITS[0]);

      // A rollback learns its destination as it runs: when that commit is not in the repository, the
      // rollback is live and recorded, and the missing tag is a failure (1), said as such, not a refusal.
      const second = await run(['deploy', '--stack', stack, '--commit', COMMITS[1] as string, '--no-tag']);
      expect(second.code, second.stderr).toBe(0);
      const rollback = await run(['rollback', '--stack', stack, '--repo', repo.dir]);
      expect(rollback.code, rollback.stderr).toBe(1);
      expect(rollback.stderr).toMatch(/is live and recorded, but its deploy tag was not made: .*a1a1a1a/s);
      expect(await live()).toBe(COMMITS[0]);
    } finally {
      await repo.cleanup();
    }
  });
});

const outputsTarget = () => t.target;
