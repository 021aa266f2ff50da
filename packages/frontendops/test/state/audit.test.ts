/**
 * The audit chain as someone with write access to the state bucket would attack it: edit a
 * deployment record, edit the live pointer, add a record around the chain, cut an entry in half,
 * delete the newest entry and move the head back, rewrite and re-hash the whole chain, delete a
 * history index, file an entry under another key, put what no digest can be made of (a lone
 * surrogate, 1e999) in an object or an entry (verify threw on it). Each must
 * fail `audit verify` with a verdict that names what changed — the last two only with the anchors
 * the deploy tags carry, which is what the CLI test at the end exercises through real git. The head
 * moved alone (the CI roles still may; entries they can only create): moved back, the next deploy
 * walks it forward over the entries; moved past them, verify fails.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import type { ObjectStore } from '../../src/ports.ts';
import {
  type AuditEntry,
  readAudit,
  readAuditHead,
  stateDigest,
  verifyAudit,
} from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER, PUBLISH_LOG } from '../../src/state/names.ts';
import type { RequestInfo } from '../../src/state/records.ts';
import { forgeEntryPastHead, moveHeadBackOne, rehash } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { cli, verifyReasons } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'deploy', actor: 'ada', planner: 'cli', at: new Date().toISOString() };

let t: TestDeployEnv;
let repo: TestRepo;
let commits: string[];

beforeAll(async () => {
  repo = await createTestRepo();
  commits = [repo.commits.dashboard1, repo.commits.dashboard2, repo.commits.docs];
  t = await startDeployEnv({ stack: 'dashboard-audit' });
  await publishFixtureBuilds(t, APP, commits, { from: 0 });
});
afterAll(async () => {
  await t.stop();
  await repo.cleanup();
});

const prefix = () => t.target.statePrefix;
const state = (): ObjectStore => t.site.state;

/**
 * Empties the stack's state (chain, records, pointer; not the publish log) so each attack starts from a clean history, and
 * the hosting bucket's environment marker with it: a marker that no entry of the chain wrote is one
 * every change refuses (stacks/marker-chain.test.ts).
 */
async function resetState() {
  // The publish log stays: CI published the builds once, and a deploy takes only builds it recorded.
  const keys = (await state().list(prefix()))
    .map((o) => o.key)
    .filter((key) => !key.startsWith(`${prefix()}${PUBLISH_LOG}`));
  if (keys.length > 0) await state().delete(keys);
  await t.site.hosting.delete([ENVIRONMENT_MARKER]);
}

async function readJson<T>(name: string): Promise<T> {
  const object = await state().get(`${prefix()}${name}`);
  if (!object) throw new Error(`${name} is missing`);
  return JSON.parse(object.body.toString('utf8')) as T;
}
const writeJson = (name: string, value: unknown) =>
  state().put(`${prefix()}${name}`, JSON.stringify(value, null, 2), { contentType: 'application/json' });

/** What an attacker does after editing entries: recompute every hash and the head, so the chain links. */
async function rehashChain(edit: (entries: AuditEntry[]) => AuditEntry[]) {
  const entries = edit(await readAudit(state(), prefix()));
  const old = (await state().list(`${prefix()}audit/`)).map((o) => o.key);
  await state().delete(old);
  let prevHash = 'sha256:genesis';
  for (const [i, entry] of entries.entries()) {
    const { hash: _old, ...rest } = { ...entry, seq: i + 1, prevHash };
    const hash = stateDigest(rest);
    await writeJson(`audit/${String(i + 1).padStart(10, '0')}.json`, { ...rest, hash });
    prevHash = hash;
  }
  await writeJson('audit/head.json', { seq: entries.length, hash: prevHash });
}

