/**
 * An in-place deploy whose copies fail after it replaced visible files — its robots.txt is copied,
 * then the copy of its HTML fails (S3 refused it, the network went) — while it holds the lock. It
 * puts the live release's version of what it replaced back before it fails, so visitors get one
 * release, and the error says so; run again, it finishes. Before, the site served the new
 * robots.txt beside the old HTML until someone ran it again, and the error said nothing of it.
 * Where putting back fails too, the error says the site may serve a mix, and what to run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { type FixtureBuild, writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'deploy', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
const commits = ['a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3'] as const;
const builds = new Map<string, FixtureBuild>();
let t: TestDeployEnv;
/**
 * The state prefix and hosting bucket each case starts from, whichever ran before: the three builds
 * published and nothing deployed; then the first two deployed, b2b2b2b live.
 */
let published: BucketSnapshot;
let secondLive: BucketSnapshot;
const snapshot = () => snapshotStack(t.site);

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'stopped-copy' });
  for (const [i, commit] of commits.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `b${i}`), {
      version: `v${i}`,
      robots: `User-agent: *\n# build ${i}\n`,
    });
    builds.set(commit, build);
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
  }
  published = await snapshot();
  for (const commit of commits.slice(0, 2)) await deployArtifact(t.site, { app: APP, commit, request });
  secondLive = await snapshot();
}, 180_000);
afterAll(() => t?.stop());

/**
 * The site as a process sees it whose copies of `commit`'s HTML fail; with `putBackFails`, every copy
 * after that too (those that put the live release's files back).
 */
function failingHtml(site: Site, commit: string, putBackFails = false): Site {
  let failed = false;
  const hosting: ObjectStore = {
    ...site.hosting,
    async copyFrom(source, key, meta) {
      if ((key.endsWith('.html') && source.key.includes(commit)) || (failed && putBackFails)) {
        failed = true;
        throw new FrontendOpsError('UPSTREAM', `S3 refused the copy of ${key} (500 InternalError).`);
      }
      return site.hosting.copyFrom(source, key, meta);
    },
  };
  return { ...site, hosting };
}

/** What the hosting bucket serves by name: index.html and robots.txt. */
async function served() {
  const read = async (key: string) => (await t.site.hosting.get(key))?.body.toString('utf8');
  return { html: await read('index.html'), robots: await read('robots.txt') };
}
const filesOf = (commit: string) => {
  const build = builds.get(commit) as FixtureBuild;
  return { html: build.files['/index.html'], robots: build.files['/robots.txt'] };
};

describe('an in-place deploy whose HTML copy fails after its other visible files landed', () => {
  it('puts the live release’s files back and says so; run again, it finishes', async () => {
    await published.restore();
    await deployArtifact(t.site, { app: APP, commit: commits[0], request });
    const failed = deployArtifact(failingHtml(t.site, commits[1]), { app: APP, commit: commits[1], request });
    await expect(failed).rejects.toThrow(
      /refused the copy of index\.html.*1 visible file\(s\).*put back to the live release's \(a1a1a1a\S*, sophia-dashboard@a1a1a1a\), so the site serves it whole\. Run the deploy again to finish it\./s,
    );
    expect(await served()).toEqual(filesOf(commits[0]));
    expect((await t.site.records.readPointer())?.value.commit).toBe(commits[0]);

    const again = await deployArtifact(t.site, { app: APP, commit: commits[1], request });
    expect(again.outcome).toBe('succeeded');
    expect(await served()).toEqual(filesOf(commits[1]));
  });

  it('says the site may serve a mix when putting back fails too', async () => {
    await secondLive.restore();
    const failed = deployArtifact(failingHtml(t.site, commits[2], true), {
      app: APP,
      commit: commits[2],
      request,
    });
    await expect(failed).rejects.toThrow(
      /putting the live release's back failed .*the site may serve a mix of b2b2b2b\S*, sophia-dashboard@b2b2b2b and this deploy until you run the deploy again/s,
    );
    // The mix it warns of: the new robots.txt beside the old HTML.
    expect(await served()).toEqual({ html: filesOf(commits[1]).html, robots: filesOf(commits[2]).robots });
    await deployArtifact(t.site, { app: APP, commit: commits[2], request });
    expect(await served()).toEqual(filesOf(commits[2]));
  });
});
