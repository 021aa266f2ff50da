/**
 * The two CI roles' S3 policies hold on the S3 protocol: the IAM statements src/access.ts makes of
 * each role's scope, which infra/ attaches to the roles. Each role is a proxy that evaluates those
 * statements against every request and answers S3's 403 AccessDenied where IAM would refuse, and
 * honours conditional writes as S3 does. Through it:
 * - the tool does each role's whole job: the publisher publishes, the deployer deploys, rolls back,
 *   pins and verifies the audit. (Before the scopes were said once, a process probed for conditional
 *   writes under `.frontendops/probe/`, outside both roles' state prefix: every command failed on
 *   AWS with AccessDenied.)
 * - the publisher, as an attacker (a compromised build step holds its credentials), can write none
 *   of the state the deployer acts on.
 * - neither role can rewrite what was recorded: audit entries, "used" approval markers and (for the
 *   publisher) published builds are created only if absent, never replaced or deleted. Before, either
 *   role could overwrite an entry (verify caught it, nothing prevented it), the deployer could delete a
 *   used marker to use an approval again within its hour, and the publisher could swap the files of a
 *   build already published, which the next deploy or rollback of that commit copied to the site.
 *   Nor can either pass an entry off from a deeper key (`audit/x/<n>.json`), outside the create-only
 *   prefix, where it could replace or delete it at will: verify read any key ending in ten digits as
 *   an entry; now anything under audit/ but the entries and the head is tampered, named.
 */

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployerScope, publisherScope, type RoleScope } from '../../src/access.ts';
import { createS3Client } from '../../src/adapters/s3.ts';
import { readManifest } from '../../src/deploy/publish.ts';
import { artifactFileKey, artifactManifestKey } from '../../src/engine/manifest.ts';
import type { FileEntry, Manifest } from '../../src/engine/types.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { approvalInForce } from '../../src/state/approval-in-force.ts';
import { consumeApproval } from '../../src/state/approvals.ts';
import {
  type AuditEntry,
  readAudit,
  readAuditHead,
  stateDigest,
  verifyAudit,
} from '../../src/state/audit.ts';
import { APPROVALS_USED, AUDIT_HEAD, auditEntryName, PUBLISH_LOG } from '../../src/state/names.ts';
import { rehash } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotStackAndBuilds } from '../support/bucket-snapshot.ts';
import {
  ARTIFACTS,
  HOSTING,
  recordPublished,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { policyCheck, roleStatements } from '../support/role-scope.ts';
import { cli } from '../support/run-cli.ts';
import { type S3Proxy, startS3Proxy } from '../support/s3-proxy.ts';

const APP = 'sophia-dashboard';
const COMMITS = ['5c0be'.repeat(8), '6d1cf'.repeat(8)];
/** Published in part by a publish that stopped before its manifest. */
const RESUMED = '7e2da'.repeat(8);
const PARTLY_OTHER = '8f3eb'.repeat(8);
const NAMES = { artifacts: ARTIFACTS, hosting: HOSTING, state: ARTIFACTS };
let t: TestDeployEnv;
let upstream: S3Client;
let env: Record<string, string>;
const proxies: S3Proxy[] = [];
let publisher: { proxy: S3Proxy; outputs: string };
let deployer: { proxy: S3Proxy; outputs: string };
/**
 * Each role's job is done once, in beforeAll, through its scope: the builds published by the
 * publisher, then deployed by the deployer; what each gave is kept for the first two cases to judge,
 * and the stack as the deployer left it is where the attackers' cases start. Where a case starts, each role's proxy is marked: what a role was
 * refused is counted from there.
 */
let deployed: BucketSnapshot;
let marks = { publisher: 0, deployer: 0 };
let publishRun: {
  results: Awaited<ReturnType<typeof publishJob>>;
  manifests: unknown[];
  refused: S3Proxy['seen'];
  entries: Awaited<ReturnType<typeof readAudit>>;
  chainBefore: string | undefined;
  chainAfter: string | undefined;
};
let deployRun: { results: Awaited<ReturnType<typeof deployerJob>>; refused: S3Proxy['seen'] };
async function startFrom(snapshot: BucketSnapshot) {
  await snapshot.restore();
  marks = { publisher: publisher.proxy.mark(), deployer: deployer.proxy.mark() };
}

async function role(name: string, scope: RoleScope) {
  const proxy = await startS3Proxy(t.s3.endpoint, upstream, {
    conditional: true,
    scope: policyCheck(roleStatements(scope, NAMES)),
  });
  proxies.push(proxy);
  const outputs = join(t.tmp, `${name}.json`);
  await writeFile(
    outputs,
    JSON.stringify({
      stack: t.target.stack,
      artifactsBucket: ARTIFACTS,
      hostingBucket: HOSTING,
      distributionId: t.target.distributionId,
      statePrefix: t.target.statePrefix,
      region: 'us-east-1',
      endpoint: proxy.endpoint,
    }),
  );
  return { proxy, outputs };
}

beforeAll(async () => {
  t = await startDeployEnv();
  upstream = createS3Client({ endpoint: t.s3.endpoint, credentials: t.s3.credentials });
  const config = join(t.tmp, 'frontendops.config.json');
  await writeFile(config, JSON.stringify({ app: APP, protected: [] }));
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_CONFIG: config, FRONTENDOPS_ACTOR: 'ci' };
  publisher = await role('publisher', publisherScope(APP, t.target.statePrefix));
  deployer = await role('deployer', deployerScope(t.target.statePrefix));
  const chain = async () => (await t.site.state.get(`${t.target.statePrefix}${AUDIT_HEAD}`))?.etag;
  marks = { publisher: publisher.proxy.mark(), deployer: deployer.proxy.mark() };
  const chainBefore = await chain();
  const results = await publishJob();
  publishRun = {
    results,
    manifests: await Promise.all(COMMITS.map((c) => readManifest(t.site.artifacts, APP, c))),
    refused: refused('publisher'),
    entries: await readAudit(t.site.state, `${t.target.statePrefix}${PUBLISH_LOG}`),
    chainBefore,
    chainAfter: await chain(),
  };
  marks = { publisher: publisher.proxy.mark(), deployer: deployer.proxy.mark() };
  deployRun = { results: await deployerJob(), refused: refused('deployer') };
  deployed = await snapshotStackAndBuilds(t.site);
}, 180_000);
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  upstream?.destroy();
  await t?.stop();
});