describe('audit verify: every state object is under the chain', () => {
  // Each case starts from a clean history and the same two deploys. They run once: what they left in
  // the state prefix and the hosting bucket is copied, and put back before each later case.
  let deployed: BucketSnapshot | undefined;
  beforeEach(async () => {
    if (deployed) await deployed.restore();
    else {
      await resetState();
      for (const commit of commits.slice(0, 2)) await deployArtifact(t.site, { app: APP, commit, request });
      deployed = await snapshotBuckets([{ store: state(), prefix: prefix() }, { store: t.site.hosting }]);
    }
    expect(await verifyAudit(state(), prefix())).toMatchObject({ ok: true, problems: [] });
  });

  it('finds an edited deployment record (actor changed, copied list cut)', async () => {
    const live = await readJson<{ deployId: string }>('live.json');
    const name = `deployments/${live.deployId}.json`;
    const record = await readJson<{ request: RequestInfo; copied: string[] }>(name);
    await writeJson(name, {
      ...record,
      request: { ...record.request, actor: 'mallory' },
      copied: record.copied.slice(0, 1),
    });
    const result = await verifyAudit(state(), prefix());
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        object: name,
        reason: expect.stringMatching(/changed after entry \d+/),
      }),
    );
  });

  it('finds an edited live pointer', async () => {
    const pointer = await readJson<{ commit: string }>('live.json');
    await writeJson('live.json', { ...pointer, commit: commits[2] });
    const result = await verifyAudit(state(), prefix());
    expect(result.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: 'live.json',
        reason: expect.stringMatching(/changed after entry/),
      }),
    ]);
  });

  it('finds a deployment record added around the chain, and a deleted one', async () => {
    const live = await readJson<{ deployId: string }>('live.json');
    const record = await readJson<Record<string, unknown>>(`deployments/${live.deployId}.json`);
    await writeJson('deployments/0000000-0000000000.json', { ...record, deployId: '0000000-0000000000' });
    await state().delete([`${prefix()}deployments/${live.deployId}.json`]);
    const result = await verifyAudit(state(), prefix());
    expect(result.problems.map((p) => [p.kind, p.object])).toEqual([
      ['tampered', `deployments/${live.deployId}.json`],
      ['tampered', 'deployments/0000000-0000000000.json'],
    ]);
    expect(result.problems[0]?.reason).toMatch(/missing \(it was deleted\)/);
  });

  it('finds atomic release state written to a stack no atomic operation ever ran on', async () => {
    await writeJson('atomic/state.json', { canary: null, previews: [], retiring: [] });
    expect((await verifyAudit(state(), prefix())).problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: 'atomic/state.json',
        reason: expect.stringMatching(/not in the audit chain .*written around the chain/),
      }),
    ]);
  });

  it('finds a deploy’s history index deleted (the deploy vanished from `frontendops history`), naming its record', async () => {
    const live = await readJson<{ deployId: string; commit: string }>('live.json');
    const index = (await state().list(`${prefix()}history/`)).find((o) =>
      o.key.endsWith(`-${live.deployId}`),
    );
    if (!index) throw new Error('no history index');
    await state().delete([index.key]);
    expect((await t.site.records.listRecords()).records.map((r) => r.deployId)).not.toContain(live.deployId);
    expect((await verifyAudit(state(), prefix())).problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: `deployments/${live.deployId}.json`,
        reason: expect.stringMatching(/has no history index .*frontendops history/),
      }),
    ]);
  });

  it('reads entries only at their own keys: an entry under another number’s key is tampered, naming the key', async () => {
    const head = await readAuditHead(state(), prefix());
    if (!head) throw new Error('no head');
    // Entry n+1, well linked, stored at n+3's key: read in order, it would pass for entry n+1.
    const entry = rehash({
      seq: head.seq + 1,
      at: new Date().toISOString(),
      type: 'release',
      data: { note: 'filed under another number' },
      prevHash: head.hash,
      hash: '',
    });
    const key = `audit/${String(head.seq + 3).padStart(10, '0')}.json`;
    await writeJson(key, entry);
    await writeJson('audit/head.json', { seq: entry.seq, hash: entry.hash });
    expect((await verifyAudit(state(), prefix())).problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        seq: entry.seq,
        object: key,
        reason: expect.stringMatching(new RegExp(`${key} holds entry ${entry.seq}`)),
      }),
    );
  });

  it('anything under audit/ but the entries and the head is tampered, naming it: a deeper key passing for an entry, a stray copy', async () => {
    const head = await readAuditHead(state(), prefix());
    if (!head) throw new Error('no head');
    const entries = await readAudit(state(), prefix());
    // Well linked, but outside audit/0… (the create-only prefix): replaceable, deletable at will.
    const deeper = `audit/x/${String(head.seq + 1).padStart(10, '0')}.json`;
    const entry = rehash({
      seq: head.seq + 1,
      at: new Date().toISOString(),
      type: 'release',
      data: { note: 'outside the create-only prefix' },
      prevHash: head.hash,
      hash: '',
    });
    await writeJson(deeper, entry);
    await writeJson('audit/head.json', { seq: entry.seq, hash: entry.hash });
    await writeJson('audit/0000000001.json.bak', entries[0]);
    const result = await verifyAudit(state(), prefix());
    for (const name of [deeper, 'audit/0000000001.json.bak']) {
      expect(result.problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          object: name,
          reason: expect.stringMatching(/is not an audit entry at its place .*written around the chain/),
        }),
      );
    }
    // Nor do readers take it for an entry.
    expect(await readAudit(state(), prefix())).toEqual(entries);
  });

  it('an object verify cannot digest (a lone surrogate, a number JSON cannot carry) is reported by name, never thrown', async () => {
    await pinRelease(t.site, { request });
    const live = await readJson<{ deployId: string }>('live.json');
    const record = `deployments/${live.deployId}.json`;
    const edit = async (name: string, from: string, to: string) => {
      const body = (await state().get(`${prefix()}${name}`))?.body.toString('utf8') ?? '';
      expect(body).toContain(from);
      await state().put(`${prefix()}${name}`, body.replace(from, to), { contentType: 'application/json' });
    };
    await edit(record, '"deploy"', '"deploy\\ud800"');
    await edit('live.json', `"commit": "${commits[1]}"`, `"commit": "${commits[1]}", "weight": 1e999`);
    await edit('pin.json', '"cause": "pin"', '"cause": "pin\\udc00"');
    const result = await verifyAudit(state(), prefix());
    expect(result.problems.map((p) => [p.kind, p.object])).toEqual(
      expect.arrayContaining([
        ['tampered', record],
        ['tampered', 'live.json'],
        ['tampered', 'pin.json'],
      ]),
    );
    expect(result.problems.find((p) => p.object === record)?.reason).toMatch(
      /holds a value no entry can record .*changed after entry \d+/,
    );
    await state().delete([`${prefix()}pin.json`]);
  });

  it('an entry verify cannot hash is tampered, naming it — for verify and for the next deploy', async () => {
    const head = await readAuditHead(state(), prefix());
    if (!head) throw new Error('no head');
    const key = `audit/${String(head.seq).padStart(10, '0')}.json`;
    const body = (await state().get(`${prefix()}${key}`))?.body.toString('utf8') ?? '';
    await state().put(`${prefix()}${key}`, body.replace('"type":"', '"type":"\\ud800'), {
      contentType: 'application/json',
    });
    expect((await verifyAudit(state(), prefix())).problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        seq: head.seq,
        object: key,
        reason: expect.stringMatching(/cannot be hashed .*altered/),
      }),
    );
    // Past the head, the next deploy refuses it with a verdict, not an exception from the hashing.
    const before = await readAudit(state(), prefix()).catch(() => null);
    expect(before).not.toBeNull();
    const entries = before as AuditEntry[];
    await writeJson('audit/head.json', { seq: head.seq - 1, hash: entries.at(-2)?.hash });
    const error = await deployArtifact(t.site, { app: APP, commit: commits[2] as string, request }).catch(
      (e) => e,
    );
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toMatch(new RegExp(`holds entry ${head.seq} after the entry its head names`));
  });

  it('calls an entry cut in half damaged, naming it — for verify and for the next deploy', async () => {
    const key = `${prefix()}audit/0000000002.json`;
    const body = (await state().get(key))?.body.toString('utf8') ?? '';
    await state().put(key, body.slice(0, body.length / 2), { contentType: 'application/json' });
    const result = await verifyAudit(state(), prefix());
    expect(result.problem).toMatchObject({ kind: 'damaged', seq: 2, object: 'audit/0000000002.json' });
    expect(result.problem?.reason).toMatch(/damaged \(it is not valid JSON/);

    // A damaged head stops the next write with a verdict, never "this looks like a bug". The deploy
    // reads the head, the pin and the pending record together: with the pin damaged too, the verdict
    // is still the head's, every time (the reads are judged in a fixed order, not as they arrive).
    await state().put(`${prefix()}audit/head.json`, '{"seq": 4, "ha', { contentType: 'application/json' });
    await state().put(`${prefix()}pin.json`, '{"stack": "dashboard-au', { contentType: 'application/json' });
    const before = (await state().list(prefix())).map((o) => `${o.key} ${o.etag}`);
    for (let attempt = 0; attempt < 5; attempt++) {
      const error = await deployArtifact(t.site, { app: APP, commit: commits[2] as string, request }).catch(
        (e) => e,
      );
      expect(isFrontendOpsError(error, 'TAMPERED')).toBe(true);
      expect(error.message).toMatch(/audit head .*audit\/head\.json is damaged/);
    }
    expect((await state().list(prefix())).map((o) => `${o.key} ${o.etag}`)).toEqual(before);
    await state().delete([`${prefix()}pin.json`]);
  });

  it('one hand-edited entry is one finding, said first; what the entries after it record is said once, not as follow-on findings', async () => {
    // Before, an entry edited by hand came with a line for every object the entries after it record
    // ("added around the chain", "changed after entry 1"): five lines for one cause.
    const entries = await readAudit(state(), prefix());
    const edited = entries.findLast((e) => Object.keys(e.objects ?? {}).length > 0) as AuditEntry;
    const name = `audit/${String(edited.seq).padStart(10, '0')}.json`;
    await writeJson(name, { ...edited, at: '2020-01-01T00:00:00.000Z' });
    const result = await verifyAudit(state(), prefix());
    expect(result.problems).toHaveLength(2);
    expect(result.problems[0]).toMatchObject({
      kind: 'tampered',
      seq: edited.seq,
      reason: expect.stringMatching(/does not match its hash \(the entry was altered\)/),
    });
    const after = new Set(
      entries.filter((e) => e.seq >= edited.seq).flatMap((e) => Object.keys(e.objects ?? {})),
    );
    expect(result.problems[1]).toMatchObject({ kind: 'tampered', seq: edited.seq });
    const objects = after.size === 1 ? 'state object' : `${after.size} state objects`;
    const span =
      edited.seq === entries.length
        ? `entry ${edited.seq} records`
        : `entries ${edited.seq}–${entries.length} record`;
    expect(result.problems[1]?.reason).toBe(
      `from entry ${edited.seq} on the chain cannot be trusted, so the ${objects} that ${span} could not be checked (${[...after].sort().join(', ')}); they are checked again once the chain is whole`,
    );

    // What only the entries before the break record is still checked: a record edited there is found.
    const before = new Set(
      entries.filter((e) => e.seq < edited.seq).flatMap((e) => Object.keys(e.objects ?? {})),
    );
    const earlier = [...before].find((o) => o.startsWith('deployments/') && !after.has(o)) as string;
    expect(earlier).toBeDefined();
    await writeJson(earlier, { ...(await readJson<object>(earlier)), outcome: 'failed' });
    expect((await verifyAudit(state(), prefix())).problems).toEqual([
      result.problems[0],
      result.problems[1],
      expect.objectContaining({
        kind: 'tampered',
        object: earlier,
        reason: expect.stringMatching(/changed after entry/),
      }),
    ]);
  });

  it('tells an interrupted deploy (pointer moved, nothing recorded yet) from tampering, and the re-run settles it', async () => {
    const summary = await deployArtifact(t.site, {
      app: APP,
      commit: commits[2] as string,
      request,
      stopBeforeInvalidation: true,
    });
    expect(summary.outcome).toBe('synced');
    expect(await verifyAudit(state(), prefix())).toMatchObject({ ok: true });
    // Pointer written, its entry lost (the process died in between): verify says "unfinished", not ok.
    const entries = await readAudit(state(), prefix());
    const last = entries.at(-1) as AuditEntry;
    expect(last.type).toBe('release');
    await state().delete([`${prefix()}audit/${String(last.seq).padStart(10, '0')}.json`]);
    const before = entries.at(-2) as AuditEntry;
    await writeJson('audit/head.json', { seq: before.seq, hash: before.hash });
    const result = await verifyAudit(state(), prefix());
    expect(result.problems).toEqual([
      expect.objectContaining({
        kind: 'unfinished',
        object: 'live.json',
        reason: expect.stringMatching(/run the deploy again/),
      }),
    ]);
    await deployArtifact(t.site, { app: APP, commit: commits[2] as string, request });
    expect(await verifyAudit(state(), prefix())).toMatchObject({ ok: true, problems: [] });
  });

  it('an append stopped between writing its entry and moving the head: verify calls it unfinished, the next deploy finishes it and keeps the entry', async () => {
    const { last, before } = await moveHeadBackOne(state(), prefix());
    expect((await verifyAudit(state(), prefix())).problems).toEqual([
      expect.objectContaining({
        kind: 'unfinished',
        seq: last.seq,
        reason: expect.stringMatching(
          new RegExp(`entry ${last.seq} was written, but the head still names ${before.seq}`),
        ),
      }),
    ]);
    await deployArtifact(t.site, { app: APP, commit: commits[2] as string, request });
    const after = await readAudit(state(), prefix());
    expect(after[last.seq - 1]).toEqual(last);
    expect(after.length).toBeGreaterThan(last.seq);
    expect(await verifyAudit(state(), prefix())).toMatchObject({ ok: true, problems: [] });
  });

  // Verify's words name what finishes such an append: a deploy (above), a rollback or a pin.
  it.each([
    ['rollback', () => rollbackRelease(t.site, { request })],
    ['pin', () => pinRelease(t.site, { request })],
  ] as const)('the same stopped append is finished by a %s, which keeps its entry', async (_name, change) => {
    const { last } = await moveHeadBackOne(state(), prefix());
    expect((await verifyAudit(state(), prefix())).problems).toEqual([
      expect.objectContaining({
        kind: 'unfinished',
        reason: expect.stringMatching(/deploy, rollback or pin/),
      }),
    ]);
    await change();
    const after = await readAudit(state(), prefix());
    expect(after[last.seq - 1]).toEqual(last);
    expect(after.length).toBeGreaterThan(last.seq);
    expect(await verifyAudit(state(), prefix())).toMatchObject({ ok: true, problems: [] });
  });

  it('a head moved back several entries (a CI role may still write the head): the next deploy walks it forward, every entry kept', async () => {
    const entries = await readAudit(state(), prefix());
    expect(entries.length).toBeGreaterThanOrEqual(3);
    const first = entries[0] as AuditEntry;
    await writeJson('audit/head.json', { seq: first.seq, hash: first.hash });
    expect(await verifyAudit(state(), prefix())).toMatchObject({ ok: false });
    await deployArtifact(t.site, { app: APP, commit: commits[2] as string, request });
    const after = await readAudit(state(), prefix());
    expect(after.slice(0, entries.length)).toEqual(entries);
    expect(after.length).toBeGreaterThan(entries.length);
    expect(await verifyAudit(state(), prefix())).toMatchObject({ ok: true, problems: [] });
  });

  it('a head moved forward past the entries: the next entries chain to nothing, and verify says so', async () => {
    const entries = await readAudit(state(), prefix());
    await writeJson('audit/head.json', { seq: entries.length + 5, hash: `sha256:${'0'.repeat(64)}` });
    await deployArtifact(t.site, { app: APP, commit: commits[2] as string, request });
    const result = await verifyAudit(state(), prefix());
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'tampered' }));
    expect((await readAudit(state(), prefix())).slice(0, entries.length)).toEqual(entries);
  });

  it('an entry past the head that does not follow from it stops a deploy before anything is written', async () => {
    // The newest entry, edited and re-hashed so it is well formed, but chained to nothing here.
    const { last, before } = await forgeEntryPastHead(state(), prefix());
    await t.s3.settle();
    const requests = t.s3.requests.length;
    const error = await deployArtifact(t.site, { app: APP, commit: commits[2] as string, request }).catch(
      (e) => e,
    );
    expect(isFrontendOpsError(error, 'TAMPERED'), String(error)).toBe(true);
    expect(error.message).toMatch(
      new RegExp(
        `holds entry ${last.seq} after the entry its head names \\(${before.seq}\\), but it does not follow`,
      ),
    );
    await t.s3.settle();
    expect(t.s3.requests.slice(requests).filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
  });

  it('cannot see a removed newest entry, or a re-hashed chain, without an anchor (why the deploy tags carry one)', async () => {
    const entries = await readAudit(state(), prefix());
    const head = entries.at(-1) as AuditEntry;
    await rehashChain((all) =>
      all.map((e) => (e.seq === 1 ? { ...e, data: { ...e.data, actor: 'mallory' } } : e)),
    );
    // The chain links again and binds the same objects: from inside the bucket it looks whole…
    expect(await verifyAudit(state(), prefix())).toMatchObject({ ok: true });
    // …but not against the head git holds.
    const anchored = await verifyAudit(state(), prefix(), {
      anchors: [{ seq: head.seq, hash: head.hash, source: 'deploy tag dashboard-deploy-20261201-1' }],
    });
    expect(anchored.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        seq: head.seq,
        reason: `entry ${head.seq} is not the one deploy tag dashboard-deploy-20261201-1 anchors (the chain was rewritten, or deploy tag dashboard-deploy-20261201-1 was pushed by someone who can push to the repository)`,
      }),
    ]);
  });
  it("an entry edited in place (its hash kept) is the chain's fault, never its true deploy tag's", async () => {
    // Whoever can write the bucket rewrites the deployment an entry records, leaving its hash as it
    // was: the entry's content no longer matches it, and its tag's hash still does. The tag is the
    // evidence, not the culprit: verify must not tell the operator to delete it.
    const entries = await readAudit(state(), prefix());
    const tagged = entries.findLast(
      (e) => e.type === 'deploy' && e.data.outcome === 'succeeded',
    ) as AuditEntry;
    const anchor = {
      seq: tagged.seq,
      hash: tagged.hash,
      source: 'deploy tag dashboard-deploy-20261201-2',
      deployment: {
        deployId: String(tagged.data.deployId),
        commit: String(tagged.data.commit),
        artifactDigest: tagged.data.artifactDigest as string | undefined,
      },
    };
    expect(await verifyAudit(state(), prefix(), { anchors: [anchor] })).toMatchObject({ ok: true });
    await writeJson(`audit/${String(tagged.seq).padStart(10, '0')}.json`, {
      ...tagged,
      data: { ...tagged.data, deployId: '0000000-0000000000' },
    });
    const { problems } = await verifyAudit(state(), prefix(), { anchors: [anchor] });
    expect(problems[0]).toMatchObject({
      kind: 'tampered',
      seq: tagged.seq,
      reason: 'its content does not match its hash (the entry was altered)',
    });
    expect(problems.map((p) => p.reason).filter((r) => r.includes(anchor.source))).toEqual([]);
  });
});

