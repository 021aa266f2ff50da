/**
 * Protection that comes only from the hosting bucket's environment marker (a configuration that does
 * not list the environment as protected: another operator's, an alias, another stack name whose
 * outputs name the same state location). Whoever can write the hosting bucket could remove it:
 * delete the marker, rewrite it `protected: false` with a valid shape, put back an older genuine
 * copy from before the environment was protected, or rewrite it to name a stack with no history.
 * `audit verify` reported it afterwards, but the next change was made with no approval. Now a
 * change holds the marker, as its lock reads it, to the audit chain's newest entry writing a marker
 * to that bucket (the entries carry that binding, so no request more): one missing or different is
 * refused TAMPERED before anything is written or any approval used, saying what is wrong, the marker
 * the chain records and what to do.
 *
 * What stays open: an alias whose outputs name a state location of its own (no history there) has
 * only the marker to find the history by: deleted, it opens as a new stack; another environment's
 * own last marker for this bucket put back, it opens that environment (docs/security.md says so).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Config, configSchema } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import { readStatus } from '../../src/read/status.ts';
import type { Site } from '../../src/site.ts';
import { openSite } from '../../src/stacks/open.ts';
import { type AuditEntry, appendAudit, readAudit, stateDigest, verifyAudit } from '../../src/state/audit.ts';
import { AUDIT_HEAD, auditEntryName, ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { request } from '../support/atomic-env.ts';
import { chainBeforeMarkers, rehash } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { HOSTING, publishToStack, STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import { MARKER_APP as APP, type MarkerEnv, startMarkerEnv } from '../support/marker-env.ts';
import { refusal } from '../support/refusal.ts';

/** A second environment's hosting bucket, in the same S3 server. */
const FRESH = 'fresh-hosting';
/** A third environment's, for a stopped upgrade met by new processes. */
const STOPPED = 'stopped-hosting';
/** A fourth environment's, for a stopped upgrade met by a process that stays open. */
const UPGRADED = 'upgraded-hosting';
const [V1, V2, V3] = [
  '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  '3333333ccccccccccccccccccccccccccccccccc',
];

let env: MarkerEnv;
let t: TestDeployEnv;
let named: string;
/** This operator's configuration: it protects no stack (the marker is all that protects STACK). */
let plain: Config;
/** The marker before the environment was protected: genuine, written by FrontendOps, bound by an entry. */
let unprotectedMarker: string;
let deployed: BucketSnapshot;

const marker = () => env.marker();
const putMarker = (body: string) => env.putMarker(body);
const everything = () => env.everything('.frontendops/state/');
const open = (ref: string, config = plain) => openSite(ref, config, t.tmp, { onNotice: () => undefined });

beforeAll(async () => {
  env = await startMarkerEnv([V1, V2, V3], { extraBuckets: [FRESH, STOPPED, UPGRADED] });
  ({ t, named } = env);
  // "alias": the same buckets under a name of its own (its own default state location, no history);
  // "twin": the same buckets and the environment's state location under another name.
  const twinFile = join(t.tmp, 'twin-outputs.json');
  await writeFile(
    twinFile,
    JSON.stringify({ ...env.outputs, stack: 'twin', statePrefix: t.target.statePrefix }),
  );
  const stacks = {
    alias: { backend: 'outputs', file: env.aliasFile },
    twin: { backend: 'outputs', file: twinFile },
  };
  plain = configSchema.parse({ protected: [], stacks });
  // First deployed unprotected; then by an operator whose configuration protects it: the marker is
  // upgraded, and stays protected whatever a configuration says.
  let site = await open(named);
  await deployArtifact(site, { app: APP, commit: V1, request: request('first') });
  site.close();
  unprotectedMarker = (await marker()) as string;
  expect(JSON.parse(unprotectedMarker)).toMatchObject({ stack: STACK, protected: false });
  site = await open(named, configSchema.parse({ protected: [STACK], stacks }));
  await deployArtifact(site, { app: APP, commit: V2, request: request('second') });
  site.close();
  expect(JSON.parse((await marker()) ?? '{}')).toMatchObject({ stack: STACK, protected: true });
  deployed = await snapshotBuckets([
    { store: t.site.hosting },
    { store: t.site.state, prefix: t.target.statePrefix },
    { store: t.site.state, prefix: '.frontendops/state/alias/' },
  ]);
}, 180_000);
beforeEach(async () => {
  await deployed.restore();
});
afterAll(async () => {
  await t?.stop();
});

