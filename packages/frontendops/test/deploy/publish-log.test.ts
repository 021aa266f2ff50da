/**
 * The publish log: publishes are recorded in a chain of their own, which the publisher role appends
 * to, while the deploy chain (every change to the site, anchored by the deploy tags) is the
 * deployer's alone (src/access.ts). What is tried here, as the build job's credentials could:
 * - a publish appends to the publish log and leaves the deploy chain as it was; `audit verify`
 *   checks both;
 * - an entry edited, one removed with the head moved back: verify fails, naming the publish log;
 * - an entry forged past the log's head: the next publish is refused before it uploads anything (a
 *   build published but unrecorded would stay so), and deploys go on. Before, the forged entry sat in
 *   the deploy chain and refused every deploy, rollback and pin;
 * - a publish stopped between its entry and its head: verify says unfinished; the next publish
 *   finishes it.
 * - a publish stopped at its entry or at its manifest: publishing again records it, once. Before, the
 *   manifest came first, and a publish stopped after it stayed unrecorded for good (publishing again
 *   found the build published and appended nothing).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishBuild, readManifest } from '../../src/deploy/publish.ts';
import { artifactManifestKey } from '../../src/engine/manifest.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { ObjectStore } from '../../src/ports.ts';
import { type AuditEntry, readAudit, readAuditHead, verifyAudit } from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER, PUBLISH_LOG } from '../../src/state/names.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { auditEntryKey, forgeEntryPastHead, moveHeadBackOne, rehash } from '../support/audit-forgery.ts';
import { startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'publish', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
let t: TestDeployEnv;
let n = 0;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-publish-log' });
});
afterAll(() => t?.stop());
beforeEach(async () => {
  const keys = (await t.site.state.list(t.target.statePrefix)).map((o) => o.key);
  if (keys.length > 0) await t.site.state.delete(keys);
  // A fresh history, and a fresh environment: a marker no entry wrote is refused by every change.
  await t.site.hosting.delete([ENVIRONMENT_MARKER]);
});

const log = () => `${t.target.statePrefix}${PUBLISH_LOG}`;
/** A build of a commit not published before. */
async function publishNew() {
  const commit = `${String(++n).padStart(4, '0')}${'c0de'.repeat(9)}`;
  const build = await writeFixtureBuild(join(t.tmp, `build-${n}`), { version: `v${n}` });
  return {
    commit,
    dir: build.dir,
    publish: () => publishBuild(t.site, { dir: build.dir, app: APP, commit }, request),
  };
}
async function published(count: number): Promise<string[]> {
  const commits: string[] = [];
  for (let i = 0; i < count; i++) {
    const next = await publishNew();
    await next.publish();
    commits.push(next.commit);
  }
  return commits;
}
const problems = async () =>
  (await verifyAudit(t.site.state, t.target.statePrefix)).problems.map((p) => `${p.kind}: ${p.reason}`);

