/**
 * On an atomic stack, a deployment record no entry binds, named by its deploy id (a promote or
 * redeploy: resolveRelease; a preview), is judged by `audit verify` with the CDN's release store: an
 * atomic operation's record is a stopped change's only where the store serves its switch. When that
 * store does not answer (the network, a 5xx, access denied), the promote or preview must say so: what
 * could not be read, what to do, nothing changed. Never a silent pass (verify without the store
 * excuses any atomic/pending.json's record), and never TAMPERED for a genuine stopped change's record.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCloudFrontReleaseStore } from '../../src/adapters/cloudfront-kvs.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { resolveRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { startHttpServer } from '../../src/local/edge-http.ts';
import type { ReleaseStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { readAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { refusal } from '../support/refusal.ts';
import { stoppedAtEntryAfter } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;

/** How the KeyValueStore API fails to answer, as a server in front of it would. */
const failures: Record<string, (response: ServerResponse) => void> = {
  'the network (the connection is cut)': (response) => response.socket?.destroy(),
  'a 5xx': (response) => {
    response.writeHead(503, { 'content-type': 'application/json', 'x-amzn-errortype': 'ServiceUnavailable' });
    response.end(JSON.stringify({ Message: 'Service Unavailable' }));
  },
  'access denied': (response) => {
    response.writeHead(403, {
      'content-type': 'application/json',
      'x-amzn-errortype': 'AccessDeniedException',
    });
    response.end(JSON.stringify({ Message: 'User is not authorized to perform GetKey' }));
  },
};

