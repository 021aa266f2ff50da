/**
 * Preview links and retention of atomic releases through the real engine and the local edge: a
 * signed, expiring link shows a build that is not live; pruning keeps the last K releases, the
 * canary and open previews, and deletes a replaced release only after the pointer moved and the
 * edge's propagation delay passed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyPreviewToken } from '../../src/atomic/preview-token.ts';
import { releaseIndexOf } from '../../src/deploy/atomic-apply.ts';
import { deployAtomic } from '../../src/deploy/atomic-deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { releaseIdFor } from '../../src/engine/atomic-plan.ts';
import { artifactDigest } from '../../src/engine/manifest.ts';
import type { Manifest } from '../../src/engine/types.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { createAtomicRecords } from '../../src/state/atomic.ts';
import { readAudit, stateDigest, verifyAudit } from '../../src/state/audit.ts';
import {
  APP,
  type AtomicEnv,
  COLLIDING_COMMITS,
  HOSTING,
  request,
  startAtomicEnv,
} from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { forgeEntryPastHead } from '../support/audit-forgery.ts';
import { Browser, releaseOf } from '../support/edge-probe.ts';

const PROPAGATION_MS = 300;
const C = ['0101010101010101', '0202020202020202', '0303030303030303', '0404040404040404'];
let t: AtomicEnv;
/**
 * A stack of its own, nothing deployed on it: the first case runs there, whichever ran before (a
 * release store cannot be emptied again, so no snapshot of `t` can start it).
 */
let fresh: AtomicEnv;
/** Hosting keys at each DeleteObjects, with which release pointer the edge saw at that moment. */
const deletions: Array<{
  keys: readonly string[];
  visible: string | undefined;
  current: string | undefined;
}> = [];
let site: Site;
/**
 * The stack each case starts from, whichever ran before, on `t`: C0 (v1) live; then a preview of C1
 * open beside it; then C2 deployed over them, which pruned v1.
 */
let v1Live: AtomicSnapshot;
let previewOpen: AtomicSnapshot;
let v1Pruned: AtomicSnapshot;
/** The release v1 went up as on `t`. */
let v1Id = '';