const run = (argv: string[]) => cli(argv, { env, cwd: t.tmp });
/** What the role's proxy refused since the case started (startFrom). */
const refused = (role: 'publisher' | 'deployer') =>
  (role === 'publisher' ? publisher : deployer).proxy.seen.slice(marks[role]).filter((r) => r.status === 403);

/** The publisher's job: each of COMMITS built and published, through its scope. */
async function publishJob() {
  const results = [];
  for (const [i, commit] of COMMITS.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `build-${i}`), { version: `v${i}` });
    results.push(await run(['publish', build.dir, '--commit', commit, '--stack', publisher.outputs]));
  }
  return results;
}

/** The deployer's job, through its scope: each command and what it gave. */
async function deployerJob() {
  const results = [];
  for (const argv of [
    ['deploy', '--commit', COMMITS[0] as string, '--yes', '--no-tag'],
    ['deploy', '--commit', COMMITS[1] as string, '--yes', '--no-tag'],
    ['rollback', '--yes', '--no-tag'],
    ['pin', '--message', 'freeze'],
    ['unpin'],
    ['audit', 'verify'],
  ]) {
    results.push({ argv, result: await run([...argv, '--stack', deployer.outputs]) });
  }
  return results;
}

describe('each CI role does its whole job inside its scope', () => {
  it('the publisher publishes: this app’s artifacts and an entry in the publish log', () => {
    for (const [i, published] of publishRun.results.entries()) {
      expect(published.code, published.stderr).toBe(0);
      expect(publishRun.manifests[i]).not.toBeNull();
    }
    expect(publishRun.refused).toEqual([]);
    expect(publishRun.entries.map((e) => [e.type, e.data.commit])).toEqual(
      COMMITS.map((c) => ['publish', c]),
    );
    // The deploy chain is the deployer's: publishing leaves it as it was.
    expect(publishRun.chainAfter).toBe(publishRun.chainBefore);
  });

  it('the deployer deploys, rolls back, pins and verifies the audit', () => {
    for (const { argv, result } of deployRun.results) {
      expect(result.code, `${argv.join(' ')}\n${result.stderr}${result.stdout}`).toBe(0);
    }
    expect(deployRun.refused).toEqual([]);
  });
});

