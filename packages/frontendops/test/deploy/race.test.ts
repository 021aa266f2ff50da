/**
 * Two deploys that no lock keeps apart (each has a file lock of its own, as on two machines, or as
 * when an S3 lock expired under its holder) race to
 * switch one site, stopped at exact points of their work so they interleave as a test says. Whatever
 * the order, the site never ends half switched — the served index.html is the one of the release
 * live.json names — and a prober fetching index.html and every asset it references every 20–50 ms
 * through the race never sees a broken page.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileLocker } from '../../src/adapters/lock-file.ts';
import { createS3Client } from '../../src/adapters/s3.ts';
import { type DeploySummary, deployArtifact } from '../../src/deploy/deploy.ts';
import type { DeployTarget } from '../../src/engine/types.ts';
import type { FrontendOpsError } from '../../src/errors.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { createStateRecords, type RequestInfo } from '../../src/state/records.ts';
import { ARTIFACTS, HOSTING, publishAsCi } from '../support/deploy-env.ts';
import { type FixtureBuild, referencedPaths, writeFixtureBuild } from '../support/fixture-build.ts';
import { heldPoint } from '../support/held-point.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';
import { type S3Proxy, startS3Proxy } from '../support/s3-proxy.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'deploy', actor: 'race', planner: 'cli', at: new Date().toISOString() };

let s3: TestS3;
let proxy: S3Proxy;
let upstream: ReturnType<typeof createS3Client>;
const builds = new Map<string, FixtureBuild>();
let published = 0;

beforeAll(async () => {
  s3 = await startTestS3([ARTIFACTS, HOSTING]);
  upstream = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
  // Conditional writes as S3 honours them (the embedded server alone ignores them).
  proxy = await startS3Proxy(s3.endpoint, upstream, { conditional: true });
});
afterAll(async () => {
  await proxy.close();
  upstream.destroy();
  await s3.stop();
});

/** Publishes three builds (the live one, and two racers) as CI does to `stack` and returns their commits. */
async function publishThree(stack: string, endpoint: string): Promise<[string, string, string]> {
  const site = await connectSite(targetFor(stack, endpoint), {
    access: { credentials: s3.credentials },
    lockDir: join(s3.dir, 'publish-locks'),
    onNotice: () => undefined,
  });
  try {
    return await publishThreeTo(site);
  } finally {
    site.close();
  }
}

async function publishThreeTo(site: Site): Promise<[string, string, string]> {
  const commits: string[] = [];
  for (let i = 0; i < 3; i++) {
    const n = ++published;
    const commit = `${String(n).padStart(2, '0')}`.repeat(8);
    // robots.txt differs per build: a visible file that is not HTML, copied before the HTML.
    const build = await writeFixtureBuild(join(s3.dir, `build-${n}`), {
      version: `v${n}`,
      robots: `User-agent: *\n# build ${n}\n`,
    });
    await publishAsCi(site, { dir: build.dir, app: APP, commit });
    builds.set(commit, build);
    commits.push(commit);
  }
  return commits as [string, string, string];
}

const targetFor = (stack: string, endpoint: string): DeployTarget => ({
  stack,
  artifactsBucket: ARTIFACTS,
  hostingBucket: HOSTING,
  stateBucket: ARTIFACTS,
  statePrefix: `.frontendops/state/${stack}/`,
  region: 'us-east-1',
  endpoint,
  prune: true,
});

type StopAt = 'after-assets' | 'after-other' | 'after-index' | 'before-pointer-write';

/**
 * A site of its own (own S3 client, own lock: nothing serialises it with the other racer) whose
 * deploy stops at `stopAt` until the test releases it.
 */