const started = async () => {
  const env = await startAtomicEnv({ propagationMs: PROPAGATION_MS, retain: 1 });
  await env.publishVersions(C);
  return env;
};
beforeAll(async () => {
  [fresh, t] = await Promise.all([started(), started()]);
  const opened = await t.open({ retain: 1 });
  site = {
    ...opened,
    hosting: {
      ...opened.hosting,
      delete: async (keys) => {
        deletions.push({
          keys,
          visible: t.edge.atomic?.visibleEtag(),
          current: t.edge.atomic?.currentEtag(),
        });
        return opened.hosting.delete(keys);
      },
    },
  };
  v1Id = (await deployAtomic(site, { app: APP, commit: C[0] as string, request: request() })).releaseId;
  v1Live = await snapshotAtomicEnv(t);
  await previewLink(site, { app: APP, commit: C[1] as string, ttlSeconds: 3600, request: request() });
  previewOpen = await snapshotAtomicEnv(t);
  await deployAtomic(site, { app: APP, commit: C[2] as string, request: request() });
  v1Pruned = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(async () => {
  await fresh?.stop();
  await t?.stop();
});

const keys = async () => (await site.hosting.list()).map((o) => o.key);

/**
 * What the ground build serves at each path the cases fetch through the edge (a page only the other
 * build has: 404). Not the favicon (max-age=300): the edge caches it under the release's key, which
 * the cases of the two builds share, so it is read from the bucket.
 */
const GROUND_FILES = {
  '/': 'ground',
  '/manifest.webmanifest': '{"name":"Sophia ground"}',
  '/old.html': 404,
};

/** What `browser` is served at each of GROUND_FILES' paths: the page's release name, else the body (or status). */
const servedFiles = async (browser: Browser) => {
  const files: Record<string, string | number> = {};
  for (const path of Object.keys(GROUND_FILES)) {
    if (path === '/') files[path] = releaseOf((await browser.navigate('/')).body) ?? '';
    else {
      const got = await browser.get(path);
      files[path] = got.status === 200 ? got.body : got.status;
    }
  }
  return files;
};

/**
 * COLLIDING_COMMITS published, and a deploy of the first ('kept') stopped at its copy of index.html,
 * after its other files (as a process killed there): no release index under the id. `stray`: a page
 * the ground build does not have put under the id too, as a build with other paths would leave it.
 * Returns the id and that page's key.
 */
async function stoppedBeforeIndex(options: { stray?: boolean } = {}): Promise<[string, string]> {
  const [first, ground] = COLLIDING_COMMITS;
  await t.publish(first, 'kept');
  await t.publish(ground, 'ground');
  const manifest = (await readManifest(site.artifacts, APP, first)) as Manifest;
  const id = releaseIdFor({ commit: first, artifactDigest: artifactDigest(manifest) });
  const stopping: Site = {
    ...site,
    hosting: {
      ...site.hosting,
      copyFrom: async (...args) => {
        if (args[1] === `_releases/${id}/index.html`) throw new Error('the process stopped');
        return site.hosting.copyFrom(...args);
      },
    },
  };
  await expect(deployAtomic(stopping, { app: APP, commit: first, request: request() })).rejects.toThrow(
    'the process stopped',
  );
  const stray = `_releases/${id}/old.html`;
  expect(await keys()).toContain(`_releases/${id}/favicon.ico`);
  if (options.stray !== false)
    await site.hosting.put(stray, Buffer.from('<p>only the stopped build has this page</p>'), {
      contentType: 'text/html',
      cacheControl: 'no-cache',
    });
  return [id, stray];
}

describe('preview links', () => {
  beforeEach(() => v1Live.restore());

  it('refuses before anything is live atomically, and without a release to name', async () => {
    const site = fresh.site;
    const early = await previewLink(site, { app: APP, commit: C[1] as string, request: request() }).catch(
      (e: unknown) => e,
    );
    expect(isFrontendOpsError(early, 'CONFLICT')).toBe(true);
    await deployAtomic(site, { app: APP, commit: C[0] as string, request: request() });
    await expect(previewLink(site, { request: request() })).rejects.toThrow(
      /deploy id or by a published commit/,
    );
    await expect(
      previewLink(site, { app: APP, commit: C[1] as string, ttlSeconds: 30 * 24 * 3600, request: request() }),
    ).rejects.toThrow(/from 60 seconds to 168 hours/);
    // What is not a deploy id is refused in words, never sent on as an object key (S3's own error
    // about a path or a 1,100-character key named the bucket and state prefix).
    for (const deployId of ['../x', 'a'.repeat(1100)]) {
      const refused = await previewLink(site, { deployId, request: request() }).catch((e: unknown) => e);
      expect(isFrontendOpsError(refused, 'BAD_INPUT'), String(refused)).toBe(true);
      expect((refused as Error).message).toMatch(
        /is not a deploy id: expected 7 hex digits.*frontendops history/,
      );
    }
  });

  /**
   * Two builds whose release ids agree (COLLIDING_COMMITS: as whoever can write the artifacts bucket
   * could grind a build to a kept release's id). A deploy of the second is refused (engine/atomic-plan.test.ts);
   * before, its preview was made: it wrote its release index over the kept release's, and its link
   * served that release's index.html under its own name.
   */
  it('refuses a preview of a build whose release id is a kept release’s, nothing written', async () => {
    const [kept, ground] = COLLIDING_COMMITS;
    await t.publish(kept, 'kept');
    await t.publish(ground, 'ground');
    await deployAtomic(site, { app: APP, commit: kept, request: request() });
    const ids = await Promise.all(
      COLLIDING_COMMITS.map(async (commit) => {
        const manifest = (await readManifest(site.artifacts, APP, commit)) as Manifest;
        return releaseIdFor({ commit, artifactDigest: artifactDigest(manifest) });
      }),
    );
    expect(ids[1]).toBe(ids[0]);
    const stored = async () => ({
      keys: await keys(),
      state: (await site.state.list(t.target.statePrefix)).map((o) => [o.key, o.etag]),
      pointer: await t.store().read(),
    });
    const before = await stored();
    const refused = await previewLink(site, { app: APP, commit: ground, request: request() }).catch(
      (e: unknown) => e,
    );
    expect(isFrontendOpsError(refused, 'CONFLICT'), JSON.stringify(refused)).toBe(true);
    expect((refused as Error).message).toMatch(
      new RegExp(`release id ${ids[0]} of ${APP}@c0111de .*another build.*Nothing was changed`),
    );
    expect(await stored()).toEqual(before);
  });

  /**
   * The same two builds, the first no longer kept (its preview expired) but its files and release
   * index still in the hosting and state buckets (nothing has pruned them since). Before, a preview
   * or a deploy of the ground build found them under its id and served them as its own.
   */
  it('refuses a build ground to the id of a release no longer kept but still stored', async () => {
    const [old, ground] = COLLIDING_COMMITS;
    await t.publish(old, 'kept');
    await t.publish(ground, 'ground');
    const start = Date.now();
    const opened = await previewLink(site, { app: APP, commit: old, ttlSeconds: 60, request: request() });
    const later = { now: () => new Date(start + 3_600_000), request: request() };
    const stored = async () => ({
      keys: await keys(),
      state: (await site.state.list(t.target.statePrefix)).map((o) => [o.key, o.etag]),
      pointer: await t.store().read(),
    });
    const before = await stored();
    expect(before.keys.filter((k) => k.startsWith(`_releases/${opened.releaseId}/`)).length).toBeGreaterThan(
      0,
    );
    const refusals = [
      await previewLink(site, { ...later, app: APP, commit: ground, verify: false }).catch((e: unknown) => e),
      await deployAtomic(site, { ...later, app: APP, commit: ground }).catch((e: unknown) => e),
    ];
    for (const refused of refusals) {
      expect(isFrontendOpsError(refused, 'CONFLICT'), JSON.stringify(refused)).toBe(true);
      expect((refused as Error).message).toMatch(
        new RegExp(`release id ${opened.releaseId} of ${APP}@c0111de .*another build.*Nothing was changed`),
      );
    }
    expect(await stored()).toEqual(before);
  });

  /**
   * The same two builds, a deploy of the first stopped after its other files, before its HTML and
   * its release index: its files are under the id, which nothing keeps and no index vouches for.
   * Before, a deploy of the ground build counted them as its own and copied only
   * its index.html: it went live serving the stopped build's favicon and web manifest, and a page
   * only that build has (`/old.html`, planted here: the two builds have the same paths).
   */
  it('a build ground to the id of a deploy stopped before its index goes live with its own files', async () => {
    const [id, stray] = await stoppedBeforeIndex();
    const deployed = await deployAtomic(site, { app: APP, commit: COLLIDING_COMMITS[1], request: request() });
    expect([deployed.outcome, deployed.releaseId]).toEqual(['succeeded', id]);
    expect(await servedFiles(new Browser(t.edge.url))).toEqual(GROUND_FILES);
    expect((await site.hosting.get(`_releases/${id}/favicon.ico`))?.body.toString()).toBe('icon ground');
    expect(await keys()).not.toContain(stray);
  });

  /**
   * A preview of the ground build there is refused: it would copy its files over the stopped
   * deploy's, whose crash-recovery record (which a preview leaves for the next change) vouches for
   * them when that build is deployed again. A change settles the record first (the case above).
   */
  it('a preview of a build ground to the id of a deploy stopped before its index is refused, nothing written', async () => {
    const [id] = await stoppedBeforeIndex();
    const stored = async () => ({
      keys: await keys(),
      state: (await site.state.list(t.target.statePrefix)).map((o) => [o.key, o.etag]),
      pointer: await t.store().read(),
    });
    const before = await stored();
    const refused = await previewLink(site, {
      app: APP,
      commit: COLLIDING_COMMITS[1],
      request: request(),
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(refused, 'CONFLICT'), String(refused)).toBe(true);
    expect((refused as Error).message).toMatch(
      new RegExp(`A deploy of ${APP}@c0111de, another build with the release id ${id} .*Nothing was changed`),
    );
    expect(await stored()).toEqual(before);
  });

  /**
   * The stopped deploy's own build run again: its crash-recovery record vouches for what it copied,
   * so only the HTML it had not copied yet is copied (as before this rule: no more requests), as its
   * dry run says.
   */
  it('the stopped build deployed again copies only what its stopped deploy had not', async () => {
    await stoppedBeforeIndex({ stray: false });
    const dry = await deployAtomic(site, {
      app: APP,
      commit: COLLIDING_COMMITS[0],
      request: request(),
      dryRun: true,
    });
    expect(dry.plan.copies.map((c) => c.key)).toEqual([`_releases/${dry.releaseId}/index.html`]);
    const mark = await t.mark();
    const deployed = await deployAtomic(site, { app: APP, commit: COLLIDING_COMMITS[0], request: request() });
    expect([deployed.outcome, deployed.copied]).toEqual(['succeeded', 1]);
    expect(await servedFiles(new Browser(t.edge.url))).toEqual({
      '/': 'kept',
      '/manifest.webmanifest': '{"name":"Sophia kept"}',
      '/old.html': 404,
    });
    const favicon = await site.hosting.get(`_releases/${deployed.releaseId}/favicon.ico`);
    expect(favicon?.body.toString()).toBe('icon kept');
    const copies = (await t.requestsSince(mark)).filter((r) => r.bucket === HOSTING && r.copySource);
    expect(copies.map((r) => r.key)).toEqual([`_releases/${deployed.releaseId}/index.html`]);
  });

  it('shows a published build that is not live at a signed, expiring link; everyone else keeps the live one', async () => {
    const checkCookies: string[] = [];
    const link = await previewLink(site, {
      app: APP,
      commit: (C[1] as string).slice(0, 7),
      ttlSeconds: 3600,
      request: request('give me a preview of the latest build'),
      fetch: (input, init) => {
        checkCookies.push(new Headers(init?.headers).get('cookie') ?? '');
        return fetch(input, init);
      },
    });
    expect(link).toMatchObject({ app: APP, commit: C[1], copied: 6 });
    expect(link.verification?.ok).toBe(true);
    const url = new URL(link.url);
    expect(url.origin).toBe(new URL(t.edge.url).origin);
    const token = url.searchParams.get('fo_preview') as string;
    // The check sends the session's cookie, and the link's name, which a function deployed before
    // the __Host- cookie reads (the tool upgraded before the distribution).
    expect(checkCookies.length).toBeGreaterThan(0);
    expect(new Set(checkCookies)).toEqual(new Set([`__Host-fo_preview=${token}; fo_preview=${token}`]));
    const secret = await t.store().previewSecret();
    expect(verifyPreviewToken(token, secret)).toMatchObject({ ok: true, releaseId: link.releaseId });
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(3500_000);

    const reviewer = new Browser(t.edge.url);
    const page = await reviewer.navigate(`${url.pathname}${url.search}`);
    expect([page.hops, releaseOf(page.body)]).toEqual([[302, 200], 'v2']);
    expect(releaseOf((await reviewer.navigate('/accounts')).body)).toBe('v2');
    expect(releaseOf((await new Browser(t.edge.url).navigate('/')).body)).toBe('v1');
    // The link is a preview only: the pointer and the state still name the live release.
    expect((await site.records.readPointer())?.value.commit).toBe(C[0]);
    const forged = await reviewer.navigate(`/?fo_preview=${token.slice(0, -2)}xx`);
    expect(forged.hops).toEqual([403]);
    const audit = (await readAudit(site.state, t.target.statePrefix)).at(-1);
    expect(audit).toMatchObject({ type: 'preview', data: { commit: C[1], releaseId: link.releaseId } });
    // The entry binds the state the preview wrote (its open links), so an edit to them is found.
    const state = await site.state.get(`${t.target.statePrefix}atomic/state.json`);
    expect(audit?.objects?.['atomic/state.json']).toBe(
      stateDigest(JSON.parse(state?.body.toString('utf8') ?? 'null')),
    );
    expect(await verifyAudit(site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
  });
});

describe('retention', () => {
  beforeEach(() => v1Pruned.restore());

  it('deletes the replaced release only after the pointer moved and the edge saw it; keeps the open preview', async () => {
    await previewOpen.restore();
    const v1 = `_releases/${v1Id}/`;
    expect((await keys()).some((k) => k.startsWith(v1))).toBe(true);
    const previewed = (await createAtomicRecords(site.state, t.target.statePrefix).readState()).previews[0];
    deletions.length = 0;
    const summary = await deployAtomic(site, { app: APP, commit: C[2] as string, request: request() });
    expect(summary.outcome).toBe('succeeded');
    const after = await keys();
    expect(after.some((k) => k.startsWith(v1))).toBe(false);
    expect(after.some((k) => k.startsWith(`_releases/${previewed?.releaseId}/`))).toBe(true);
    expect(after.some((k) => k.startsWith(`_releases/${summary.releaseId}/`))).toBe(true);
    // One deletion, after the edge saw the new pointer (the propagation delay had passed).
    expect(deletions).toHaveLength(1);
    expect(deletions[0]?.visible).toBe(deletions[0]?.current);
    expect(deletions[0]?.keys.filter((k) => k.startsWith(v1))).toHaveLength(4);
    // v1's own assets went with it; the vendor chunk every release shares stayed.
    expect(
      deletions[0]?.keys.filter((k) => k.startsWith('assets/')).map((k) => k.replace(/-.*/, '')),
      JSON.stringify({ deletions, after }),
    ).toEqual(['assets/app', 'assets/style']);
    expect(after.filter((k) => k.startsWith('assets/vendor-'))).toHaveLength(1);
    expect((await site.records.readRecord(summary.deployId))?.deleted).toHaveLength(6);
  });

  it('a preview of a pruned release uploads it again; the link works', async () => {
    const first = (await site.records.listRecords()).records.find((r) => r.commit === C[0]);
    const link = await previewLink(site, { deployId: first?.deployId as string, request: request() });
    expect(link.copied).toBe(6);
    expect(link.verification?.ok).toBe(true);
    const page = await new Browser(t.edge.url).navigate(
      new URL(link.url).pathname + new URL(link.url).search,
    );
    expect(releaseOf(page.body)).toBe('v1');
  });

  it('a release index whose files were never uploaded is not vouched for: the preview uploads them; the link works', async () => {
    // Written as FrontendOps makes it, by someone who can write the state bucket: before, the preview
    // bound it as "every file in place", copied nothing, and the link served nothing.
    const commit = C[3] as string;
    const manifest = (await readManifest(site.artifacts, APP, commit)) as Manifest;
    const digest = artifactDigest(manifest);
    const ref = {
      releaseId: releaseIdFor({ commit, artifactDigest: digest }),
      app: APP,
      commit,
      artifactDigest: digest,
    };
    const records = createAtomicRecords(site.state, t.target.statePrefix);
    await records.writeReleaseIndex(releaseIndexOf(ref, manifest, new Date().toISOString()));
    const link = await previewLink(site, { app: APP, commit, request: request() });
    expect(link.copied).toBeGreaterThan(0);
    expect(link.verification?.ok).toBe(true);
    const page = await new Browser(t.edge.url).navigate(
      new URL(link.url).pathname + new URL(link.url).search,
    );
    expect(releaseOf(page.body)).toBe('v4');
    expect((await verifyAudit(site.state, t.target.statePrefix)).problems).toEqual([]);
  });
});

describe('preview on an edited audit log', () => {
  beforeEach(() => v1Pruned.restore());

  it('an entry past the head that does not follow from it stops the preview before anything is written', async () => {
    // The newest entry edited and re-hashed: well formed, but chained to nothing in this log. The
    // preview's own append would refuse it, so it must refuse before its state and copies, not after.
    await forgeEntryPastHead(site.state, t.target.statePrefix);
    const atomic = createAtomicRecords(site.state, t.target.statePrefix);
    const before = await atomic.readState();
    const mark = await t.mark();
    const error = await previewLink(site, {
      app: APP,
      commit: C[1] as string,
      request: request(),
      verify: false,
    }).catch((e: unknown) => e);
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/after the entry its head names .*but it does not follow/);
    expect((await t.requestsSince(mark)).filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual(
      [],
    );
    expect(await atomic.readState()).toEqual(before);
  });
});
