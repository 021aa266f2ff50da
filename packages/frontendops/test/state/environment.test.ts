/**
 * Protection follows the target, not the name. The attack: the README's own
 * `pulumi stack output --json > prod.json` makes an outputs file that names no stack, and a stack
 * can be renamed or aliased in a configuration; each used to be a new, unprotected environment
 * with a separate history, writing to the same hosting bucket.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { readAudit, readAuditHead, stateDigest, verifyAudit } from '../../src/state/audit.ts';
import { AUDIT_HEAD, auditEntryName, ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { rehash } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import {
  HOSTING,
  publishFixtureBuilds,
  publishToStack,
  STACK,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const STAGING = 'dashboard-staging';
const STAGING_HOSTING = 'sophia-dashboard-hosting-staging';
const COMMITS = ['1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'];
let t: TestDeployEnv;
let env: Record<string, string>;
let named: string;
/**
 * Where a case starts from, put back by the case or its beforeEach (bucket-snapshot.ts): the state
 * prefixes and both hosting buckets as the history built once below leaves them: before any change
 * (`fresh`), after production's first deploy (`first`) and its second (`second`), and after
 * staging's first as well (`staged`). A case that changes them leaves them changed: the next case
 * puts back its own.
 */
let at: Record<'fresh' | 'first' | 'second' | 'staged', BucketSnapshot>;

beforeAll(async () => {
  t = await startDeployEnv({}, { extraBuckets: [STAGING_HOSTING] });
  const published = await publishFixtureBuilds(t, APP, COMMITS, { from: 0 });
  await publishToStack(t, { stack: STAGING, hostingBucket: STAGING_HOSTING }, published);
  named = await t.writeOutputs({ cdn: true });
  const config = join(t.tmp, 'frontendops.config.json');
  await writeFile(
    config,
    JSON.stringify({
      protected: [STACK],
      stacks: { alias: { backend: 'outputs', file: join(t.tmp, 'alias-outputs.json') } },
    }),
  );
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_CONFIG: config, FRONTENDOPS_ACTOR: 'ada' };

  const snapshot = () =>
    snapshotBuckets([
      { store: t.site.state, prefix: '.frontendops/state/' },
      { store: t.site.hosting },
      { store: t.s3.store(STAGING_HOSTING) },
    ]);
  const deploy = async (outputs: string, commit: string) => {
    const deployed = await run(['deploy', '--stack', outputs, '--commit', commit, '--yes', '--no-tag']);
    expect(deployed.code, deployed.stderr).toBe(0);
  };
  const fresh = await snapshot();
  await deploy(named, COMMITS[0] as string);
  const first = await snapshot();
  await deploy(named, COMMITS[1] as string);
  const second = await snapshot();
  await deploy(
    await t.writeOutputs({ stack: STAGING, cdn: true, hostingBucket: STAGING_HOSTING }),
    COMMITS[0] as string,
  );
  at = { fresh, first, second, staged: await snapshot() };
});
afterAll(() => t.stop());

const run = (argv: string[]) => cli(argv, { env, cwd: t.tmp });

/** The same outputs as the named file, as `pulumi stack output --json` writes them: no "stack". */
async function outputsWithout(file: string, changes: Record<string, unknown> = {}) {
  const { stack: _drop, ...outputs } = JSON.parse(await readFile(named, 'utf8'));
  const path = join(t.tmp, file);
  await writeFile(path, JSON.stringify({ ...outputs, ...changes }));
  return path;
}