/**
 * How a refusal of a marker that is not the one the audit log records names the marker to put back
 * in `bucket` (its JSON captured): one phrase, whether the lock refuses it as tampered or a stopped
 * upgrade's new process as unprotected.
 */
const putBackWords = (bucket: string) =>
  new RegExp(
    `put back the marker the log records \\(its entry \\d+ wrote it\\), (\\{"v":1,[^}]*\\}), at s3://${bucket}/${ENVIRONMENT_MARKER.replaceAll('.', '\\.')} \\(for example with \`aws s3 cp\`\\)`,
  );

/** A deploy of V3, counting the approvals it asks for: refused, with nothing changed. */
async function refusedDeploy(site: Site) {
  let asked = 0;
  const error = await refusal(
    deployArtifact(site, {
      app: APP,
      commit: V3,
      request: request('ship v3'),
      authorize: async () => {
        asked += 1;
        return undefined;
      },
    }),
  );
  return { code: (error as { code?: string }).code, asked, message: error.message };
}

const attacks: [string, () => Promise<unknown>, string[]][] = [
  ['deleted', () => t.site.hosting.delete([ENVIRONMENT_MARKER]), [STACK, 'twin']],
  [
    'rewritten "protected": false, in a valid shape',
    async () => putMarker(JSON.stringify({ ...JSON.parse((await marker()) ?? '{}'), protected: false })),
    [STACK, 'alias', 'twin'],
  ],
  [
    'replaced by the older genuine one, from before it was protected',
    () => putMarker(unprotectedMarker),
    [STACK, 'alias', 'twin'],
  ],
  [
    'rewritten to name the alias, unprotected, where no history is',
    () =>
      putMarker(
        JSON.stringify({
          v: 1,
          stack: 'alias',
          stateBucket: t.target.stateBucket,
          statePrefix: '.frontendops/state/alias/',
          protected: false,
        }),
      ),
    [STACK, 'alias', 'twin'],
  ],
];

describe('a marker that protects the environment alone, removed by whoever writes the hosting bucket', () => {
  it('protects it while it is as written: every name opens it protected', async () => {
    for (const ref of [named, 'alias', 'twin']) {
      const site = await open(ref);
      expect({ ref, protected: site.protected }).toEqual({ ref, protected: true });
      site.close();
    }
  });

  for (const [what, attack, refs] of attacks) {
    it(`${what}: a change is refused before it writes anything or asks for an approval`, async () => {
      await attack();
      const planted = await marker();
      const before = await everything();
      for (const ref of refs) {
        const site = await open(ref === STACK ? named : ref);
        const refused = await refusedDeploy(site);
        site.close();
        expect({ ref, code: refused.code, asked: refused.asked }).toEqual({
          ref,
          code: 'TAMPERED',
          asked: 0,
        });
        expect(refused.message).toContain('.frontendops/environment.json');
        expect(refused.message).toMatch(/not the one the audit log last recorded/);
        expect(refused.message).toContain('Nothing was changed');
        expect(refused.message).toContain('audit verify');
        if (ref === 'alias' && (await marker())?.includes('"alias"')) {
          // Followed to a state location with no history: no log there records a marker.
          expect(refused.message).toMatch(/records no marker written to this bucket/);
        } else {
          // What was expected: the marker the chain records, to put back, in the words every
          // refusal of a marker not as recorded says it (the stopped upgrade's below).
          const named = putBackWords(HOSTING).exec(refused.message)?.[1];
          expect(named, refused.message).toBeDefined();
          expect(JSON.parse(named as string)).toMatchObject({ stack: STACK, protected: true });
        }
        expect(await marker()).toBe(planted);
        expect(await everything()).toEqual(before);
      }
    });
  }

  it('a dry run says what the change will: refused, the stack treated as protected', async () => {
    for (const [, attack] of attacks) {
      await deployed.restore();
      await attack();
      const before = await everything();
      const site = await open(named);
      const dry = await refusal(
        deployArtifact(site, { app: APP, commit: V3, request: request('plan'), dryRun: true }),
      );
      const change = await refusedDeploy(site);
      expect({ dry: (dry as { code?: string }).code, protected: site.protected }).toEqual({
        dry: change.code,
        protected: true,
      });
      expect(dry.message).toBe(change.message);
      site.close();
      expect(await everything()).toEqual(before);
    }
  });

  it('status says what the change will: protected, the marker not as recorded', async () => {
    for (const [what, attack] of attacks) {
      await deployed.restore();
      await attack();
      const site = await open(named);
      const status = await readStatus(site);
      const change = await refusedDeploy(site);
      site.close();
      expect({ what, protected: status.protected, state: status.recorded.state }).toEqual({
        what,
        protected: true,
        state: 'changed-outside',
      });
      expect(status.recorded.note).toContain(change.message);
    }
  });

  it('a pin is refused as well, before it writes anything', async () => {
    await putMarker(unprotectedMarker);
    const before = await everything();
    const site = await open(named);
    const error = await refusal(pinRelease(site, { request: request('hold it') }));
    site.close();
    expect((error as { code?: string }).code).toBe('TAMPERED');
    expect(await everything()).toEqual(before);
  });

  it('put back as the chain records it, the change goes through (and the stack is protected again)', async () => {
    const genuine = (await marker()) as string;
    await t.site.hosting.delete([ENVIRONMENT_MARKER]);
    let site = await open(named);
    expect((await refusedDeploy(site)).code).toBe('TAMPERED');
    site.close();
    await putMarker(genuine);
    site = await open(named);
    expect(site.protected).toBe(true);
    const summary = await deployArtifact(site, { app: APP, commit: V3, request: request('ship v3') });
    site.close();
    expect(summary.commit).toBe(V3);
    expect(await marker()).toBe(genuine);
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(true);
  });
});

