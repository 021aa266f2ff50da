/**
 * What needs S3 semantics the embedded server lacks, through a proxy that adds them as S3 documents
 * (test/support/s3-proxy.ts): SDK retries with backoff on 503 SlowDown, and — with conditional
 * writes — the compare-and-swap live pointer, audit appends that take no lock, and a whole deploy
 * without a file lock (the S3 lock itself: lock-s3.test.ts).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { THROTTLE_BACKOFF_MS } from '../../src/adapters/retry.ts';
import { createS3Client, createS3Store } from '../../src/adapters/s3.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { takeDeployLock } from '../../src/deploy/deploy-lock.ts';
import { FrontendOpsError, holding } from '../../src/errors.ts';
import type { HeldLock, Locker, ObjectStore } from '../../src/ports.ts';
import { connectSite } from '../../src/stacks/open.ts';
import {
  type AuditEntry,
  appendAudit,
  heldForAppends,
  keepAuditHeads,
  readAudit,
  readAuditHead,
  recordedState,
  settleAuditHeads,
  verifyAudit,
} from '../../src/state/audit.ts';
import { ATOMIC_STATE, ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { assertStateAsRecorded } from '../../src/state/recorded-state.ts';
import { createStateRecords } from '../../src/state/records.ts';
import { auditEntryKey, rehash } from '../support/audit-forgery.ts';
import { startCloudFrontDouble } from '../support/cloudfront-double.ts';
import { ARTIFACTS, HOSTING, publishAsCi } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';
import { type HeldRequest, type S3Proxy, startS3Proxy } from '../support/s3-proxy.ts';

let s3: TestS3;
let proxy: S3Proxy;
let upstream: ReturnType<typeof createS3Client>;

beforeAll(async () => {
  s3 = await startTestS3([ARTIFACTS, HOSTING]);
  upstream = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
  proxy = await startS3Proxy(s3.endpoint, upstream, { conditional: true });
});
afterAll(async () => {
  await proxy.close();
  upstream.destroy();
  await s3.stop();
});
// Each test deploys a stack of its own to the one hosting bucket: a new environment there, whose
// first change would refuse the marker the last test's stack left (no entry of its chain wrote it).
beforeEach(() => s3.store(HOSTING).delete([ENVIRONMENT_MARKER]));

const store = (bucket: string, maxAttempts?: number) =>
  createS3Store({
    bucket,
    endpoint: proxy.endpoint,
    credentials: s3.credentials,
    ...(maxAttempts ? { maxAttempts } : {}),
  });

/** A site of stack `stack` (state under `.frontendops/state/<stack>/`) through the conditional proxy, as one process opens it. */
const siteOf = (stack: string) =>
  connectSite(
    {
      stack,
      artifactsBucket: ARTIFACTS,
      hostingBucket: HOSTING,
      stateBucket: ARTIFACTS,
      statePrefix: `.frontendops/state/${stack}/`,
      region: 'us-east-1',
      endpoint: proxy.endpoint,
      prune: true,
    },
    { access: { credentials: s3.credentials } },
  );

describe('S3 adapter retries', () => {
  it('retries 503 SlowDown with backoff and succeeds', async () => {
    proxy.failNext(2);
    const before = proxy.seen.length;
    await store(ARTIFACTS).put('retry/ok.txt', 'ok');
    const attempts = proxy.seen.slice(before).filter((r) => r.path.includes('retry/ok.txt'));
    expect(attempts.map((r) => r.status)).toEqual([503, 503, 200]);
    expect((await store(ARTIFACTS).get('retry/ok.txt'))?.body.toString()).toBe('ok');
  });

  it('waits out throttles briefly: three SlowDowns in a row cost at most 0.1 + 0.2 + 0.4 s', async () => {
    // The SDK's default would wait up to 1 + 2 + 4 s (adapters/retry.ts); ours is bounded by
    // THROTTLE_BACKOFF_MS × 2ⁿ per retry, whatever the random draw.
    proxy.failNext(3);
    const started = performance.now();
    await store(ARTIFACTS).put('retry/throttled.txt', 'ok');
    const ms = performance.now() - started;
    expect(ms).toBeLessThan(THROTTLE_BACKOFF_MS * (1 + 2 + 4) + 500);
    expect((await store(ARTIFACTS).get('retry/throttled.txt'))?.body.toString()).toBe('ok');
  });

  it('gives up after the attempts with an UPSTREAM error naming the operation', async () => {
    proxy.failNext(3);
    const error = await store(ARTIFACTS, 3)
      .put('retry/no.txt', 'x')
      .catch((e: unknown) => e);
    expect((error as FrontendOpsError).code).toBe('UPSTREAM');
    expect((error as Error).message).toMatch(/S3 could not write retry\/no\.txt/);
    proxy.failNext(0);
  });
});