describe('the publisher as an attacker', () => {
  beforeEach(() => startFrom(deployed));

  it('can write none of the state the deployer acts on; nothing changes', async () => {
    const attacker = actingAs(publisher);
    const prefix = t.target.statePrefix;
    const before = (await t.site.state.list(prefix)).map((o) => `${o.key} ${o.etag}`);
    const hostingBefore = (await t.site.hosting.list()).map((o) => `${o.key} ${o.etag}`);
    const writes = [
      'live.json',
      'pending.json',
      'pin.json',
      `deployments/0000000-0000000001.json`,
      'atomic/pending.json',
      'atomic/state.json',
      'locks/deploy.json',
    ].map((name) => new PutObjectCommand({ Bucket: ARTIFACTS, Key: `${prefix}${name}`, Body: '{}' }));
    const deletes = ['approvals/used/nonce.json', 'locks/deploy.json'].map(
      (name) => new DeleteObjectCommand({ Bucket: ARTIFACTS, Key: `${prefix}${name}` }),
    );
    const hosting = [
      new PutObjectCommand({ Bucket: HOSTING, Key: 'index.html', Body: 'defaced' }),
      new PutObjectCommand({ Bucket: HOSTING, Key: '.frontendops/environment.json', Body: '{}' }),
    ];
    for (const command of [...writes, ...deletes, ...hosting]) {
      expect(await refusedWith(attacker, command), command.input.Key).toBe('AccessDenied');
    }
    attacker.destroy();
    expect((await t.site.state.list(prefix)).map((o) => `${o.key} ${o.etag}`)).toEqual(before);
    expect((await t.site.hosting.list()).map((o) => `${o.key} ${o.etag}`)).toEqual(hostingBefore);
  });

  it('cannot add to the deploy chain nor move its head; its own log is all it appends to', async () => {
    const attacker = actingAs(publisher);
    const prefix = t.target.statePrefix;
    const head = await readAuditHead(t.site.state, prefix);
    expect(head?.seq, 'the deployer has deployed').toBeGreaterThan(0);
    const before = await snapshot();
    const forged = (key: string, extra: object = {}) =>
      new PutObjectCommand({ Bucket: ARTIFACTS, Key: key, Body: '{"seq":1}', ...extra });
    const attempts = {
      // An entry past the head: every deploy after it would be refused as TAMPERED.
      entry: forged(`${prefix}${auditEntryName((head?.seq ?? 0) + 1)}`, { IfNoneMatch: '*' }),
      // The head moved back or on: verify fails, deploys refuse.
      head: forged(`${prefix}${AUDIT_HEAD}`),
    };
    for (const [what, command] of Object.entries(attempts)) {
      expect(await refusedWith(attacker, command), what).toBe('AccessDenied');
    }
    attacker.destroy();
    expect(await snapshot()).toEqual(before);
    expect(await verifyAudit(t.site.state, prefix)).toMatchObject({ ok: true });
  });
  /**
   * What the publisher can create: a build under a commit not published yet, and an entry of its log
   * recording it. Here the build is not of that commit: a published build's manifest copied as it is
   * (it names the commit it was built from), or one naming a file above the site's root.
   */
  it.each([
    {
      what: 'a published build claimed for another commit',
      commit: '9a4fc'.repeat(8),
      manifest: (published: Manifest) => published,
      refusal: new RegExp(`names ${APP}@${COMMITS[0]}; the artifact is corrupt`),
    },
    {
      what: 'a build naming a file above the site’s root',
      commit: 'ab5ad'.repeat(8),
      manifest: (published: Manifest) => ({
        ...published,
        commit: 'ab5ad'.repeat(8),
        files: { ...published.files, '/../outside.html': published.files['/index.html'] as FileEntry },
      }),
      refusal:
        /names the file \/\.\.\/outside\.html, which cannot be deployed: it has an empty, "\." or "\.\." segment/,
    },
  ])(
    '$what, recorded in its log, is refused by the deploy and its dry run; nothing changes',
    async ({ commit, manifest: make, refusal }) => {
      const published = (await readManifest(t.site.artifacts, APP, COMMITS[0] as string)) as Manifest;
      const manifest = make(published);
      const attacker = actingAs(publisher);
      for (const path of Object.keys(published.files)) {
        const body = (await t.site.artifacts.get(artifactFileKey(APP, COMMITS[0] as string, path)))?.body;
        const put = new PutObjectCommand({
          Bucket: ARTIFACTS,
          Key: artifactFileKey(APP, commit, path),
          Body: body,
          IfNoneMatch: '*',
        });
        expect(await refusedWith(attacker, put), path).toBe('accepted');
      }
      const written = new PutObjectCommand({
        Bucket: ARTIFACTS,
        Key: artifactManifestKey(APP, commit),
        Body: JSON.stringify(manifest),
        IfNoneMatch: '*',
      });
      expect(await refusedWith(attacker, written)).toBe('accepted');
      attacker.destroy();
      const site = await connectSite(
        { ...t.target, endpoint: publisher.proxy.endpoint },
        { access: { credentials: t.s3.credentials }, onNotice: () => undefined, env: {} },
      );
      try {
        await recordPublished(site, manifest, { commit });
      } finally {
        site.close();
      }
      expect(refused('publisher'), 'all of it inside the publisher’s scope').toEqual([]);

      const before = await snapshotWithHosting();
      for (const dryRun of [['--dry-run'], ['--yes', '--no-tag']]) {
        const deploy = await run(['deploy', '--commit', commit, ...dryRun, '--stack', deployer.outputs]);
        expect(deploy.code, deploy.stdout).not.toBe(0);
        expect(deploy.stderr).toMatch(refusal);
        expect(deploy.stderr).not.toMatch(/\n\s+at /);
      }
      expect(await snapshotWithHosting()).toEqual(before);
      expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
    },
  );
});