describe('the deployer role, which appends entries and writes the hosting bucket', () => {
  it('an entry it appends lowering the marker to unprotected is reported by audit verify', async () => {
    const site = await open(named);
    const lowered = { ...JSON.parse((await marker()) ?? '{}'), protected: false };
    // What a change never writes: an "environment" entry taking the protection away, and its marker.
    const entry = await appendAudit(site.state, site.target.statePrefix, site.locker, {
      type: 'environment',
      data: {
        stack: STACK,
        protected: false,
        previous: STACK,
        hostingBucket: HOSTING,
        markerDigest: stateDigest(lowered),
      },
    });
    site.close();
    await putMarker(JSON.stringify(lowered));
    const verified = await verifyAudit(t.site.state, t.target.statePrefix, {
      hosting: { bucket: HOSTING, store: t.site.hosting },
    });
    expect(verified.ok).toBe(false);
    expect(verified.problems).toContainEqual(
      expect.objectContaining({
        kind: 'tampered',
        seq: entry.seq,
        object: `${HOSTING}/${ENVIRONMENT_MARKER}`,
      }),
    );
  });
});

describe('an entry recording a marker no FrontendOps writes', () => {
  it('a change with an approval writes the marker again: the stack is not refused for ever', async () => {
    let site = await open(named);
    // Appended by the deployer role: a digest that no marker FrontendOps writes for this stack has.
    await appendAudit(site.state, site.target.statePrefix, site.locker, {
      type: 'environment',
      data: {
        stack: STACK,
        protected: true,
        previous: STACK,
        hostingBucket: HOSTING,
        markerDigest: `sha256:${'0'.repeat(64)}`,
      },
    });
    site.close();
    // Opened unprotected (its marker deleted, a configuration that does not list it): refused,
    // before anything is written or any approval asked, the words saying how to go on.
    const genuine = (await marker()) as string;
    await t.site.hosting.delete([ENVIRONMENT_MARKER]);
    const before = await everything();
    site = await open(named);
    const refused = await refusedDeploy(site);
    expect({ code: refused.code, asked: refused.asked, protected: site.protected }).toEqual({
      code: 'TAMPERED',
      asked: 0,
      protected: true,
    });
    expect(refused.message, refused.message).toMatch(/a marker no FrontendOps writes/);
    expect(refused.message).toMatch(/listed under `protected`/);
    site.close();
    expect(await everything()).toEqual(before);
    await putMarker(genuine);
    // The marker protects it (a configuration that does not list it opens it protected): a change,
    // with its approval, writes the marker again, and the next change goes through as well.
    for (const commit of [V3, V1]) {
      site = await open(named);
      expect(site.protected).toBe(true);
      let asked = 0;
      await deployArtifact(site, {
        app: APP,
        commit,
        request: request('ship'),
        authorize: async () => {
          asked += 1;
          return undefined;
        },
      });
      site.close();
      expect({ commit, asked }).toEqual({ commit, asked: 1 });
    }
    expect(JSON.parse((await marker()) ?? '{}')).toMatchObject({ stack: STACK, protected: true });
    const verified = await verifyAudit(t.site.state, t.target.statePrefix, {
      hosting: { bucket: HOSTING, store: t.site.hosting },
    });
    expect(verified.problems.filter((p) => p.object?.endsWith(ENVIRONMENT_MARKER))).toEqual([]);
  });
});