describe('S3 adapter reads', () => {
  it('reads an object again when its body is cut off mid-stream', async () => {
    await store(ARTIFACTS).put('cut/state.json', JSON.stringify({ filler: 'x'.repeat(4000) }));
    proxy.truncateNext(2);
    const got = await store(ARTIFACTS).get('cut/state.json');
    expect(JSON.parse(got?.body.toString() ?? '{}').filler).toHaveLength(4000);
    proxy.truncateNext(10);
    await expect(store(ARTIFACTS).get('cut/state.json')).rejects.toMatchObject({ code: 'UPSTREAM' });
    proxy.truncateNext(0);
  });
});

describe('with conditional writes (as real S3, MinIO and R2 honour them)', () => {
  it('asks the endpoint in one request once the probe object exists; nothing to delete', async () => {
    const probes = (from: number) =>
      proxy.seen
        .slice(from)
        .filter((r) => r.path.includes('/probe-once/'))
        .map((r) => `${r.method} ${r.status}`);
    // Each store stands for a new process, which asks once.
    const process = () =>
      createS3Store({
        bucket: ARTIFACTS,
        endpoint: proxy.endpoint,
        credentials: s3.credentials,
        probePrefix: 'probe-once/',
      });
    const first = proxy.seen.length;
    expect(await process().supportsConditionalWrites()).toBe(true);
    // The very first ask creates the probe object, so it asks again.
    expect(probes(first)).toEqual(['PUT 200', 'PUT 412']);
    for (let i = 0; i < 3; i++) {
      const from = proxy.seen.length;
      expect(await process().supportsConditionalWrites()).toBe(true);
      expect(probes(from)).toEqual(['PUT 412']);
    }
    // Processes that ask at once: each still gets the answer (one 412 or, for a write S3 is still
    // making, 409 ConditionalRequestConflict, which says the same).
    const at = proxy.seen.length;
    expect(
      await Promise.all([process(), process(), process()].map((p) => p.supportsConditionalWrites())),
    ).toEqual([true, true, true]);
    expect(probes(at)).toHaveLength(3);
    expect((await store(ARTIFACTS).list('probe-once/')).map((o) => o.key)).toEqual([
      'probe-once/conditional-writes',
    ]);
  });

  it('detects the support and refuses a second create and a stale compare-and-swap', async () => {
    const s = store(ARTIFACTS);
    expect(await s.supportsConditionalWrites()).toBe(true);
    const { etag } = await s.put('cas/x.json', '1', {}, { ifNoneMatch: '*' });
    await expect(s.put('cas/x.json', '2', {}, { ifNoneMatch: '*' })).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
    const { etag: next } = await s.put('cas/x.json', '2', {}, { ifMatch: etag });
    const stale = await s.put('cas/x.json', '3', {}, { ifMatch: etag }).catch((e: FrontendOpsError) => e);
    // The key is for the log, not the message: a state key holds the stack's state prefix.
    expect(stale).toMatchObject({ code: 'PRECONDITION_FAILED', details: { key: 'cas/x.json' } });
    expect((stale as FrontendOpsError).message).not.toContain('cas/');
    expect(next).not.toBe(etag);
  });

  it('moves the live pointer only by compare-and-swap', async () => {
    const records = createStateRecords(store(ARTIFACTS), 'ptr-test/');
    const ref = {
      deployId: 'd1',
      app: 'a',
      commit: '1111111',
      artifactDigest: 'sha256:x',
      releasedAt: 'now',
    };
    await records.writePointer({ ...ref, releases: [ref] }, null);
    const first = await records.readPointer();
    await records.writePointer({ ...ref, deployId: 'd2', releases: [ref] }, first?.etag ?? null);
    await expect(
      records.writePointer({ ...ref, deployId: 'd3', releases: [ref] }, first?.etag ?? null),
    ).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
    await expect(
      records.writePointer({ ...ref, deployId: 'd4', releases: [ref] }, null),
    ).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect((await records.readPointer())?.value.deployId).toBe('d2');
  });

  it('deploys with the S3 lock (no file-lock notice) and a verifying audit chain', async () => {
    const env = await siteOf('cond');
    try {
      expect(env.notices).toEqual([]);
      const build = await writeFixtureBuild(join(s3.dir, 'build'), { version: 'cond' });
      await publishAsCi(env, { dir: build.dir, app: 'sophia-dashboard', commit: 'c0c0c0c0c0' });
      const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };
      const summary = await deployArtifact(env, { app: 'sophia-dashboard', commit: 'c0c0c0c0c0', request });
      expect(summary.outcome).toBe('succeeded');
      expect(await env.state.list('.frontendops/state/cond/locks/')).toEqual([]); // released
      expect(await verifyAudit(env.state, '.frontendops/state/cond/')).toMatchObject({
        ok: true,
        entries: 3, // the environment marked, the release going live, its record
      });
    } finally {
      env.close();
    }
  });

  it('a deploy sends what it can together: the manifest while it takes the lock, the marker beside the head; a record without asking first', async () => {
    const prefix = '.frontendops/state/together/';
    const env = await siteOf('together');
    const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };
    const commit = 'd0d0d0d0d0';
    try {
      const build = await writeFixtureBuild(join(s3.dir, 'build-together'), { version: 'together' });
      await publishAsCi(env, { dir: build.dir, app: 'sophia-dashboard', commit });
      await env.state.supportsConditionalWrites();
      // Each held read must not stop the request it is sent beside from going out.
      const manifest = proxy.hold((r) => r.method === 'GET' && r.key.endsWith(`${commit}/manifest.json`));
      const lock = proxy.hold((r) => r.method === 'PUT' && r.key.startsWith(`${prefix}locks/deploy-`));
      // The second head read: the first is the lock's check of the state objects (recorded-state.ts).
      let headReads = 0;
      const head = proxy.hold(
        (r) => r.method === 'GET' && r.key === `${prefix}audit/head.json` && ++headReads === 2,
      );
      const marker = proxy.hold((r) => r.method === 'GET' && r.key === '.frontendops/environment.json');
      const from = proxy.seen.length;
      const deployed = deployArtifact(env, { app: 'sophia-dashboard', commit, request });
      await Promise.all([manifest.reached, lock.reached]);
      manifest.release();
      lock.release();
      await Promise.all([head.reached, marker.reached]);
      head.release();
      marker.release();
      expect((await deployed).outcome).toBe('succeeded');
      const record = proxy.seen
        .slice(from)
        .filter((r) => r.path.includes(`${prefix}deployments/`))
        .map((r) => `${r.method} ${r.status}`);
      expect(record).toEqual(['PUT 200']);
    } finally {
      env.close();
    }
  });

  it("a deploy whose release entry's head move is refused (the head rewritten meanwhile) stops before the CDN and the record", async () => {
    const prefix = '.frontendops/state/refused-move/';
    const cdn = await startCloudFrontDouble();
    const env = await connectSite(
      {
        stack: 'refused-move',
        artifactsBucket: ARTIFACTS,
        hostingBucket: HOSTING,
        stateBucket: ARTIFACTS,
        statePrefix: prefix,
        region: 'us-east-1',
        endpoint: proxy.endpoint,
        prune: true,
        distributionId: cdn.distributionId,
      },
      { access: { credentials: s3.credentials, cdnEndpoint: cdn.endpoint } },
    );
    const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };
    try {
      for (const commit of ['f1f1f1f1f1', 'f2f2f2f2f2']) {
        const build = await writeFixtureBuild(join(s3.dir, `build-${commit}`), { version: commit });
        await publishAsCi(env, { dir: build.dir, app: 'sophia-dashboard', commit });
      }
      await deployArtifact(env, { app: 'sophia-dashboard', commit: 'f1f1f1f1f1', request });
      const invalidations = cdn.createRequests().length;
      const headKey = `${prefix}audit/head.json`;
      let switched = false;
      const move = proxy.hold((r) => {
        if (r.method === 'PUT' && r.key === `${prefix}live.json`) switched = true;
        return switched && r.method === 'PUT' && r.key === headKey;
      });
      const deployed = deployArtifact(env, { app: 'sophia-dashboard', commit: 'f2f2f2f2f2', request });
      deployed.catch(() => {});
      await move.reached; // the release's entry is written; its head move is held
      const other = store(ARTIFACTS);
      const head = (await other.get(headKey))?.body.toString('utf8') ?? '';
      await other.put(headKey, `${head} `, { contentType: 'application/json' });
      move.release();
      // Said in our words, without the key (the stack's state prefix reaches no MCP client).
      const refusal = (await deployed.catch((error: FrontendOpsError) => error)) as FrontendOpsError;
      expect(refusal).toMatchObject({
        code: 'PRECONDITION_FAILED',
        message: expect.stringMatching(
          /^The audit log's head was rewritten by someone else while this change moved it to entry \d+: .*audit verify/,
        ),
      });
      expect(refusal.message).not.toContain(prefix);
      // Live, as after a stop right after the switch: its re-run finishes it. Nothing went to the CDN
      // and no record was written on a chain the change could not extend.
      expect(cdn.createRequests().length).toBe(invalidations);
      const records = await other.list(`${prefix}deployments/f2f2f2f-`);
      expect(records).toEqual([]);
      expect(await other.list(`${prefix}locks/`)).toEqual([]);
    } finally {
      env.close();
      await cdn.close();
    }
  });

  it('the switch writes the pointer against the read that checked the plan before the HTML: no read between', async () => {
    const prefix = '.frontendops/state/switch-read/';
    const env = await siteOf('switch-read');
    const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };
    try {
      for (const commit of ['e1e1e1e1e1', 'e2e2e2e2e2']) {
        const build = await writeFixtureBuild(join(s3.dir, `build-${commit}`), { version: commit });
        await publishAsCi(env, { dir: build.dir, app: 'sophia-dashboard', commit });
        const from = proxy.seen.length;
        expect((await deployArtifact(env, { app: 'sophia-dashboard', commit, request })).outcome).toBe(
          'succeeded',
        );
        const sent = proxy.seen
          .slice(from)
          .map((r) => `${r.method} ${r.path.replace(/\?.*$/, '')}`)
          .filter((r) => r.endsWith(`${prefix}live.json`) || r.endsWith('/index.html'));
        const html = sent.indexOf(`PUT /${HOSTING}/index.html`);
        // The check before the HTML reads it; the switch writes it; nothing reads it between.
        expect(sent.slice(html - 1, html + 2)).toEqual([
          `GET /${ARTIFACTS}/${prefix}live.json`,
          `PUT /${HOSTING}/index.html`,
          `PUT /${ARTIFACTS}/${prefix}live.json`,
        ]);
      }
    } finally {
      env.close();
    }
  });

  it('a deploy of a build that is not published says so whatever the lock answered, and lets the lock go', async () => {
    const prefix = '.frontendops/state/unpublished/';
    const [env, other] = await Promise.all([siteOf('unpublished'), siteOf('unpublished')]);
    const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };
    const missing = { app: 'sophia-dashboard', commit: 'e0e0e0e0e0', request };
    try {
      await expect(deployArtifact(env, missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await env.state.list(`${prefix}locks/`)).toEqual([]);
      // Another deploy holds the lock: still NOT_FOUND, the first thing wrong with this one.
      const held = await takeDeployLock(other, { request });
      try {
        await expect(deployArtifact(env, missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        // One that would wait for that lock says so at once, not when the lock is free.
        await expect(deployArtifact(env, { ...missing, waitMs: 60_000 })).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
      } finally {
        await held.release();
      }
    } finally {
      env.close();
      other.close();
    }
  });
  it('a refused deploy returns with none of its requests under way: what it read ahead is answered first', async () => {
    // In a long-lived process (an MCP server, the console) a read left in flight lands after the call
    // returned, in whatever comes next. Each refusal below holds one read the deploy sent ahead of
    // need, and looks once the lock is let go and everything that needed no I/O has run.
    const request = { text: 'deploy', actor: 'test', planner: 'cli', at: new Date().toISOString() };
    const refusedWhileHeld = async (stack: string, commit: string, held: (r: HeldRequest) => boolean) => {
      const env = await siteOf(stack);
      try {
        let released = () => {};
        const lockGone = new Promise<void>((resolve) => {
          released = resolve;
        });
        const { acquire } = env.locker;
        env.locker = {
          acquire: async (...args) => {
            const lock = await acquire(...args);
            return { ...lock, release: () => lock.release().finally(released) };
          },
        };
        const read = proxy.hold(held);
        let settled = false;
        const deploying = deployArtifact(env, { app: 'sophia-dashboard', commit, request }).then(
          () => {
            settled = true;
            return null;
          },
          (error: FrontendOpsError) => {
            settled = true;
            return error;
          },
        );
        await read.reached;
        await lockGone;
        await new Promise((resolve) => setImmediate(resolve));
        expect(settled).toBe(false); // it waits for the read
        read.release();
        return await deploying;
      } finally {
        env.close();
      }
    };

    // Not published: the deployments recorded of the build are still being listed.
    const missing = 'e3e3e3e3e3';
    expect(
      await refusedWhileHeld(
        'ahead-missing',
        missing,
        (r) =>
          r.query.get('prefix') === `.frontendops/state/ahead-missing/deployments/${missing.slice(0, 7)}-`,
      ),
    ).toMatchObject({ code: 'NOT_FOUND' });

    // Refused under the lock (the stack serves atomic releases): the live state it would plan from,
    // read before the check, is still being listed.
    const commit = 'e4e4e4e4e4';
    const build = await writeFixtureBuild(join(s3.dir, `build-${commit}`), { version: commit });
    const env = await siteOf('ahead-atomic');
    await publishAsCi(env, { dir: build.dir, app: 'sophia-dashboard', commit });
    await env.state.put(`.frontendops/state/ahead-atomic/${ATOMIC_STATE}`, '{}');
    env.close();
    expect(
      await refusedWhileHeld('ahead-atomic', commit, (r) => r.bucket === HOSTING && r.query.has('list-type')),
    ).toMatchObject({
      code: 'BAD_INPUT',
    });

    // Refused by the lock's check (the pointer changed outside FrontendOps): what was read beside the
    // check (here the record of an interrupted deploy) is still being read.
    const tampered = await siteOf('ahead-tampered');
    await publishAsCi(tampered, { dir: build.dir, app: 'sophia-dashboard', commit });
    expect((await deployArtifact(tampered, { app: 'sophia-dashboard', commit, request })).outcome).toBe(
      'succeeded',
    );
    await tampered.state.put('.frontendops/state/ahead-tampered/live.json', '{"by":"hand"}');
    tampered.close();
    expect(
      await refusedWhileHeld(
        'ahead-tampered',
        commit,
        (r) => r.method === 'GET' && r.key === '.frontendops/state/ahead-tampered/pending.json',
      ),
    ).toMatchObject({ code: 'TAMPERED' });

    // The same refusal, with the hosting LIST of the live state held: its pointer, read beside the
    // LIST and no longer JSON, fails first, and the LIST is still being answered.
    const reopened = await siteOf('ahead-tampered');
    await reopened.state.put('.frontendops/state/ahead-tampered/live.json', 'not json');
    reopened.close();
    expect(
      await refusedWhileHeld(
        'ahead-tampered',
        commit,
        (r) => r.bucket === HOSTING && r.query.has('list-type'),
      ),
    ).toMatchObject({ code: 'TAMPERED' });
  });

  it("the lock's check, refused on a damaged head, says so once the rest of what it read is answered", async () => {
    // What the check reads only itself (a GET of the atomic state; a deploy sends a HEAD) is held
    // while the damaged head is answered: the check waits for it, rather than leaving it in flight.
    const prefix = '.frontendops/state/check-damaged/';
    const env = await siteOf('check-damaged');
    try {
      await env.state.put(`${prefix}audit/head.json`, 'not json');
      const held = proxy.hold((r) => r.method === 'GET' && r.key === `${prefix}${ATOMIC_STATE}`);
      let answered = () => {};
      const headAnswered = new Promise<void>((resolve) => {
        answered = resolve;
      });
      const { get } = env.state;
      env.state.get = async (key) => {
        try {
          return await get(key);
        } finally {
          if (key === `${prefix}audit/head.json`) answered();
        }
      };
      let settled = false;
      const checking = assertStateAsRecorded(env).then(
        () => null,
        (error: FrontendOpsError) => error,
      );
      checking.finally(() => {
        settled = true;
      });
      await held.reached;
      await headAnswered;
      await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false);
      held.release();
      expect(await checking).toMatchObject({ code: 'TAMPERED' });
    } finally {
      env.close();
    }
  });
});