/** An S3 client holding a role's credentials: every request goes through that role's proxy. */
function actingAs(role: { proxy: S3Proxy }) {
  return new S3Client({
    region: 'us-east-1',
    endpoint: role.proxy.endpoint,
    forcePathStyle: true,
    credentials: t.s3.credentials,
    maxAttempts: 1,
  });
}

/** The stack's state and this app's artifacts, each key with its ETag: what an attempt must leave as it was. */
async function snapshot() {
  const state = (await t.site.state.list(t.target.statePrefix)).map((o) => `${o.key} ${o.etag}`);
  const artifacts = (await t.site.artifacts.list(`${APP}/`)).map((o) => `${o.key} ${o.etag}`);
  return [...state, ...artifacts].sort();
}

/** snapshot, and what the site serves: the hosting bucket's keys with their ETags. */
async function snapshotWithHosting() {
  const hosting = (await t.site.hosting.list()).map((o) => `hosting:${o.key} ${o.etag}`);
  return [...(await snapshot()), ...hosting];
}

/** The S3 error a request gets ("accepted" when it succeeds). */
async function refusedWith(client: S3Client, command: unknown): Promise<string> {
  // biome-ignore lint/suspicious/noExplicitAny: one helper over several command types
  const error = await client.send(command as any).then(
    () => undefined,
    (e: { name?: string }) => e,
  );
  return error?.name ?? 'accepted';
}

/**
 * Every way to rewrite an existing object under a create-only prefix, and what S3 answers each:
 * overwrite, ask to create it (it exists), slip past the condition with another If-None-Match
 * value, delete.
 */
async function rewriteAttempts(attacker: S3Client, key: string) {
  const put = (extra: object) =>
    new PutObjectCommand({ Bucket: ARTIFACTS, Key: key, Body: 'swapped', ...extra });
  return {
    overwrite: await refusedWith(attacker, put({})),
    create: await refusedWith(attacker, put({ IfNoneMatch: '*' })),
    otherCondition: await refusedWith(attacker, put({ IfNoneMatch: '"x"' })),
    delete: await refusedWith(attacker, new DeleteObjectCommand({ Bucket: ARTIFACTS, Key: key })),
  };
}
const REFUSED_REWRITES = {
  overwrite: 'AccessDenied',
  create: 'PreconditionFailed',
  otherCondition: 'NotImplemented',
  delete: 'AccessDenied',
};