describe('a chain from before entries carried the markers', () => {
  /** The chain as an older FrontendOps wrote it: the same entries, none carrying `markers`. */
  async function withoutMarkers() {
    const prefix = t.target.statePrefix;
    let prevHash = 'sha256:genesis';
    let last: AuditEntry | undefined;
    for (const entry of await readAudit(t.site.state, prefix)) {
      const { markers: _markers, ...older } = entry;
      last = rehash({ ...older, prevHash });
      prevHash = last.hash;
      await t.site.state.put(`${prefix}${auditEntryName(last.seq)}`, JSON.stringify(last));
    }
    if (!last) throw new Error('no chain');
    await t.site.state.put(`${prefix}${AUDIT_HEAD}`, JSON.stringify({ seq: last.seq, hash: last.hash }));
    expect((await verifyAudit(t.site.state, prefix)).ok).toBe(true);
  }

  it('the marker as written: the change reads the chain, goes through, and its entries carry them', async () => {
    await withoutMarkers();
    const site = await open(named);
    await deployArtifact(site, { app: APP, commit: V3, request: request('ship v3') });
    site.close();
    const newest = (await readAudit(t.site.state, t.target.statePrefix)).at(-1);
    expect(newest?.markers).toEqual({ [HOSTING]: stateDigest(JSON.parse((await marker()) ?? '{}')) });
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(true);
  });

  it('status reads no more of the chain for the marker than the entries it reads anyway', async () => {
    /** The audit entries `read` GETs. */
    const entryGets = async (read: () => Promise<unknown>) => {
      const mark = await t.mark();
      await read();
      return (await t.requestsSince(mark)).filter(
        (r) => r.method === 'GET' && /audit\/\d+\.json$/.test(r.key ?? ''),
      ).length;
    };
    const statusOf = async () => {
      const site = await open(named);
      await readStatus(site);
      site.close();
    };
    const carried = await entryGets(statusOf);
    // Where the newest entry carries no `markers` (a chain from before), the next change reads the
    // chain and binds them; status, which a console asks for again and again, does not.
    await withoutMarkers();
    expect(await entryGets(statusOf)).toBeLessThanOrEqual(carried);
  });

  it('the marker deleted, or an older one put back: refused as well', async () => {
    await withoutMarkers();
    for (const attack of [
      () => t.site.hosting.delete([ENVIRONMENT_MARKER]),
      () => putMarker(unprotectedMarker),
    ]) {
      await attack();
      const before = await everything();
      const site = await open(named);
      const refused = await refusedDeploy(site);
      site.close();
      expect({ code: refused.code, asked: refused.asked }).toEqual({ code: 'TAMPERED', asked: 0 });
      expect(await everything()).toEqual(before);
    }
  });
});

describe('a chain from before entries bound the marker', () => {
  it('a marker no entry wrote is bound by the next deploy, which goes through', async () => {
    // What an older FrontendOps left: the marker, and a chain with no "environment" entry.
    const prefix = t.target.statePrefix;
    await chainBeforeMarkers(t.site.state, prefix);
    expect((await verifyAudit(t.site.state, prefix)).ok).toBe(true);
    const written = await marker();
    const site = await open(named);
    await deployArtifact(site, { app: APP, commit: V3, request: request('ship v3') });
    site.close();
    const after = await readAudit(t.site.state, prefix);
    expect(after.filter((e) => e.type === 'environment')).toHaveLength(1);
    expect(after.at(-1)?.markers).toEqual({ [HOSTING]: stateDigest(JSON.parse(written ?? '{}')) });
    expect(await marker()).toBe(written);
    expect((await verifyAudit(t.site.state, prefix)).ok).toBe(true);
  });
});