describe('the audit log where writes are conditional', () => {
  // Where entries are created only once, an append takes no lock: one that did would fail here.
  const noLock: Locker = {
    acquire: () => Promise.reject(new Error('the append took a lock')),
  };
  const keysUnder = async (prefix: string) =>
    (await store(ARTIFACTS).list(prefix)).map((o) => `${o.key} ${o.etag}`);

  it('appends in three requests, without a lock; concurrent appenders each land once, in one unbroken chain', async () => {
    const prefix = 'audit-claim/';
    // Three clients with their own connections, as three processes would be.
    const first = store(ARTIFACTS);
    const writers = [first, store(ARTIFACTS), store(ARTIFACTS)];
    await Promise.all(writers.map((w) => w.supportsConditionalWrites()));
    const before = proxy.seen.length;
    await appendAudit(first, prefix, noLock, { type: 'first', data: {} });
    expect(
      proxy.seen
        .slice(before)
        .map((r) => `${r.method} ${r.path.replace(/^.*\/audit\//, '').replace(/\?.*$/, '')}`),
    ).toEqual(['GET head.json', 'PUT 0000000001.json', 'PUT head.json']);

    // Each writer keeps its heads, as under a deploy lock: most of its appends start from a head
    // another writer has moved on since, are refused at entry n+1 and read the head again.
    const stopKeeping = writers.map((w) => keepAuditHeads(w));
    await Promise.all(
      writers.flatMap((w, writer) =>
        [1, 2, 3, 4].map((n) => appendAudit(w, prefix, noLock, { type: 'concurrent', data: { writer, n } })),
      ),
    );
    for (const stop of stopKeeping) stop();
    const entries = await readAudit(store(ARTIFACTS), prefix);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(new Set(entries.slice(1).map((e) => `${e.data.writer}/${e.data.n}`)).size).toBe(12);
    expect(await verifyAudit(store(ARTIFACTS), prefix)).toMatchObject({ ok: true, entries: 13 });
    expect(proxy.seen.slice(before).filter((r) => r.path.includes('/locks/'))).toEqual([]);
  });

  it('while it holds the deploy lock, a process appends from the head it last read or moved: two requests; a stale one costs a refused create and a read', async () => {
    const prefix = 'audit-known-head/';
    const sent = (from: number) =>
      proxy.seen
        .slice(from)
        .map((r) => `${r.method} ${r.path.replace(/^.*\/audit\//, '').replace(/\?.*$/, '')} ${r.status}`);
    const mine = store(ARTIFACTS);
    const other = store(ARTIFACTS);
    const stopKeeping = keepAuditHeads(mine); // what takeDeployLock does
    // Under the lock an append returns once its entry is created, its head move still under way:
    // the requests are counted once the moves are answered (settleAuditHeads, as the lock's release).
    const append = async (type: string) => {
      await appendAudit(mine, prefix, noLock, { type, data: {} }, { overlap: true });
      await settleAuditHeads(mine, prefix);
    };
    await append('first');
    let from = proxy.seen.length;
    await append('second');
    expect(sent(from)).toEqual(['PUT 0000000002.json 200', 'PUT head.json 200']);
    // Another process appends: this one's head is stale, its create of entry 3 is refused.
    await appendAudit(other, prefix, noLock, { type: 'other', data: {} });
    from = proxy.seen.length;
    await append('third');
    expect(sent(from)).toEqual([
      'PUT 0000000003.json 412',
      'GET head.json 200',
      // The newest entry's record of the state objects, which entry 4 carries on.
      'GET 0000000003.json 200',
      'PUT 0000000004.json 200',
      'PUT head.json 200',
    ]);
    // A head read with its entry's state (as a change's lock reads them, state/recorded-state.ts) is
    // one the next append starts from.
    await appendAudit(other, prefix, noLock, { type: 'other again', data: {} });
    await recordedState(mine, prefix, await readAuditHead(mine, prefix));
    from = proxy.seen.length;
    await append('fourth');
    expect(sent(from)).toEqual(['PUT 0000000006.json 200', 'PUT head.json 200']);
    // The lock let go, nothing is kept: the next append reads the head and its entry.
    stopKeeping();
    from = proxy.seen.length;
    await appendAudit(mine, prefix, noLock, { type: 'fifth', data: {} });
    expect(sent(from)).toEqual([
      'GET head.json 200',
      'GET 0000000006.json 200',
      'PUT 0000000007.json 200',
      'PUT head.json 200',
    ]);
    const entries = await readAudit(store(ARTIFACTS), prefix);
    expect(entries.map((e) => e.type)).toEqual([
      'first',
      'second',
      'other',
      'third',
      'other again',
      'fourth',
      'fifth',
    ]);
    expect(await verifyAudit(store(ARTIFACTS), prefix)).toMatchObject({ ok: true, entries: 7 });
  });

  /** Appends two entries, then moves the head back to the first: what a process killed between the two writes of the second leaves. */
  async function interruptedAppend(prefix: string) {
    const w = store(ARTIFACTS);
    await appendAudit(w, prefix, noLock, { type: 'first', data: {} });
    const head = await w.get(`${prefix}audit/head.json`);
    const second = await appendAudit(w, prefix, noLock, { type: 'second', data: {} });
    await w.put(`${prefix}audit/head.json`, head?.body ?? '', { contentType: 'application/json' });
    return { w, second };
  }

  it("under the lock, a change's next step goes out while its head moves; whatever needs the head waits for the move", async () => {
    const prefix = 'audit-overlapped/';
    const mine = store(ARTIFACTS);
    const other = store(ARTIFACTS);
    const own = { overlap: true };
    const stopKeeping = keepAuditHeads(mine);
    try {
      await appendAudit(mine, prefix, noLock, { type: 'first', data: {} }, own);
      await settleAuditHeads(mine, prefix);
      const move = proxy.hold((r) => r.method === 'PUT' && r.key === `${prefix}audit/head.json`);
      const second = await appendAudit(mine, prefix, noLock, { type: 'second', data: {} }, own);
      await move.reached;
      // The change's next write is answered while the head's move is held.
      await mine.put(`${prefix}next-step.json`, '{}', { contentType: 'application/json' });
      // Another process meanwhile finds one entry past the head: an append between its two writes.
      expect(await verifyAudit(other, prefix)).toMatchObject({
        ok: false,
        problems: [{ kind: 'unfinished', seq: 2 }],
      });
      // This process's readers and the change's next append wait for the move, and start from it.
      let read = false;
      const reading = readAuditHead(mine, prefix).then((head) => {
        read = true;
        return head;
      });
      const appending = appendAudit(mine, prefix, noLock, { type: 'third', data: {} }, own);
      await new Promise((resolve) => setImmediate(resolve));
      expect(read).toBe(false);
      move.release();
      expect(await reading).toEqual({ seq: second.seq, hash: second.hash });
      expect((await appending).seq).toBe(3);
      await settleAuditHeads(mine, prefix);
      expect(await verifyAudit(other, prefix)).toMatchObject({ ok: true, entries: 3, problems: [] });
      // An append that is not the change's own (an agent's request entry, an approval) returns only
      // once its head moved: it leaves nothing under way for the change, or for a later one.
      const foreign = proxy.hold((r) => r.method === 'PUT' && r.key === `${prefix}audit/head.json`);
      let returned = false;
      const appended = appendAudit(mine, prefix, noLock, { type: 'request', data: {} }).then(() => {
        returned = true;
      });
      await foreign.reached;
      await new Promise((resolve) => setImmediate(resolve));
      expect(returned).toBe(false);
      foreign.release();
      await appended;
    } finally {
      stopKeeping();
    }
  });

  /** Holds the change's next head move, rewrites the head meanwhile (a new ETag), then lets the move go: refused. */
  async function refusedMove(prefix: string, append: () => Promise<unknown>) {
    const headKey = `${prefix}audit/head.json`;
    const other = store(ARTIFACTS);
    const first = (await other.get(headKey))?.body.toString('utf8') ?? '';
    const move = proxy.hold((r) => r.method === 'PUT' && r.key === headKey);
    await append();
    await move.reached;
    await other.put(headKey, `${first} `, { contentType: 'application/json' });
    move.release();
    await expect
      .poll(() => proxy.seen.filter((r) => r.path.includes(headKey) && r.status === 412).length)
      .toBe(1);
  }

  it("a change's head move refused because the head was rewritten meanwhile is told to that change, whoever else appends", async () => {
    const mine = store(ARTIFACTS);
    const own = { overlap: true };
    const stopKeeping = keepAuditHeads(mine);
    try {
      // At the change's next own append.
      const prefix = 'audit-overlapped-refused/';
      await appendAudit(mine, prefix, noLock, { type: 'first', data: {} }, own);
      await settleAuditHeads(mine, prefix);
      await refusedMove(prefix, () => appendAudit(mine, prefix, noLock, { type: 'second', data: {} }, own));
      const refused = { code: 'PRECONDITION_FAILED' };
      await expect(appendAudit(mine, prefix, noLock, { type: 'third', data: {} }, own)).rejects.toMatchObject(
        refused,
      );
      expect((await readAudit(store(ARTIFACTS), prefix)).map((e) => e.type)).toEqual(['first', 'second']);

      // When it settles (its lock's release), though another append of this process came between: that
      // one (an agent's request entry) lands from the head as stored, and does not take the refusal.
      const prefix2 = 'audit-overlapped-refused-2/';
      await appendAudit(mine, prefix2, noLock, { type: 'first', data: {} }, own);
      await settleAuditHeads(mine, prefix2);
      await refusedMove(prefix2, () => appendAudit(mine, prefix2, noLock, { type: 'pin', data: {} }, own));
      const request = await appendAudit(mine, prefix2, noLock, { type: 'request', data: {} });
      expect(request.seq).toBe(3);
      await expect(settleAuditHeads(mine, prefix2)).rejects.toMatchObject(refused);
      // Told once: the next change of this long-lived process does not inherit it.
      await expect(settleAuditHeads(mine, prefix2)).resolves.toBeUndefined();
    } finally {
      stopKeeping();
    }
  });

  it("a failed change whose head move was refused and whose lock's release failed says each once", async () => {
    const mine = store(ARTIFACTS);
    const prefix = 'audit-overlapped-refused-3/';
    const lock: HeldLock = {
      owner: 'me',
      assertHeld: async () => {},
      release: () => Promise.reject(new FrontendOpsError('LOCKED', 'Another deploy took the lock over.')),
    };
    const held = heldForAppends(lock, mine, prefix);
    await appendAudit(mine, prefix, noLock, { type: 'first', data: {} }, { overlap: true });
    await settleAuditHeads(mine, prefix);
    await refusedMove(prefix, () =>
      appendAudit(mine, prefix, noLock, { type: 'second', data: {} }, { overlap: true }),
    );
    const error = await holding(held, () =>
      Promise.reject(new FrontendOpsError('DENIED', 'Ada declined this deploy.')),
    ).catch((e: FrontendOpsError) => e);
    expect(error.code).toBe('DENIED');
    expect(error.message).toMatch(
      /^Ada declined this deploy\. Letting the lock go failed too: .+\. The lock's own release failed too: Another deploy took the lock over\.$/,
    );
    expect(error.message.match(/Letting the lock go/g)).toHaveLength(1);
  });

  it('an append stopped between writing its entry and moving the head is finished by the next one, keeping its entry', async () => {
    const prefix = 'audit-interrupted/';
    const { w, second } = await interruptedAppend(prefix);
    expect(await verifyAudit(w, prefix)).toMatchObject({
      ok: false,
      problems: [
        {
          kind: 'unfinished',
          seq: 2,
          reason: expect.stringMatching(/entry 2 was written, but the head still names 1/),
        },
      ],
    });

    const before = proxy.seen.length;
    const started = Date.now();
    const third = await appendAudit(w, prefix, noLock, { type: 'third', data: {} });
    expect(Date.now() - started).toBeLessThan(2_000); // no waiting for a head that will not move
    expect(third.seq).toBe(3);
    expect(
      proxy.seen
        .slice(before)
        .map((r) => `${r.method} ${r.path.replace(/^.*\/audit\//, '').replace(/\?.*$/, '')} ${r.status}`),
    ).toEqual([
      'GET head.json 200',
      // The newest entry's record of the state objects, which the next entry carries on.
      'GET 0000000001.json 200',
      'PUT 0000000002.json 412',
      'GET 0000000002.json 200',
      'PUT head.json 200',
      // Entry 2, just finished, is not read again.
      'GET head.json 200',
      'PUT 0000000003.json 200',
      'PUT head.json 200',
    ]);
    const entries = await readAudit(w, prefix);
    expect(entries.map((e) => e.type)).toEqual(['first', 'second', 'third']);
    expect(entries[1]).toEqual(second);
    expect(await verifyAudit(w, prefix)).toMatchObject({ ok: true, entries: 3, problems: [] });
  });

  it.each([
    [
      're-hashed to follow another chain',
      (e: AuditEntry) => rehash({ ...e, prevHash: `sha256:${'0'.repeat(64)}` }),
    ],
    ['edited without re-hashing', (e: AuditEntry) => ({ ...e, data: { actor: 'mallory' } })],
    ['numbered as another entry', (e: AuditEntry) => rehash({ ...e, seq: 7 })],
    ['not JSON', () => '{"seq": 2, "ty'],
  ])(
    'an entry past the head that does not follow from it (%s) stops the next append at once, writing nothing',
    async (name, edit) => {
      const prefix = `audit-forged-${name.split(' ')[0]}/`;
      const { w, second } = await interruptedAppend(prefix);
      const edited = edit(second);
      await w.put(auditEntryKey(prefix, 2), typeof edited === 'string' ? edited : JSON.stringify(edited));
      const before = await keysUnder(prefix);
      const started = Date.now();
      const error = await appendAudit(w, prefix, noLock, { type: 'third', data: {} }).catch((e) => e);
      expect(error).toMatchObject({ code: 'TAMPERED' });
      expect(error.message).toMatch(
        /holds entry 2 after the entry its head names \(1\), but .*the log was edited\. Nothing was written/,
      );
      expect(error.message).not.toContain(prefix);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await keysUnder(prefix)).toEqual(before);
    },
  );

  it('an entry refused as existing yet read as missing every time (deleted by hand meanwhile) ends the append in bounded time, writing nothing', async () => {
    const prefix = 'audit-vanishing/';
    const w = store(ARTIFACTS);
    await appendAudit(w, prefix, noLock, { type: 'first', data: {} });
    const planted = auditEntryKey(prefix, 2);
    await w.put(planted, '{}');
    // Someone deletes entry 2 after each refused create and puts it back before the next one.
    const vanishing: ObjectStore = {
      ...w,
      get: (key) => (key === planted ? Promise.resolve(null) : w.get(key)),
    };
    const before = await keysUnder(prefix);
    const started = Date.now();
    const error = await appendAudit(vanishing, prefix, noLock, { type: 'second', data: {} }).catch((e) => e);
    expect(error).toMatchObject({ code: 'TAMPERED' });
    expect(error.message).toMatch(
      /entry 2 keeps being refused as existing and then read as missing.*Nothing was written/,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await keysUnder(prefix)).toEqual(before);
  });

  it('an appender whose head write comes after another appender finished its append for it still lands, once', async () => {
    const prefix = 'audit-helped/';
    const [a, b] = [store(ARTIFACTS), store(ARTIFACTS)];
    await appendAudit(a, prefix, noLock, { type: 'first', data: {} });
    // A writes entry 2; its head write is held, as if A were slow between its two writes.
    const held = proxy.hold((r) => r.method === 'PUT' && r.key === `${prefix}audit/head.json`);
    const slow = appendAudit(a, prefix, noLock, { type: 'slow', data: {} });
    await held.reached;
    // B finds entry 2 taken, moves the head to it, and appends after it.
    const fast = await appendAudit(b, prefix, noLock, { type: 'fast', data: {} });
    expect(fast.seq).toBe(3);
    held.release(); // A's head write now meets a head that moved: refused, and A sees its entry landed
    expect((await slow).seq).toBe(2);
    const entries = await readAudit(a, prefix);
    expect(entries.map((e) => e.type)).toEqual(['first', 'slow', 'fast']);
    expect(await verifyAudit(a, prefix)).toMatchObject({ ok: true, entries: 3, problems: [] });
  });
});