describe('neither role can rewrite what was recorded', () => {
  beforeEach(() => startFrom(deployed));

  it('the IAM double judges only what it knows: another condition operator is an error, not a pass', () => {
    const check = policyCheck([
      {
        Sid: 'A',
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: 'arn:aws:s3:::b/k?y*',
        Condition: { StringEquals: { 'aws:SourceIp': '10.0.0.1' } },
      },
    ]);
    const get = (key: string) => ({
      method: 'GET',
      bucket: 'b',
      key,
      headers: {},
      query: new URLSearchParams(),
      body: Buffer.alloc(0),
    });
    expect(() => check(get('key/1'))).toThrow(/condition operator StringEquals/);
    const wildcard = policyCheck([
      { Sid: 'A', Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::b/k?y*' },
    ]);
    expect(['key', 'kay/x', 'ky', 'xkey'].map((key) => wildcard(get(key)))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('every audit entry of the chains a role writes is create-only, the head (moved on each append) is not', () => {
    const prefix = t.target.statePrefix;
    const roles = [
      { scope: deployerScope(prefix), chains: ['', PUBLISH_LOG] },
      { scope: publisherScope(APP, prefix), chains: [PUBLISH_LOG] },
    ];
    for (const { scope, chains } of roles) {
      for (const chain of chains) {
        const createOnly = (name: string) =>
          scope.createOnly.some(
            (c) => c.bucket === 'state' && `${prefix}${chain}${name}`.startsWith(c.prefix),
          );
        const entries = [1, 42, 999_999_999].map((seq) => createOnly(auditEntryName(seq)));
        expect(entries, chain).toEqual([true, true, true]);
        expect(createOnly(AUDIT_HEAD), chain).toBe(false);
      }
    }
  });

  it('the publisher cannot replace or delete a published build or an entry of its log', async () => {
    const attacker = actingAs(publisher);
    const before = await snapshot();
    const index = artifactFileKey(APP, COMMITS[0] as string, '/index.html');
    const manifest = artifactManifestKey(APP, COMMITS[0] as string);
    const entry = `${t.target.statePrefix}${PUBLISH_LOG}${auditEntryName(1)}`;
    for (const key of [index, manifest, entry]) {
      expect(await rewriteAttempts(attacker, key), key).toEqual(REFUSED_REWRITES);
    }
    attacker.destroy();
    expect(await snapshot()).toEqual(before);
    // The build a rollback would copy is the one published.
    const served = await t.site.artifacts.get(index);
    expect(served?.body.toString('utf8')).toContain('Sophia v0');
  });

  it('the deployer cannot rewrite or delete audit entries, nor delete a used approval to use it again', async () => {
    // The deployer's own path: the server uses an approval once, through the deployer's scope.
    const site = await connectSite(
      { ...t.target, endpoint: deployer.proxy.endpoint },
      { access: { credentials: t.s3.credentials }, onNotice: () => undefined, env: {} },
    );
    const nonce = 'a1b2c3d4e5f60718';
    const use = async () =>
      consumeApproval(site, nonce, {
        action: 'deploy',
        deployId: '0000000-0000000001',
        // A client's answer: what is tried here is the marker and the entries, not a signature.
        approval: { by: 'Ada (as claimed by infra-test)', via: 'elicitation' },
        now: Date.now(),
        judged: await approvalInForce(site),
      });
    try {
      expect(await use()).toBe(true);
      expect(refused('deployer')).toEqual([]);

      const attacker = actingAs(deployer);
      const before = await snapshot();
      const marker = `${t.target.statePrefix}${APPROVALS_USED}${nonce}.json`;
      const entries = [1, 2].map((seq) => `${t.target.statePrefix}${auditEntryName(seq)}`);
      for (const key of [marker, ...entries]) {
        expect(await rewriteAttempts(attacker, key), key).toEqual(REFUSED_REWRITES);
      }
      // A server-side copy over an entry (a copy can carry no If-None-Match S3 accepts).
      const copy = new CopyObjectCommand({
        Bucket: ARTIFACTS,
        Key: entries[0] as string,
        CopySource: `${ARTIFACTS}/${entries[1]}`,
      });
      expect(await refusedWith(attacker, copy), 'copy over an entry').toBe('AccessDenied');
      const many = new DeleteObjectsCommand({
        Bucket: ARTIFACTS,
        Delete: { Objects: [{ Key: marker }, ...entries.map((Key) => ({ Key }))] },
      });
      expect(await refusedWith(attacker, many)).toBe('AccessDenied');
      attacker.destroy();
      expect(await snapshot()).toEqual(before);
      // The approval stays used.
      expect(await use()).toBe(false);
      expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
    } finally {
      site.close();
    }
  });

  it('a publish that stopped before its manifest finishes; another build’s leftovers are refused, not replaced', async () => {
    const build = await writeFixtureBuild(join(t.tmp, 'build-resumed'), { version: 'resumed' });
    // What the stopped publish left: two of the build's files, the same bytes, no manifest.
    for (const path of ['/index.html', build.assets[0] as string]) {
      await upstream.send(
        new PutObjectCommand({
          Bucket: ARTIFACTS,
          Key: artifactFileKey(APP, RESUMED, path),
          Body: await readFile(join(build.dir, path)),
        }),
      );
    }
    const resumed = await run(['publish', build.dir, '--commit', RESUMED, '--stack', publisher.outputs]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await readManifest(t.site.artifacts, APP, RESUMED)).not.toBeNull();

    // Another build of a commit left a file with other bytes: this build is refused, that file kept.
    const other = artifactFileKey(APP, PARTLY_OTHER, '/index.html');
    await upstream.send(new PutObjectCommand({ Bucket: ARTIFACTS, Key: other, Body: '<p>other build</p>' }));
    const before = await snapshot();
    const refusedPublish = await run([
      'publish',
      build.dir,
      '--commit',
      PARTLY_OTHER,
      '--stack',
      publisher.outputs,
    ]);
    expect(refusedPublish.code).not.toBe(0);
    expect(refusedPublish.stderr).toMatch(
      /index\.html .* already in the artifacts bucket with other content/,
    );
    expect(refusedPublish.stderr).toMatch(/reproducible/);
    expect(refusedPublish.stderr).not.toMatch(/\n\s+at /);
    expect(await readManifest(t.site.artifacts, APP, PARTLY_OTHER)).toBeNull();
    expect((await t.site.artifacts.get(other))?.body.toString('utf8')).toBe('<p>other build</p>');
    // The files it did create stay (created only), and no audit entry claims a publish.
    expect((await snapshot()).filter((k) => !k.startsWith(`${APP}/${PARTLY_OTHER}/`))).toEqual(
      before.filter((k) => !k.startsWith(`${APP}/${PARTLY_OTHER}/`)),
    );
    expect(refused('publisher'), 'the tool stayed inside the scope').toEqual([]);
  });
});

describe('an entry written outside the create-only prefix is no entry', () => {
  beforeEach(() => startFrom(deployed));

  /** Entry `seq` of a chain, linked to `prevHash` and hashed as the tool would: well formed. */
  const linked = (fields: Pick<AuditEntry, 'seq' | 'type' | 'data' | 'prevHash' | 'objects'>) =>
    rehash({ ...fields, at: new Date().toISOString(), hash: '' });
  const put = (key: string, value: unknown, extra: object = {}) =>
    new PutObjectCommand({ Bucket: ARTIFACTS, Key: key, Body: JSON.stringify(value), ...extra });

  it('the deployer writes entry n+1 deeper under audit/ (replaceable there) and moves the head: tampered, naming it, however often it swaps it', async () => {
    const prefix = t.target.statePrefix;
    const head = await readAuditHead(t.site.state, prefix);
    const pointer = await t.site.state.get(`${prefix}live.json`);
    if (!head || !pointer) throw new Error('the deployer has deployed');
    const name = `audit/x/${String(head.seq + 1).padStart(10, '0')}.json`;
    const evil = { ...JSON.parse(pointer.body.toString('utf8')), commit: COMMITS[1] };
    const entry = linked({
      seq: head.seq + 1,
      type: 'release',
      data: { note: 'hand-moved pointer to a build nobody approved', by: 'mallory' },
      objects: { 'live.json': stateDigest(evil) },
      prevHash: head.hash,
    });
    const attacker = actingAs(deployer);
    try {
      // Every write is inside the deployer's scope: the key is not under audit/0, the create-only prefix.
      expect(await refusedWith(attacker, put(`${prefix}live.json`, evil))).toBe('accepted');
      expect(await refusedWith(attacker, put(`${prefix}${name}`, entry, { IfNoneMatch: '*' }))).toBe(
        'accepted',
      );
      expect(
        await refusedWith(attacker, put(`${prefix}${AUDIT_HEAD}`, { seq: entry.seq, hash: entry.hash })),
      ).toBe('accepted');
      const wrote = await verifyAudit(t.site.state, prefix);
      expect(wrote.ok).toBe(false);
      expect(wrote.problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          object: name,
          reason: expect.stringMatching(/not an audit entry at its place/),
        }),
      );
      // Swapped later for a version that says something else: still named, never read as the chain's.
      const swapped = rehash({ ...entry, data: { note: 'routine deploy', by: 'ada' } });
      expect(await refusedWith(attacker, put(`${prefix}${name}`, swapped))).toBe('accepted');
      expect(
        await refusedWith(attacker, put(`${prefix}${AUDIT_HEAD}`, { seq: swapped.seq, hash: swapped.hash })),
      ).toBe('accepted');
      const swappedVerdict = await verifyAudit(t.site.state, prefix);
      expect(swappedVerdict.problems).toContainEqual(
        expect.objectContaining({ kind: 'tampered', object: name }),
      );
      expect((await readAudit(t.site.state, prefix)).map((e) => e.seq)).not.toContain(entry.seq);
    } finally {
      attacker.destroy();
      await t.site.state.delete([`${prefix}${name}`]);
      await t.site.state.put(`${prefix}live.json`, pointer.body);
      await t.site.state.put(`${prefix}${AUDIT_HEAD}`, JSON.stringify(head));
    }
    expect(await verifyAudit(t.site.state, prefix)).toMatchObject({ ok: true, problems: [] });
  });

  it("the publisher cannot write beside the publish log's entries; such an object is tampered, naming it", async () => {
    const prefix = t.target.statePrefix;
    const log = `${prefix}${PUBLISH_LOG}`;
    const head = await t.site.state.get(`${log}${AUDIT_HEAD}`);
    const last = await readAuditHead(t.site.state, log);
    const seq = (last?.seq ?? 0) + 1;
    const name = `${PUBLISH_LOG}audit/x/${String(seq).padStart(10, '0')}.json`;
    const entry = linked({
      seq,
      type: 'publish',
      data: { app: APP, commit: PARTLY_OTHER, artifactDigest: `sha256:${'1'.repeat(64)}` },
      prevHash: last?.hash ?? 'sha256:genesis',
    });
    const attacker = actingAs(publisher);
    try {
      // Its policy lets it write the log's entries and head only.
      expect(await refusedWith(attacker, put(`${prefix}${name}`, entry, { IfNoneMatch: '*' }))).toBe(
        'AccessDenied',
      );
      // Whoever can write there (an administrator of the state bucket) is still caught by verify.
      await t.site.state.put(`${prefix}${name}`, JSON.stringify(entry));
      expect(await refusedWith(attacker, put(`${log}${AUDIT_HEAD}`, { seq, hash: entry.hash }))).toBe(
        'accepted',
      );
      const verdict = await verifyAudit(t.site.state, prefix);
      expect(verdict.ok).toBe(false);
      expect(verdict.problems).toContainEqual(
        expect.objectContaining({
          kind: 'tampered',
          object: name,
          reason: expect.stringMatching(/^publish log: .*not an audit entry at its place/),
        }),
      );
      expect((await readAudit(t.site.state, log)).map((e) => e.seq)).not.toContain(seq);
    } finally {
      attacker.destroy();
      await t.site.state.delete([`${prefix}${name}`]);
      if (head) await t.site.state.put(`${log}${AUDIT_HEAD}`, head.body);
      else await t.site.state.delete([`${log}${AUDIT_HEAD}`]);
    }
    expect(await verifyAudit(t.site.state, prefix)).toMatchObject({ ok: true, problems: [] });
  });
});