describe('the environment a hosting bucket belongs to', () => {
  it('is written by the first change: name, state location, protection', async () => {
    await at.fresh.restore();
    const first = await run([
      'deploy',
      '--stack',
      named,
      '--commit',
      COMMITS[0] as string,
      '--yes',
      '--no-tag',
    ]);
    expect(first.code, first.stderr).toBe(0);
    const marker = JSON.parse((await t.site.hosting.get(ENVIRONMENT_MARKER))?.body.toString() ?? '{}');
    expect(marker).toEqual({
      v: 1,
      stack: STACK,
      stateBucket: t.target.stateBucket,
      statePrefix: t.target.statePrefix,
      protected: true,
    });
  });

  it('an outputs file that names no stack is that environment: its name, its one history, protected', async () => {
    await at.first.restore();
    const prod = await outputsWithout('prod.json');
    const refused = await run(['deploy', '--stack', prod, '--commit', COMMITS[1] as string, '--no-tag']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/dashboard-hosting-prod is a protected environment/);
    expect(refused.stderr).toMatch(/writes to the hosting bucket of environment dashboard-hosting-prod/);

    const history = await run(['history', '--stack', prod, '--json']);
    expect(JSON.parse(history.stdout)).toMatchObject({
      stack: STACK,
      deployments: [expect.objectContaining({ commit: COMMITS[0] })],
    });
    expect(JSON.parse((await run(['status', '--stack', prod, '--json'])).stdout)).toMatchObject({
      stack: STACK,
      protected: true,
      live: expect.objectContaining({ commit: COMMITS[0] }),
    });
  });

  it('a renamed stack, or an alias in the configuration that does not list it as protected, is the same protected environment', async () => {
    await at.first.restore();
    const renamed = await outputsWithout('renamed.json', { stack: 'dashboard-renamed' });
    await outputsWithout('alias-outputs.json', { stack: 'alias' });
    for (const ref of [renamed, 'alias']) {
      const status = JSON.parse((await run(['status', '--stack', ref, '--json'])).stdout);
      expect(status, ref).toMatchObject({ stack: STACK, protected: true });
      const refused = await run(['deploy', '--stack', ref, '--commit', COMMITS[1] as string, '--no-tag']);
      expect(refused.code, ref).toBe(2);
      expect(refused.stderr, ref).toMatch(/APPROVAL_REQUIRED|protected environment/);
    }
    // Approved under another name, the change lands in the one history and chain.
    const approved = await run([
      'deploy',
      '--stack',
      renamed,
      '--commit',
      COMMITS[1] as string,
      '--yes',
      '--no-tag',
    ]);
    expect(approved.code, approved.stderr).toBe(0);
    const history = JSON.parse((await run(['history', '--stack', named, '--json'])).stdout);
    expect(history.deployments.map((d: { commit: string }) => d.commit)).toEqual([COMMITS[1], COMMITS[0]]);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('is never pruned, and a deploy never lowers its protection', async () => {
    await at.second.restore();
    const local = await outputsWithout('unprotected.json', { stack: 'dashboard-hosting-prod' });
    // A configuration that protects nothing opens the same bucket: still protected.
    const bare = join(t.tmp, 'bare.json');
    await writeFile(bare, JSON.stringify({ protected: [] }));
    const status = await cli(['status', '--stack', local, '--json'], {
      env: { ...env, FRONTENDOPS_CONFIG: bare },
      cwd: t.tmp,
    });
    expect(JSON.parse(status.stdout)).toMatchObject({ stack: STACK, protected: true });
    // A change refused there says why, since no configuration in use lists the stack.
    // (The older build: the newer one is live.)
    const refused = await cli(['deploy', '--stack', local, '--commit', COMMITS[0] as string, '--no-tag'], {
      env: { ...env, FRONTENDOPS_CONFIG: bare },
      cwd: t.tmp,
    });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /is a protected environment \(its hosting bucket is marked protected: once protected, a stack stays protected, whatever a configuration says\)/,
    );
    const keys = (await t.s3.store(HOSTING).list()).map((o) => o.key);
    expect(keys).toContain(ENVIRONMENT_MARKER);
  });
});

/**
 * The marker decides where a bucket's history, pin, approvals and audit chain live, and whether it is
 * protected, so it is under the chain too: each entry that writes it binds its digest and the bucket
 * it went to, and `audit verify` holds the bucket's marker against the newest of them. The attacks:
 * someone who can write the hosting bucket lowers its protection, deletes its marker, or points it
 * at another environment's history (copying that environment's marker), where a chain that never
 * saw this bucket verifies.
 */
describe('the marker under the audit chain', () => {
  const verifyOf = async (ref: string) => {
    const result = await run(['audit', 'verify', '--stack', ref, '--json']);
    return { code: result.code, ...JSON.parse(result.stdout) } as {
      code: number;
      ok: boolean;
      problems: Array<{ kind: string; object?: string; reason: string }>;
    };
  };
  const markerOf = async (bucket: string) => (await t.s3.store(bucket).get(ENVIRONMENT_MARKER))?.body;
  const putMarker = (bucket: string, body: Buffer | string) =>
    t.s3.store(bucket).put(ENVIRONMENT_MARKER, body, { contentType: 'application/json' });
  const where = `${HOSTING}/${ENVIRONMENT_MARKER}`;
  // Each case starts from both environments deployed, but the one that makes staging's first deploy.
  beforeEach(() => at.staged.restore());

  it('each entry that writes a marker binds its digest and its bucket; the chain verifies with it', async () => {
    const marks = (await readAudit(t.site.state, t.target.statePrefix)).filter(
      (e) => e.type === 'environment',
    );
    expect(marks.at(-1)?.data).toMatchObject({ hostingBucket: HOSTING, stack: STACK, protected: true });
    expect(await verifyOf(named)).toMatchObject({ code: 0, ok: true, problems: [] });
  });

  it('every entry carries the marker the chain last wrote to each bucket; one written otherwise is tampered', async () => {
    // What a change holds the marker its lock reads to, with no request: the newest entry's `markers`.
    const prefix = t.target.statePrefix;
    const entries = await readAudit(t.site.state, prefix);
    const newest = entries.at(-1) as NonNullable<(typeof entries)[number]>;
    const written = JSON.parse(((await markerOf(HOSTING)) as Buffer).toString());
    expect(newest.type).not.toBe('environment');
    expect(newest.markers).toEqual({ [HOSTING]: stateDigest(written) });
    // An entry appended by hand that says the bucket holds an unprotected marker.
    const forged = rehash({
      ...newest,
      seq: newest.seq + 1,
      type: 'agent-request',
      data: {},
      objects: undefined,
      markers: { [HOSTING]: stateDigest({ ...written, protected: false }) },
      prevHash: newest.hash,
    });
    const head = (await t.site.state.get(`${prefix}${AUDIT_HEAD}`))?.body as Buffer;
    await t.site.state.put(`${prefix}${auditEntryName(forged.seq)}`, JSON.stringify(forged));
    await t.site.state.put(`${prefix}${AUDIT_HEAD}`, JSON.stringify({ seq: forged.seq, hash: forged.hash }));
    try {
      expect((await verifyAudit(t.site.state, prefix)).problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          seq: forged.seq,
          reason: expect.stringMatching(/records the environment markers otherwise/),
        }),
      );
    } finally {
      await t.site.state.delete([`${prefix}${auditEntryName(forged.seq)}`]);
      await t.site.state.put(`${prefix}${AUDIT_HEAD}`, head);
    }
    expect(await verifyOf(named)).toMatchObject({ code: 0, ok: true, problems: [] });
  });

  it('a marker edited to lower protection, or deleted, is reported as tampered', async () => {
    const original = (await markerOf(HOSTING)) as Buffer;
    await putMarker(HOSTING, JSON.stringify({ ...JSON.parse(original.toString()), protected: false }));
    const lowered = await verifyOf(named);
    expect(lowered).toMatchObject({ code: 1, ok: false });
    expect(lowered.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: where,
        reason: expect.stringMatching(/was changed after entry \d+ recorded it/),
      }),
    ]);

    await t.s3.store(HOSTING).delete([ENVIRONMENT_MARKER]);
    const deleted = await verifyOf(named);
    expect(deleted.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: where,
        reason: expect.stringMatching(/is missing \(it was deleted\)/),
      }),
    ]);

    await putMarker(HOSTING, original);
    expect(await verifyOf(named)).toMatchObject({ ok: true, problems: [] });
  });

  it('a first marker write that did not land reads as unfinished, and the next deploy writes it', async () => {
    await at.second.restore();
    const stagingOutputs = await t.writeOutputs({
      stack: STAGING,
      cdn: true,
      hostingBucket: STAGING_HOSTING,
    });
    const target = {
      ...t.target,
      stack: STAGING,
      hostingBucket: STAGING_HOSTING,
      statePrefix: `.frontendops/state/${STAGING}/`,
    };
    const opened = await connectSite(target, {
      access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint },
      onNotice: () => undefined,
    });
    // The process ends between the entry and the marker write (here: the write fails).
    const site = {
      ...opened,
      hosting: {
        ...opened.hosting,
        put: async (...args: Parameters<typeof opened.hosting.put>) => {
          if (args[0] === ENVIRONMENT_MARKER) throw new Error('connection reset while writing the marker');
          return opened.hosting.put(...args);
        },
      },
    };
    try {
      const failed = await deployArtifact(site, {
        app: APP,
        commit: COMMITS[0] as string,
        request: { actor: 'ada', text: 'deploy', planner: 'cli', at: new Date().toISOString() },
      }).catch((e: unknown) => e);
      expect(String(failed)).toMatch(/connection reset while writing the marker/);
    } finally {
      opened.close();
    }
    expect(await t.s3.store(STAGING_HOSTING).list()).toEqual([]);
    const unfinished = await verifyOf(stagingOutputs);
    expect(unfinished.problems).toEqual([
      expect.objectContaining({
        kind: 'unfinished',
        object: `${STAGING_HOSTING}/${ENVIRONMENT_MARKER}`,
        reason: expect.stringMatching(/did not land.*next deploy/),
      }),
    ]);

    const redeployed = await run([
      'deploy',
      '--stack',
      stagingOutputs,
      '--commit',
      COMMITS[0] as string,
      '--yes',
      '--no-tag',
    ]);
    expect(redeployed.code, redeployed.stderr).toBe(0);
    expect(await verifyOf(stagingOutputs)).toMatchObject({ code: 0, ok: true, problems: [] });
  });

  it("a bucket pointed at another environment's history is caught: no entry of that chain marked it", async () => {
    const stagingOutputs = join(t.tmp, `${STAGING}.json`);
    const ownMarker = (await markerOf(HOSTING)) as Buffer;
    // The staging marker copied into the production bucket. Opened by its own outputs, production
    // keeps its own history (the marker is not followed away from it), whose chain reports it…
    await putMarker(HOSTING, (await markerOf(STAGING_HOSTING)) as Buffer);
    const redirected = await verifyOf(named);
    expect(redirected).toMatchObject({ code: 1, ok: false });
    expect(redirected.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: where,
        reason: expect.stringMatching(/was changed after entry \d+ recorded it/),
      }),
    ]);
    // …and opened by outputs that name no stack (only the marker says which environment this is),
    // it opens as staging, whose chain never marked this bucket.
    const unnamed = await verifyOf(await outputsWithout('unnamed-redirected.json'));
    expect(unnamed).toMatchObject({ code: 1, ok: false });
    expect(unnamed.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: where,
        reason: expect.stringMatching(/no entry of this chain wrote that marker/),
      }),
    ]);
    // Staging itself still verifies: the check is about the bucket that points here.
    expect(await verifyOf(stagingOutputs)).toMatchObject({ ok: true });

    await putMarker(HOSTING, ownMarker);
    expect(await verifyOf(named)).toMatchObject({ ok: true, problems: [] });
  });

  it("a marker pointed at a copy of the stack's own chain is not followed: its own chain reports it", async () => {
    // Whoever can write the hosting bucket and the state prefix (the deployer role) copies the chain
    // and what it binds to a location under the prefix where nothing is create-only, adds an
    // entry there that marks the bucket, and points the marker at the copy. Followed, the copy
    // would verify (and match the deploy tags, its entries being the same) while leaving out any
    // entry after it, and later entries could be rewritten there at will.
    const prefix = t.target.statePrefix;
    const fork = `${prefix}fork/`;
    for (const object of await t.site.state.list(prefix)) {
      if (/\/(locks|probe)\//.test(object.key)) continue;
      const body = (await t.site.state.get(object.key))?.body;
      if (body) await t.site.state.put(`${fork}${object.key.slice(prefix.length)}`, body);
    }
    const ownMarker = (await markerOf(HOSTING)) as Buffer;
    const marker = { ...JSON.parse(ownMarker.toString()), statePrefix: fork };
    const head = await readAuditHead(t.site.state, fork);
    if (!head) throw new Error('the copy has no head');
    const unsigned = {
      seq: head.seq + 1,
      at: new Date().toISOString(),
      type: 'environment',
      data: {
        stack: STACK,
        protected: true,
        previous: STACK,
        hostingBucket: HOSTING,
        markerDigest: stateDigest(marker),
      },
      prevHash: head.hash,
    };
    const entry = rehash({ ...unsigned, hash: '' });
    await t.site.state.put(`${fork}${auditEntryName(entry.seq)}`, JSON.stringify(entry));
    await t.site.state.put(`${fork}${AUDIT_HEAD}`, JSON.stringify({ seq: entry.seq, hash: entry.hash }));
    await putMarker(HOSTING, JSON.stringify(marker));
    expect(
      (await verifyAudit(t.site.state, fork, { hosting: { bucket: HOSTING, store: t.site.hosting } })).ok,
    ).toBe(true);

    const redirected = await verifyOf(named);
    expect(redirected).toMatchObject({ code: 1, ok: false });
    expect(redirected.problems).toEqual([
      expect.objectContaining({
        kind: 'tampered',
        object: where,
        reason: expect.stringMatching(/was changed after entry/),
      }),
    ]);
    const status = await run(['status', '--stack', named]);
    expect(status.stderr).toMatch(/the marker is not followed/);

    // Nor through an outputs file that names no stack (an alias alike), which has no history of its
    // own to stay with: it is refused, and told where the marker is reported. Nothing is written.
    const unnamed = await outputsWithout('prod-fork.json');
    for (const argv of [
      ['status', '--stack', unnamed],
      ['deploy', '--stack', unnamed, '--commit', COMMITS[0] as string, '--yes', '--no-tag'],
    ]) {
      const refused = await run(argv);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toMatch(
        /marked as environment dashboard-hosting-prod, but its marker names a state location other than dashboard-hosting-prod's own, which holds its history: the marker is not followed/,
      );
      expect(refused.stderr).not.toMatch(/fork\/|\n\s+at /);
    }
    expect(await readAuditHead(t.site.state, fork)).toEqual({ seq: entry.seq, hash: entry.hash });

    // The next change is refused, nothing written: the marker is not the one the stack's own chain
    // last wrote there (stacks/marker-chain.test.ts), which the refusal shows, to put back.
    const ownHead = await readAuditHead(t.site.state, prefix);
    const forkHead = await readAuditHead(t.site.state, fork);
    const refused = await run([
      'deploy',
      '--stack',
      named,
      '--commit',
      COMMITS[0] as string,
      '--yes',
      '--no-tag',
    ]);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/is not the one the audit log last recorded writing there/);
    expect(refused.stderr).toContain(JSON.stringify(JSON.parse(ownMarker.toString())));
    expect(await readAuditHead(t.site.state, prefix)).toEqual(ownHead);
    expect(await readAuditHead(t.site.state, fork)).toEqual(forkHead);
    // Put back, the next change goes to the stack's own chain.
    await putMarker(HOSTING, ownMarker);
    const deployed = await run([
      'deploy',
      '--stack',
      named,
      '--commit',
      COMMITS[0] as string,
      '--yes',
      '--no-tag',
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect((await readAuditHead(t.site.state, prefix))?.seq).toBeGreaterThan(ownHead?.seq ?? 0);
    expect(await readAuditHead(t.site.state, fork)).toEqual(forkHead);
    expect(JSON.parse(((await markerOf(HOSTING)) as Buffer).toString())).toMatchObject({
      statePrefix: prefix,
    });
    expect(await verifyOf(named)).toMatchObject({ ok: true, problems: [] });
    await t.site.state.delete((await t.site.state.list(fork)).map((o) => o.key));
  });

  it.each([
    ['the hosting bucket itself', HOSTING, /names the hosting bucket itself as where its history is kept/],
    ['another bucket', STAGING_HOSTING, /names a state location other than dashboard-hosting-prod's own/],
  ])(
    'a marker pointed at a copy of the chain in %s, at the default prefix, is not followed either',
    async (_, bucket, why) => {
      // The same copy, in a bucket whoever writes the site may hold, where nothing is create-only.
      const prefix = t.target.statePrefix;
      const copy = t.s3.store(bucket);
      for (const object of await t.site.state.list(prefix)) {
        if (/\/(locks|probe)\//.test(object.key)) continue;
        const body = (await t.site.state.get(object.key))?.body;
        if (body) await copy.put(object.key, body);
      }
      const ownMarker = (await markerOf(HOSTING)) as Buffer;
      await putMarker(HOSTING, JSON.stringify({ ...JSON.parse(ownMarker.toString()), stateBucket: bucket }));
      const copied = (await copy.list(prefix)).map((o) => o.key).sort();
      const ownHead = await readAuditHead(t.site.state, prefix);
      try {
        const unnamed = await outputsWithout(`prod-${bucket}.json`);
        for (const argv of [
          ['audit', 'verify', '--stack', unnamed],
          ['deploy', '--stack', unnamed, '--commit', COMMITS[1] as string, '--yes', '--no-tag'],
        ]) {
          const refused = await run(argv);
          expect(refused.code, refused.stderr).toBe(1);
          expect(refused.stderr).toMatch(
            /is marked as environment dashboard-hosting-prod, but its marker names .*: the marker is not followed, and nothing was done/,
          );
          expect(refused.stderr).not.toMatch(/\n\s+at /);
          expect(refused.stderr).toMatch(why);
        }
        expect((await copy.list(prefix)).map((o) => o.key).sort()).toEqual(copied);
        expect(await readAuditHead(t.site.state, prefix)).toEqual(ownHead);
      } finally {
        await putMarker(HOSTING, ownMarker);
        await copy.delete((await copy.list(prefix)).map((o) => o.key));
      }
      expect(await verifyOf(named)).toMatchObject({ ok: true, problems: [] });
    },
  );
});