describe('audit verify while a deploy runs', () => {
  it('a deploy that appends between reading the chain and reading the pointer is not taken for tampering', async () => {
    await resetState();
    await deployArtifact(t.site, { app: APP, commit: commits[0] as string, request });
    // The state as verify reads it, with a whole deploy landing just before its first read of live.json.
    let raced = false;
    const real = state();
    const racing: ObjectStore = {
      ...real,
      async get(key) {
        if (!raced && key === `${prefix()}live.json`) {
          raced = true;
          await deployArtifact(t.site, { app: APP, commit: commits[1] as string, request });
        }
        return real.get(key);
      },
    };
    expect(await verifyAudit(racing, prefix())).toMatchObject({ ok: true, problems: [] });
    expect(raced).toBe(true);
    // Without moving the head, the same mismatch is a real edit, and verify says so at once.
    const pointer = await readJson<Record<string, unknown>>('live.json');
    await writeJson('live.json', { ...pointer, commit: commits[0] });
    expect(await verifyAudit(state(), prefix())).toMatchObject({
      ok: false,
      problems: [expect.objectContaining({ kind: 'tampered', object: 'live.json' })],
    });
  });
});

describe('frontendops audit verify with the deploy tags as anchors (real git)', () => {
  // Each case starts from the two tagged deploys: they run once, what they left in the state prefix
  // and the hosting bucket is copied and put back before each case (a case that edits the chain
  // leaves it edited). The tags a case moves it puts back itself.
  let outputs: string;
  let deployed: BucketSnapshot;
  const run = (argv: string[]) =>
    cli(argv, { env: { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'ada' }, cwd: repo.dir });

  beforeAll(async () => {
    await resetState();
    outputs = await t.writeOutputs({ stack: 'dashboard-audit', cdn: true });
    for (const commit of commits.slice(0, 2)) {
      const deployed = await run(['deploy', '--stack', outputs, '--commit', commit, '--json']);
      expect(deployed.code, deployed.stderr).toBe(0);
      expect(JSON.parse(deployed.stdout).tag).toMatch(/^dashboard-deploy-\d{8}-\d+$/);
    }
    deployed = await snapshotBuckets([{ store: state(), prefix: prefix() }, { store: t.site.hosting }]);
  });
  beforeEach(() => deployed.restore());

  it('passes, checked against both tags, each carrying the stack and the head it left', async () => {
    const tags = await repo.git(['tag', '-l', 'dashboard-deploy-*', '--format=%(contents)']);
    expect(tags.match(/^Stack: dashboard-audit$/gm)).toHaveLength(2);
    expect(tags.match(/^Audit-Head: \d+:sha256:[0-9a-f]{64}$/gm)).toHaveLength(2);
    const result = await run(['audit', 'verify', '--stack', outputs]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/verifies: 5 entries, 3 state objects/);
    expect(result.stdout).toMatch(/checked against 2 deploy tag\(s\) in git/);
  });

  it('a deploy tag pushed with a head the chain never had is reported as either a pushed tag or a rewritten chain', async () => {
    // Anyone who can push can push a deploy tag: a copy of a true one with another hash for its
    // entry, and one anchoring an entry past the chain's end.
    const names = (await repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);
    const genuine = names.at(-1) as string;
    const message = (await repo.git(['tag', '-l', '--format=%(contents)', genuine])).trimEnd();
    const commit = (await repo.git(['rev-parse', `${genuine}^{commit}`])).trim();
    const planted = ['dashboard-deploy-20991231-1', 'dashboard-deploy-20991231-2'];
    const push = (name: string, text: string) =>
      repo.git(['tag', '-a', '--cleanup=verbatim', '-m', text, name, commit]);
    await push(
      planted[0] as string,
      message.replace(/^(Audit-Head: \d+):sha256:\w+$/m, `$1:sha256:${'0'.repeat(64)}`),
    );
    await push(planted[1] as string, message.replace(/^Audit-Head: \d+:/m, 'Audit-Head: 999:'));
    try {
      const { code, reasons } = verifyReasons(await run(['audit', 'verify', '--stack', outputs, '--json']));
      expect(code).toBe(1);
      expect(reasons).toHaveLength(2);
      const [copied, ahead] = [0, 1].map((i) => reasons.find((r) => r.includes(planted[i] as string)) ?? '');
      // The true tag and the chain agree, but so would the tag of the same deploy run again on the
      // bucket put back as before it (cli/audit-tag-anchors.test.ts): both are said.
      expect(copied).toMatch(/the chain was rewritten, or deploy tag dashboard-deploy-20991231-1 was pushed/);
      expect(copied).not.toMatch(/delete it/);
      // Nor does anything tell this one from a chain cut short.
      expect(ahead).toMatch(/entries were removed from the end and the head moved back, or .* pushed/);
    } finally {
      await repo.git(['tag', '-d', ...planted]);
    }
    expect((await run(['audit', 'verify', '--stack', outputs])).code).toBe(0);
  });

  it('a deploy tag deleted: its deployment stays recorded, untagged, and verify holds the chain to the tags left', async () => {
    const names = (await repo.git(['tag', '-l', 'dashboard-deploy-*'])).split('\n').filter(Boolean);
    const gone = names.at(-1) as string;
    const object = (await repo.git(['rev-parse', gone])).trim();
    await repo.git(['tag', '-d', gone]);
    try {
      const history = await run(['history', '--stack', outputs, '--json']);
      expect(history.code, history.stderr).toBe(0);
      const rows = JSON.parse(history.stdout).deployments as Array<{ tag: string | null; outcome: string }>;
      expect(rows.map((r) => [r.outcome, r.tag])).toEqual([
        ['succeeded', null],
        ['succeeded', names.at(-2)],
      ]);
      const verified = await run(['audit', 'verify', '--stack', outputs]);
      expect(verified.code, verified.stdout).toBe(0);
      expect(verified.stdout).toMatch(/checked against 1 deploy tag\(s\) in git/);
    } finally {
      await repo.git(['update-ref', `refs/tags/${gone}`, object]);
    }
  });

  it('fails when the newest entry is deleted and the head moved back', async () => {
    const entries = await readAudit(state(), prefix());
    const last = entries.at(-1) as AuditEntry;
    const before = entries.at(-2) as AuditEntry;
    const lastKey = `${prefix()}audit/${String(last.seq).padStart(10, '0')}.json`;
    const removed = await state().get(lastKey);
    const head = await state().get(`${prefix()}audit/head.json`);
    await state().delete([lastKey]);
    await writeJson('audit/head.json', { seq: before.seq, hash: before.hash });
    try {
      const result = await run(['audit', 'verify', '--stack', outputs, '--json']);
      expect(result.code).toBe(1);
      const verdict = JSON.parse(result.stdout);
      expect(verdict.ok).toBe(false);
      expect(verdict.problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          reason: expect.stringMatching(
            new RegExp(
              `anchors entry ${last.seq}, but the chain ends at ${before.seq} \\(entries were removed`,
            ),
          ),
        }),
      );
    } finally {
      await state().put(lastKey, removed?.body ?? '');
      await state().put(`${prefix()}audit/head.json`, head?.body ?? '');
    }
    expect((await run(['audit', 'verify', '--stack', outputs])).code).toBe(0);
  });

  it('fails for a rewritten, re-hashed chain, and says so in words', async () => {
    await rehashChain((all) =>
      all.map((e) => (e.seq === 2 ? { ...e, data: { ...e.data, actor: 'mallory' } } : e)),
    );
    const result = await run(['audit', 'verify', '--stack', outputs]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /does NOT verify:\n {2}tampered: entry \d+ is not the one deploy tag dashboard-deploy-\d{8}-\d+ anchors \(the chain was rewritten, or deploy tag dashboard-deploy-\d{8}-\d+ was pushed/,
    );
    expect(result.stderr).not.toMatch(/bug|at .*\.ts:\d+/);
  });
});