describe('the CDN release store unreachable where a deploy id is asked for', () => {
  let t: AtomicEnv;
  let failing: { url: string; close(): Promise<void> };
  let fail: (response: ServerResponse) => void = () => undefined;
  let stoppedId = '';
  /**
   * The stack each case starts from, whichever ran before: V1 live and the deploy of V2 stopped
   * before its entry; and the same once that deploy was run again and finished, for the planted case.
   */
  let stopped: AtomicSnapshot;
  let finished: AtomicSnapshot;
  const prefix = () => t.target.statePrefix;

  beforeAll(async () => {
    t = await startAtomicEnv({ stack: 'release-store-unread' });
    failing = await startHttpServer(
      async (_request: IncomingMessage, response: ServerResponse) => {
        fail(response);
      },
      { host: '127.0.0.1', port: 0 },
    );
    await t.publishVersions([V1, V2]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request('first') });
    // A genuine deploy stopped between its deployment record and the entry that records it.
    const stopping = stoppedAtEntryAfter(t.site, (key) => key.startsWith(`${prefix()}deployments/`));
    await expect(
      deployArtifact(stopping, { app: APP, commit: V2, request: request('ship v2') }),
    ).rejects.toThrow('the process stopped');
    const listed = await t.site.state.list(`${prefix()}deployments/${V2.slice(0, 7)}-`);
    stoppedId = listed[0]?.key.slice(`${prefix()}deployments/`.length, -'.json'.length) ?? '';
    if (!stoppedId) throw new Error('the stopped deploy wrote its record');
    stopped = await snapshotAtomicEnv(t);
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2 again') });
    finished = await snapshotAtomicEnv(t);
  }, 180_000);
  beforeEach(() => stopped.restore());
  afterAll(async () => {
    await failing?.close();
    await t?.stop();
  });

  /**
   * The stack with its release store answering its first `answered` reads, then failing as `how`
   * (through the production adapter, one attempt per request).
   */
  async function unreachable(how: string, answered = 0): Promise<Site> {
    fail = failures[how] as (response: ServerResponse) => void;
    const broken = createCloudFrontReleaseStore({
      kvsArn: t.target.releaseStoreArn as string,
      endpoint: failing.url.replace('127.0.0.1', 'localhost'),
      credentials: t.s3.credentials,
      maxAttempts: 1,
    });
    const real = t.store();
    let reads = 0;
    const releases: ReleaseStore = {
      read: () => (reads++ < answered ? real.read() : broken.read()),
      write: () => Promise.reject(new Error('no write is expected')),
      previewSecret: () => real.previewSecret(),
      anchorAuditHead: (head, etag) => real.anchorAuditHead(head, etag),
    };
    return t.open({ releases });
  }

  /**
   * Nothing written to the state or the hosting bucket since `mark`: the deploy lock's own object, and
   * the probe a newly opened site makes of conditional writes, aside.
   */
  async function nothingWrittenSince(mark: number, head: number) {
    const writes = (await t.requestsSince(mark)).filter(
      (r) =>
        r.method !== 'GET' && r.method !== 'HEAD' && !r.key.includes('/locks/') && !r.key.includes('/probe/'),
    );
    expect(writes.map((r) => `${r.method} ${r.key}`)).toEqual([]);
    expect(await readAudit(t.site.state, prefix())).toHaveLength(head);
  }

  function expectSaysUnread(error: Error & { code?: string }, deployId: string) {
    expect(isFrontendOpsError(error, 'UPSTREAM'), String(error)).toBe(true);
    expect(error.message).toMatch(/release store/);
    expect(error.message).toMatch(/could not be read/);
    expect(error.message).toContain(`deployments/${deployId}.json`);
    expect(error.message).toMatch(/Nothing was changed/);
    expect(error.message).toMatch(/ask again/i);
    expect(error.message).not.toMatch(/not written by FrontendOps/);
    // Never the store's address or ARN (the agent sees this answer).
    expect(error.message).not.toMatch(/127\.0\.0\.1|localhost|arn:aws/);
  }

  for (const how of Object.keys(failures)) {
    it(`through ${how}: a promote of a stopped deploy's id says the store could not be read`, async () => {
      const site = await unreachable(how);
      const head = (await readAudit(t.site.state, prefix())).length;
      const mark = await t.mark();
      const error = await refusal(resolveRelease(site, APP, stoppedId));
      expectSaysUnread(error, stoppedId);
      await nothingWrittenSince(mark, head);
    });
  }

  it("a preview of the stopped deploy's id, the store down: says what could not be read, nothing changed", async () => {
    const site = await unreachable('a 5xx');
    const head = (await readAudit(t.site.state, prefix())).length;
    const mark = await t.mark();
    const error = await refusal(previewLink(site, { deployId: stoppedId, request: request('preview') }));
    expect(isFrontendOpsError(error, 'UPSTREAM'), String(error)).toBe(true);
    expect(error.message).toMatch(/KeyValueStore/);
    expect(error.message).toMatch(/try again/i);
    expect(error.message).not.toMatch(/not written by FrontendOps/);
    await nothingWrittenSince(mark, head);
  });

  it('once the store answers, the stopped deploy is told as such, and resolves when finished', async () => {
    const error = await refusal(resolveRelease(t.site, APP, stoppedId));
    expect(isFrontendOpsError(error, 'CONFLICT'), String(error)).toBe(true);
    await deployArtifact(t.site, { app: APP, commit: V2, request: request('ship v2 again') });
    expect(await resolveRelease(t.site, APP, stoppedId)).toEqual({
      app: APP,
      commit: V2,
      deployId: stoppedId,
    });
  });

  it('a preview of a planted record, the store failing after its first read: says so, nothing changed', async () => {
    await finished.restore();
    // A record no entry binds, under an id nothing deployed: verify needs the store to call it forged
    // (an atomic/pending.json could name it), and the preview has read the store once by then.
    const [newest] = (await t.site.records.listReleases(1)).releases;
    if (!newest) throw new Error('a release is recorded');
    const planted = `${V2.slice(0, 7)}-0123456789`;
    const key = `${prefix()}deployments/${planted}.json`;
    await t.site.state.put(key, JSON.stringify({ ...newest, deployId: planted }), {
      contentType: 'application/json',
    });
    try {
      const site = await unreachable('a 5xx', 1);
      const head = (await readAudit(t.site.state, prefix())).length;
      const mark = await t.mark();
      const error = await refusal(previewLink(site, { deployId: planted, request: request('preview') }));
      expectSaysUnread(error, planted);
      await nothingWrittenSince(mark, head);
      // Once the store answers, it is what it is: written around the chain.
      const forged = await refusal(resolveRelease(t.site, APP, planted));
      expect(isFrontendOpsError(forged, 'TAMPERED'), String(forged)).toBe(true);
    } finally {
      await t.site.state.delete([key]);
    }
  });
});