async function racer(stack: string, endpoint: string, name: string, stopAt: StopAt) {
  const site = await connectSite(targetFor(stack, endpoint), {
    access: { credentials: s3.credentials },
    onNotice: () => undefined,
  });
  const stop = heldPoint();
  let assetsToCopy = Number.POSITIVE_INFINITY;
  let assetsCopied = 0;
  let indexCopied = false;
  let otherCopied = false;
  let pointerWritten = false;
  const hosting: ObjectStore = {
    ...site.hosting,
    async copyFrom(source, key, meta) {
      const answer = await site.hosting.copyFrom(source, key, meta);
      if (key.startsWith('assets/') && ++assetsCopied === assetsToCopy && stopAt === 'after-assets')
        await stop.arrive();
      if (!key.startsWith('assets/') && !key.endsWith('.html') && !otherCopied) {
        otherCopied = true;
        if (stopAt === 'after-other') await stop.arrive();
      }
      if (key === 'index.html' && !indexCopied) {
        indexCopied = true;
        if (stopAt === 'after-index') await stop.arrive();
      }
      return answer;
    },
  };
  const state: ObjectStore = {
    ...site.state,
    // The switch's write of the pointer, held: the deploy has read the pointer it decides on (again
    // after the HTML without conditional writes; where they are honoured, the read before the HTML
    // that the compare-and-swap holds the write to).
    async put(key, body, meta, condition) {
      if (key.endsWith('/live.json') && indexCopied && !pointerWritten) {
        pointerWritten = true;
        if (stopAt === 'before-pointer-write') await stop.arrive();
      }
      return site.state.put(key, body, meta, condition);
    },
  };
  const gated: Site = {
    ...site,
    hosting,
    state,
    records: createStateRecords(state, site.target.statePrefix),
    // A lock of its own, even where the S3 lock would serialise the two (an expired or stolen lock).
    locker: createFileLocker(join(s3.dir, `locks-${name}`)),
  };
  const deploy = (commit: string): Promise<DeploySummary> =>
    deployArtifact(gated, {
      app: APP,
      commit,
      request,
      onEvent: (event) => {
        if (event.type === 'plan') assetsToCopy = event.plan.copies.filter((c) => c.group === 'asset').length;
      },
    });
  return { site, stop, deploy };
}

/**
 * Fetches index.html from the hosting bucket and every path it references, every 20–50 ms; a page
 * is broken when one of them is missing.
 */