describe('the publish log', () => {
  it('records each publish in a chain of its own; the deploy chain is untouched; verify checks both', async () => {
    const [first, second] = await published(2);
    const entries = await readAudit(t.site.state, log());
    expect(entries.map((e) => [e.seq, e.type, e.data.commit])).toEqual([
      [1, 'publish', first],
      [2, 'publish', second],
    ]);
    expect(await readAuditHead(t.site.state, t.target.statePrefix)).toBeNull();
    const verified = await verifyAudit(t.site.state, t.target.statePrefix);
    expect(verified).toMatchObject({
      ok: true,
      entries: 0,
      publishLog: { entries: 2, headHash: entries[1]?.hash },
    });

    const outputs = await t.writeOutputs();
    const shown = await cli(['audit', 'verify', '--stack', outputs], { env: t.cliEnv(), cwd: t.tmp });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(
      `publish log of ${t.target.stack} verifies: 2 entries, head ${entries[1]?.hash}`,
    );
  });

  it('an edited entry, or one removed with the head moved back, fails verify naming the log', async () => {
    await published(3);
    const [, second] = await readAudit(t.site.state, log());
    const key = auditEntryKey(log(), 2);
    // Edited: the commit a publish recorded, re-hashed (the next entry's link breaks).
    await t.site.state.put(
      key,
      JSON.stringify(rehash({ ...(second as AuditEntry), data: { commit: 'f'.repeat(40) } })),
    );
    expect(await problems()).toEqual([
      'tampered: publish log: its prevHash does not match the previous entry (the chain was broken)',
    ]);
    await t.site.state.put(key, JSON.stringify(second));
    expect(await problems()).toEqual([]);

    // The newest removed and the head moved back over it: the head names an entry the log lacks.
    const { last } = await moveHeadBackOne(t.site.state, log());
    await t.site.state.delete([auditEntryKey(log(), last.seq)]);
    await t.site.state.put(`${log()}audit/head.json`, JSON.stringify({ seq: 3, hash: last.hash }));
    const verified = await cli(['audit', 'verify', '--stack', await t.writeOutputs()], {
      env: t.cliEnv(),
      cwd: t.tmp,
    });
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(
      /does NOT verify:\n {2}tampered: publish log: the head names entry 3 but the chain ends at 2/,
    );
  });

  it('an entry forged past its head stops publishes before any upload; deploys go on', async () => {
    const [deployed] = await published(2);
    await forgeEntryPastHead(t.site.state, log());
    const next = await publishNew();
    await t.s3.settle();
    const sent = t.s3.requests.length;
    const error = await next.publish().catch((e: unknown) => e);
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /holds entry 2 after the entry its head names \(1\).*Nothing was written/,
    );
    await t.s3.settle();
    // Only the commit's publish lock (an object on the embedded server) was written and let go.
    const writes = t.s3.requests
      .slice(sent)
      .filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && !r.key.includes('/locks/'));
    expect(
      writes.map((r) => `${r.method} ${r.bucket}/${r.key}`),
      'no upload, no manifest',
    ).toEqual([]);
    expect(await readManifest(t.site.artifacts, APP, next.commit)).toBeNull();

    // The site's changes are the deploy chain's: the junk in the publish log does not stop them.
    await deployArtifact(t.site, { app: APP, commit: deployed as string, request });
    expect(await readAuditHead(t.site.state, t.target.statePrefix)).not.toBeNull();
    const verified = await verifyAudit(t.site.state, t.target.statePrefix);
    expect(verified.problems.map((p) => p.reason)).toEqual([
      expect.stringMatching(/^publish log: its prevHash does not match/),
    ]);
  });

  it('a publish stopped between its entry and its head is unfinished; the next publish finishes it', async () => {
    await published(2);
    await moveHeadBackOne(t.site.state, log());
    expect(await problems()).toEqual([
      'unfinished: publish log: entry 2 was written, but the head still names 1: an append stopped between writing its entry and moving the head. The next publish to this stack finishes it.',
    ]);
    await published(1);
    expect(await problems()).toEqual([]);
    expect((await readAudit(t.site.state, log())).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('a publish of a commit another publish is publishing waits for it, and says so as it begins', async () => {
    const next = await publishNew();
    const held = await t.site.locker.acquire(`publish-${APP}-${next.commit}`, {
      owner: 'ci-7 (pid 4242)',
      ttlMs: 60_000,
      waitMs: 0,
    });
    const notices: string[] = [];
    let toldWaiting!: () => void;
    const told = new Promise<void>((resolve) => {
      toldWaiting = resolve;
    });
    const site = {
      ...t.site,
      notify: (notice: string) => {
        notices.push(notice);
        toldWaiting();
      },
    };
    const waiting = publishBuild(site, { dir: next.dir, app: APP, commit: next.commit }, request);
    await told;
    await held.release();
    expect((await waiting).published).toBe(true);
    expect(notices).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Publishing ${APP}@${next.commit.slice(0, 7)} is locked by ci-7 \\(pid 4242\\) \\(since [^)]+\\); waiting up to 1[12][0-9]s for it\\.$`,
        ),
      ),
    ]);
  });

  for (const at of ['entry', 'manifest'] as const) {
    it(`a publish stopped at its ${at} write is recorded once when published again`, async () => {
      const next = await publishNew();
      const manifestKey = artifactManifestKey(APP, next.commit);
      const isTarget = (key: string) =>
        at === 'entry' ? key.startsWith(`${log()}audit/0`) : key === manifestKey;
      // Every write from that one on fails, as for a process that is gone.
      let stopped = false;
      const stopping = (store: ObjectStore): ObjectStore => ({
        ...store,
        put: async (key, ...rest) => {
          if (stopped || isTarget(key)) {
            stopped = true;
            throw new Error(`the process stopped at its ${at} write`);
          }
          return store.put(key, ...rest);
        },
      });
      const site = { ...t.site, state: stopping(t.site.state), artifacts: stopping(t.site.artifacts) };
      await expect(
        publishBuild(site, { dir: next.dir, app: APP, commit: next.commit }, request),
      ).rejects.toThrow(/stopped/);
      expect((await problems()).filter((p) => !p.startsWith('unfinished'))).toEqual([]);

      const again = await next.publish();
      expect(again.published).toBe(true);
      expect(await readManifest(t.site.artifacts, APP, next.commit)).not.toBeNull();
      const recorded = (await readAudit(t.site.state, log())).filter((e) => e.data.commit === next.commit);
      expect(recorded.map((e) => e.data.artifactDigest)).toEqual([again.artifactDigest]);
      expect(await problems()).toEqual([]);
    });
  }
});

describe('the publish log, anchored through the deploy chain', () => {
  it('an entry before the head a deploy saw, altered: said at that entry, not as the seen head gone', async () => {
    const [, second] = await published(2);
    await deployArtifact(t.site, { app: APP, commit: second as string, request });
    const [first] = await readAudit(t.site.state, log());
    // The first entry edited in place; the entry the deploy saw is still there, as it saw it.
    const edited = { ...(first as AuditEntry), data: { ...first?.data, actor: 'someone-else' } };
    await t.site.state.put(auditEntryKey(log(), 1), JSON.stringify(edited));
    const verified = await verifyAudit(t.site.state, t.target.statePrefix);
    const said = verified.problems.map((p) => [p.seq, p.reason]);
    expect(said).toContainEqual([
      1,
      'publish log: its content does not match its hash (the entry was altered)',
    ]);
    // Before, also "it holds no entry 2, which deploy entry 3 saw": it does, unchanged.
    expect(said.filter(([, reason]) => String(reason).includes('saw ('))).toEqual([]);
  });

  it("a head record naming no entry the log could hold is refused, not named in the deploy's entry", async () => {
    // The build job can write the log's head: one whose hash is not an entry's ("sha256:" and 64
    // lowercase hex digits), read by a deploy, was named in its entry as publishHead, which verify
    // passes over as malformed. The log could then be rewritten whole and verify still passed.
    const [, second] = await published(2);
    const original = await readAudit(t.site.state, log());
    const hash = original[1]?.hash as string;
    for (const head of [
      { seq: 2, hash: hash.toUpperCase() },
      { seq: 2.5, hash },
    ]) {
      await t.site.state.put(`${log()}audit/head.json`, JSON.stringify(head));
      const refused = await deployArtifact(t.site, { app: APP, commit: second as string, request }).catch(
        (e: unknown) => e,
      );
      expect(refused).toMatchObject({
        code: 'TAMPERED',
        message: expect.stringContaining(`The audit head ${log()}audit/head.json is damaged`),
      });
      expect(await readAudit(t.site.state, t.target.statePrefix)).toEqual([]);
      expect((await problems()).filter((p) => p.includes('head record'))).toHaveLength(1);
    }
  });

  it('a publish log rewritten whole after a deploy (re-hashed, as an administrator could) fails verify', async () => {
    const [, second] = await published(2);
    await deployArtifact(t.site, { app: APP, commit: second as string, request });
    const deployed = (await readAudit(t.site.state, t.target.statePrefix)).find((e) => e.type === 'deploy');
    const original = await readAudit(t.site.state, log());
    expect(deployed?.data.publishHead).toBe(`2:${original[1]?.hash}`);
    const verified = await verifyAudit(t.site.state, t.target.statePrefix);
    expect(verified).toMatchObject({ ok: true, publishLog: { entries: 2, anchors: 1 } });

    // Who published the first build, rewritten, and the whole log re-hashed and re-linked: a log
    // consistent in itself, which only what the deploy saw can tell from the original.
    const first = rehash({
      ...(original[0] as AuditEntry),
      data: { ...original[0]?.data, actor: 'someone-else' },
    });
    const again = rehash({ ...(original[1] as AuditEntry), prevHash: first.hash });
    await t.site.state.put(auditEntryKey(log(), 1), JSON.stringify(first));
    await t.site.state.put(auditEntryKey(log(), 2), JSON.stringify(again));
    await t.site.state.put(`${log()}audit/head.json`, JSON.stringify({ seq: 2, hash: again.hash }));
    expect(await problems()).toEqual([
      `tampered: publish log: entry 2 is not the one deploy entry ${deployed?.seq} saw (${original[1]?.hash}): the publish log was rewritten after that deployment`,
    ]);

    // Cut back to before that entry instead: the same, said as missing.
    await t.site.state.delete([auditEntryKey(log(), 2)]);
    await t.site.state.put(`${log()}audit/head.json`, JSON.stringify({ seq: 1, hash: first.hash }));
    expect((await problems()).filter((p) => p.includes(`deploy entry ${deployed?.seq} saw`))).toEqual([
      `tampered: publish log: it holds no entry 2, which deploy entry ${deployed?.seq} saw (${original[1]?.hash}): the publish log was cut or rewritten after that deployment`,
    ]);
  });
});