describe('markers FrontendOps writes itself', () => {
  let fresh: string;
  /** The site as a process sees it that stops at the marker's write, after its entry. */
  const stoppingAtMarker = (site: Site): Site => ({
    ...site,
    hosting: {
      ...site.hosting,
      put: async (key, ...rest) => {
        if (key === ENVIRONMENT_MARKER) throw new Error('the process stopped');
        return site.hosting.put(key, ...rest);
      },
    },
  });
  /** The marker in the hosting bucket of the stack `ref` opens. */
  const markerOf = async (ref: string) => {
    const site = await open(ref);
    const object = await site.hosting.get(ENVIRONMENT_MARKER);
    site.close();
    return object ? JSON.parse(object.body.toString('utf8')) : null;
  };
  const freshMarker = () => markerOf(fresh);

  it('a first deploy, and one whose marker write did not land after its entry, go through', async () => {
    fresh = await t.writeOutputs({ stack: 'fresh', hostingBucket: FRESH });
    await publishToStack(t, { stack: 'fresh', hostingBucket: FRESH }, env.published);
    let site = await open(fresh);
    await expect(
      deployArtifact(stoppingAtMarker(site), { app: APP, commit: V1, request: request('first') }),
    ).rejects.toThrow(/stopped/);
    site.close();
    expect(await freshMarker()).toBeNull();
    site = await open(fresh);
    await deployArtifact(site, { app: APP, commit: V1, request: request('first, again') });
    site.close();
    expect(await freshMarker()).toMatchObject({ stack: 'fresh', protected: false });
  });

  it('an upgrade to protected whose marker write did not land protects the next change, as its entry says', async () => {
    // A stack of its own, first deployed unprotected (whichever case ran before).
    const upgraded = await t.writeOutputs({ stack: 'upgraded', hostingBucket: UPGRADED });
    await publishToStack(t, { stack: 'upgraded', hostingBucket: UPGRADED }, env.published);
    let site = await open(upgraded);
    await deployArtifact(site, { app: APP, commit: V1, request: request('first') });
    site.close();
    site = await open(upgraded, configSchema.parse({ protected: ['upgraded'] }));
    await expect(
      deployArtifact(stoppingAtMarker(site), { app: APP, commit: V2, request: request('protect') }),
    ).rejects.toThrow(/stopped/);
    site.close();
    expect(await markerOf(upgraded)).toMatchObject({ protected: false });
    // Opened by a configuration that does not protect it, from the marker the write left.
    site = await open(upgraded);
    expect(site.protected).toBe(false);
    let asked = 0;
    const error = await refusal(
      deployArtifact(site, {
        app: APP,
        commit: V2,
        request: request('ship v2'),
        authorize: async () => {
          asked += 1;
          return undefined;
        },
      }),
    );
    expect({ code: (error as { code?: string }).code, asked }).toEqual({ code: 'CONFLICT', asked: 0 });
    expect(error.message).toMatch(/needs an approval/);
    // Asked again, it is a protected change (its approval is the caller's to ask), and marks it.
    expect(site.protected).toBe(true);
    await deployArtifact(site, { app: APP, commit: V2, request: request('ship v2') });
    site.close();
    expect(await markerOf(upgraded)).toMatchObject({ stack: 'upgraded', protected: true });
  });

  it('a stopped upgrade met by new processes: the refusal names the marker to put back, which then protects it', async () => {
    const stopped = await t.writeOutputs({ stack: 'stopped', hostingBucket: STOPPED });
    await publishToStack(t, { stack: 'stopped', hostingBucket: STOPPED }, env.published);
    let site = await open(stopped);
    await deployArtifact(site, { app: APP, commit: V1, request: request('first') });
    site.close();
    site = await open(stopped, configSchema.parse({ protected: ['stopped'] }));
    await expect(
      deployArtifact(stoppingAtMarker(site), { app: APP, commit: V2, request: request('protect') }),
    ).rejects.toThrow(/stopped/);
    site.close();
    // Each run of the CLI, the Action or a new server opens the stack anew, from the marker the
    // write left (unprotected): "ask again" there is refused again, whatever it is asked with.
    const refusals: string[] = [];
    for (let run = 0; run < 2; run += 1) {
      site = await open(stopped);
      expect(site.protected).toBe(false);
      const error = await refusal(
        deployArtifact(site, { app: APP, commit: V2, request: request('ship v2') }),
      );
      site.close();
      expect((error as { code?: string }).code).toBe('CONFLICT');
      expect(error.message).toContain('Nothing was changed');
      refusals.push(error.message);
    }
    // What the words say to do works in a new process: the marker they name, put back, protects it.
    const named = putBackWords(STOPPED).exec(refusals[1] ?? '')?.[1];
    expect(named, refusals[1]).toBeDefined();
    const hosting = (await open(stopped)).hosting;
    await hosting.put(ENVIRONMENT_MARKER, named as string, { contentType: 'application/json' });
    site = await open(stopped);
    expect(site.protected).toBe(true);
    let asked = 0;
    await deployArtifact(site, {
      app: APP,
      commit: V2,
      request: request('ship v2'),
      authorize: async () => {
        asked += 1;
        return undefined;
      },
    });
    site.close();
    expect(asked).toBe(1);
    expect((await verifyAudit(site.state, site.target.statePrefix)).ok).toBe(true);
  });
});