function startProber(hosting: ObjectStore) {
  const broken: string[] = [];
  let probes = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const index = await hosting.get('index.html');
      if (index) {
        const html = index.body.toString('utf8');
        const missing = [];
        for (const path of referencedPaths(html))
          if (!(await hosting.head(path.slice(1)))) missing.push(path);
        if (missing.length > 0) broken.push(`${/<title>([^<]*)/.exec(html)?.[1]} → ${missing.join(', ')}`);
      }
      probes++;
      await sleep(20 + Math.random() * 30);
    }
  })();
  return {
    broken,
    /** Waits (bounded) for `count` more probes: the page was looked at in the current state. */
    async more(count = 2) {
      const until = probes + count;
      const deadline = Date.now() + 10_000;
      while (probes < until) {
        if (Date.now() > deadline) throw new Error('the prober stalled');
        await sleep(5);
      }
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** What is live and what is served agree, and every file the served page needs is there. */
async function expectWhole(site: Site, winner: string) {
  expect((await site.records.readPointer())?.value.commit, 'live.json names the winner').toBe(winner);
  const build = builds.get(winner) as FixtureBuild;
  const index = (await s3.store(HOSTING).get('index.html'))?.body.toString('utf8');
  expect(index, 'the served index.html is the live release’s').toBe(build.files['/index.html']);
  const robots = (await s3.store(HOSTING).get('robots.txt'))?.body.toString('utf8');
  expect(robots, 'the served robots.txt is the live release’s').toBe(build.files['/robots.txt']);
  for (const path of referencedPaths(index ?? ''))
    expect(await s3.store(HOSTING).head(path.slice(1)), path).not.toBeNull();
}

const lost = (error: unknown) => error as FrontendOpsError;

async function race(
  endpoint: string,
  stack: string,
  stops: [StopAt, StopAt],
  steps: (ctx: {
    first: Awaited<ReturnType<typeof racer>>;
    second: Awaited<ReturnType<typeof racer>>;
    commits: [string, string, string];
    prober: ReturnType<typeof startProber>;
  }) => Promise<string>,
) {
  const commits = await publishThree(stack, endpoint);
  // Each race is a stack of its own on the one hosting bucket: a new environment there, whose first
  // change would refuse the marker the last race's stack left (no entry of its chain wrote it).
  await s3.store(HOSTING).delete([ENVIRONMENT_MARKER]);
  const first = await racer(stack, endpoint, `${stack}-1`, stops[0]);
  const second = await racer(stack, endpoint, `${stack}-2`, stops[1]);
  const prober = startProber(s3.store(HOSTING));
  try {
    // What is live before the race.
    expect((await deployArtifact(first.site, { app: APP, commit: commits[0], request })).outcome).toBe(
      'succeeded',
    );
    await prober.more();
    const winner = await steps({ first, second, commits, prober });
    await prober.more();
    await expectWhole(first.site, winner);
  } finally {
    first.stop.release();
    second.stop.release();
    await prober.stop();
    first.site.close();
    second.site.close();
  }
  // The prober looked at the page in every state the race went through: each step waits for its
  // probes (prober.more, which fails where the prober stalled), not for a count the clock decides.
  expect(prober.broken, 'pages the prober found broken').toEqual([]);
}

describe.each([
  ['without conditional writes', false, () => s3.endpoint],
  ['with conditional writes', true, () => proxy.endpoint],
])('two deploys racing %s', (_mode, cas, endpointOf) => {
  const stack = (name: string) => `${name}-${cas ? 'cas' : 'plain'}`;

  it('one that finds the live release moved before its HTML stops without replacing a visible file', async () => {
    await race(endpointOf(), stack('moved'), ['after-assets', 'after-index'], async (r) => {
      const late = r.first.deploy(r.commits[1]);
      await r.first.stop.reached; // its new assets are copied; nothing visible yet
      await r.prober.more();
      r.second.stop.release();
      expect((await r.second.deploy(r.commits[2])).outcome).toBe('succeeded');
      await r.prober.more();
      await s3.settle();
      const copiedBefore = s3.requests.length;
      r.first.stop.release();
      const error = await late.then(() => null, lost);
      await s3.settle();
      const visible = s3.requests
        .slice(copiedBefore)
        .filter((q) => q.bucket === HOSTING && q.copySource && !q.key.startsWith('assets/'));
      expect(visible, 'visible files the stopped deploy copied').toEqual([]);
      expect(error?.code).toBe('PRECONDITION_FAILED');
      expect(error?.message).toMatch(/before any HTML or other visible file was replaced/);
      return r.commits[2];
    });
  });

  it('one that copied other visible files, then found the live release moved, puts them back', async () => {
    // Its check before the visible files passed; the other deploy ran to the end while it copied
    // them (no lock kept them apart). Before, it stopped at its HTML saying nothing visible was
    // replaced, and left its robots.txt beside the live release's HTML: the site half switched.
    await race(endpointOf(), stack('other-files'), ['after-other', 'after-index'], async (r) => {
      const late = r.first.deploy(r.commits[1]);
      await r.first.stop.reached; // its first non-HTML visible file is copied
      r.second.stop.release();
      expect((await r.second.deploy(r.commits[2])).outcome).toBe('succeeded');
      r.first.stop.release();
      const error = await late.then(() => null, lost);
      expect(error?.code).toBe('PRECONDITION_FAILED');
      expect(error?.message).toMatch(
        /changed while deploying.*visible file\(s\).*this deploy had replaced were put back.*serves it whole/s,
      );
      return r.commits[2];
    });
  });

  it('the one whose HTML landed last but lost the switch puts the winner’s HTML back', async () => {
    await race(endpointOf(), stack('html-last'), ['after-index', 'after-index'], async (r) => {
      const winner = r.first.deploy(r.commits[1]);
      await r.first.stop.reached;
      const loser = r.second.deploy(r.commits[2]);
      await r.second.stop.reached; // both copied their HTML, the loser's last: it is served now
      await r.prober.more();
      r.first.stop.release();
      expect((await winner).outcome).toBe('succeeded');
      await r.prober.more();
      r.second.stop.release();
      const error = await loser.then(() => null, lost);
      expect(error?.code).toBe('PRECONDITION_FAILED');
      expect(error?.message).toMatch(
        /went live on \S+ while this one \(\S+\) was switching\..*were put back/,
      );
      return r.commits[1];
    });
  });

  it('when both read the live pointer before either wrote it, the site ends whole on the one live.json names', async () => {
    await race(
      endpointOf(),
      stack('both-read'),
      ['before-pointer-write', 'before-pointer-write'],
      async (r) => {
        const early = r.first.deploy(r.commits[1]);
        await r.first.stop.reached;
        const late = r.second.deploy(r.commits[2]);
        await r.second.stop.reached; // both read the old pointer; the second one's HTML is served
        await r.prober.more();
        if (cas) {
          // The compare-and-swap lets the first through; the second's write names a stale version,
          // and its HTML, served until now, is replaced by the winner's.
          r.first.stop.release();
          expect((await early).outcome).toBe('succeeded');
          await r.prober.more();
          r.second.stop.release();
          const error = await late.then(() => null, lost);
          expect(error?.code).toBe('PRECONDITION_FAILED');
        } else {
          // Without it the last write wins: the second switches and finishes (pruning the first's
          // assets), then the first's write replaces the pointer, and it puts its own files back.
          r.second.stop.release();
          expect((await late).outcome).toBe('succeeded');
          await r.prober.more();
          r.first.stop.release();
          expect((await early).outcome).toBe('succeeded');
        }
        return r.commits[1];
      },
    );
  });
});
