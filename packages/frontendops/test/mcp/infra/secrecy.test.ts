/**
 * The secrecy promise (the README's "Secure") end to end: a whole deploy walked through the infra tools, on a
 * stack read from an outputs file that also holds secret outputs, served by the local CDN edge (real
 * verification), plus failures — and nothing any client received names a bucket, the S3 endpoint,
 * the credentials or a secret value.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config.ts';
import { type LocalEdge, startLocalEdge } from '../../../src/local/edge.ts';
import { createInfraServer } from '../../../src/mcp/infra/server.ts';
import type { Site } from '../../../src/site.ts';
import { connectSite } from '../../../src/stacks/open.ts';
import { readDeployTarget } from '../../../src/stacks/resolve.ts';
import { ARTIFACTS, HOSTING, publishAsCi, STACK } from '../../support/deploy-env.ts';
import { writeFixtureBuild } from '../../support/fixture-build.ts';
import { startTestS3, type TestS3 } from '../../support/local-s3.ts';
import {
  APP,
  COMMITS,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
} from '../../support/mcp-infra.ts';

const BROKEN = 'dashboard-hosting-broken';
const MISSING_BUCKET = 'sophia-dashboard-missing-bucket';
const DISTRIBUTION = 'E3LEAKTESTDIST';
const SECRET_PLAINTEXT = 'hunter2-db-password-7f3a';
const SECRET_CIPHERTEXT = 'v1:Q2lwaGVydGV4dE9mVGhlRGVwbG95ZXJLZXk=';

let s3: TestS3;
let edge: LocalEdge;
let tmp: string;
const envs: Site[] = [];
let c: InfraClient;
const elicitations: unknown[] = [];

async function writeOutputs(name: string, outputs: Record<string, unknown>): Promise<string> {
  const file = join(tmp, `${name}.json`);
  await writeFile(file, JSON.stringify({ stack: name, ...outputs }, null, 2));
  return file;
}

beforeAll(async () => {
  s3 = await startTestS3([ARTIFACTS, HOSTING]);
  edge = await startLocalEdge({
    origin: s3.store(HOSTING),
    distributionId: DISTRIBUTION,
    apiCredentials: s3.credentials,
  });
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-leak-'));
  const common = {
    artifactsBucket: ARTIFACTS,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    distributionId: DISTRIBUTION,
  };
  const files: Record<string, string> = {
    [STACK]: await writeOutputs(STACK, {
      ...common,
      hostingBucket: HOSTING,
      siteUrl: `${edge.url}/`,
      dbPassword: {
        '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270',
        plaintext: JSON.stringify(SECRET_PLAINTEXT),
      },
      deployerKey: {
        '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270',
        ciphertext: SECRET_CIPHERTEXT,
      },
    }),
    [BROKEN]: await writeOutputs(BROKEN, { ...common, hostingBucket: MISSING_BUCKET }),
  };
  // The client answering the approval question is trusted here: what is under test is what it sees.
  const config = {
    ...defaultConfig(),
    protected: [STACK],
    approval: { approvers: {}, trustElicitation: true },
  };
  const openSite = async (name: string) => {
    const file = files[name];
    if (!file) throw new Error(`unexpected stack ${name}`);
    const target = await readDeployTarget(file, { config, cwd: tmp });
    const env = await connectSite(target, {
      access: { credentials: s3.credentials, cdnEndpoint: edge.cdnEndpoint },
      protected: config.protected.includes(target.stack),
      approval: config.approval,
    });
    envs.push(env);
    return env;
  };
  const prod = await openSite(STACK);
  for (const [i, commit] of COMMITS.slice(0, 2).entries()) {
    const build = await writeFixtureBuild(join(tmp, `build-${i}`), { version: `v${i + 1}` });
    await publishAsCi(prod, { dir: build.dir, app: APP, commit });
  }
  c = await connectInfra(createInfraServer({ config, openSite, defaultStack: STACK }), {
    elicit: (request) => {
      elicitations.push(request);
      return { action: 'accept', content: { confirm: true, approver: 'Release Manager' } };
    },
  });
});
afterAll(async () => {
  await c?.close();
  for (const env of envs) env.close();
  await edge?.close();
  await s3?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('nothing sensitive reaches an MCP client', () => {
  it('a whole deploy, a rollback and failures, through every tool, leak no bucket, endpoint, credential or secret', async () => {
    const listed = await c.client.listTools();

    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    expect(target.isError).toBe(false);
    expect(target.structured.description).toBe(
      `deploy ${APP}@1111111 to ${STACK}: 8 files to copy, 4 paths to invalidate`,
    );
    const sync = await c.call('run_sync', {
      handle: target.structured.handle,
      request: 'Deploy the latest dashboard',
    });
    expect(sync.structured).toMatchObject({
      outcome: 'synced',
      approvedBy: expect.stringMatching(/^Release Manager/),
    });
    const inv = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
    expect(inv.structured).toMatchObject({ outcome: 'succeeded', verification: { ok: true } });
    const second = await c.call('get_deploy_target', { commit: COMMITS[1] });
    const sync2 = await c.call('run_sync', { handle: second.structured.handle });
    await c.call('invalidate_cdn', { deployId: sync2.structured.deployId });
    const status = await c.call('get_status');
    expect(status.structured).toMatchObject({ siteUrl: `${edge.url}/`, live: { commit: COMMITS[1] } });
    await c.call('get_history');
    await c.call('plan_deploy', { commit: COMMITS[0] });
    const back = await c.call('rollback');
    expect(back.structured).toMatchObject({ outcome: 'succeeded', commit: COMMITS[0] });

    // Failures: an unpublished commit, a bogus handle, and a backend error naming a bucket.
    expect((await c.call('get_deploy_target', { commit: 'e'.repeat(40) })).isError).toBe(true);
    expect((await c.call('run_sync', { handle: 'fo1.e30.AAAA' })).isError).toBe(true);
    const broken = await c.call('get_deploy_target', { stack: BROKEN, commit: COMMITS[0] });
    expect(broken.isError).toBe(true);
    expect(broken.text).toMatch(
      /^UPSTREAM: The storage, CDN or git backend failed \(NoSuchBucket\); the details are in the server's log/,
    );
    const brokenStatus = await c.call('get_history', { stack: BROKEN });
    expect(brokenStatus.isError).toBe(false); // state lives in the artifacts bucket, which exists

    expect(c.seen.length).toBeGreaterThanOrEqual(14);
    expect(elicitations.length).toBe(3); // two syncs and the rollback on the protected stack
    const everything = JSON.stringify({ listed, seen: c.seen, elicitations });
    const forbidden = [
      ARTIFACTS,
      HOSTING,
      MISSING_BUCKET,
      s3.endpoint,
      new URL(s3.endpoint).host,
      s3.credentials.accessKeyId,
      SECRET_PLAINTEXT,
      SECRET_CIPHERTEXT,
      DISTRIBUTION,
    ];
    for (const value of forbidden) expect(everything, `leaked ${value}`).not.toContain(value);
    // The walk itself was real: the public site URL and the deploy ids are there.
    expect(everything).toContain(edge.url);
    expect(everything).toContain(sync.structured.deployId as string);
  });
});

describe("a stack's own state prefix reaches no MCP client", () => {
  // A prefix of the stack's own choosing (a statePrefix output) says where its state lives, as a
  // bucket name does. Damaged state objects are named in TAMPERED answers, which clients do get.
  const PREFIX = 'ops-internal/acme-prod-7f3a/';
  let f: InfraFixture;
  let client: InfraClient;
  beforeAll(async () => {
    f = await startInfraFixture({ statePrefix: PREFIX });
    client = await connectInfra(f.server());
  });
  afterAll(async () => {
    await client?.close();
    await f?.t.stop();
  });

  it('a damaged pin or audit head is reported as TAMPERED without the prefix', async () => {
    const store = f.t.site.state;
    await store.put(`${PREFIX}pin.json`, '{ not json');
    const damaged = await client.call('get_status');
    expect(damaged.isError).toBe(true);
    expect(damaged.text).toMatch(/^TAMPERED/);
    expect(damaged.text).toContain('pin.json');
    expect(damaged.text).not.toContain('ops-internal');
    await store.put(`${PREFIX}pin.json`, JSON.stringify({ stack: 'someone-else' }));
    expect((await client.call('get_deploy_target', { commit: COMMITS[0] })).text).not.toContain(
      'ops-internal',
    );
    await store.delete([`${PREFIX}pin.json`]);

    await store.put(`${PREFIX}audit/head.json`, 'garbage');
    const recorded = await client.call('record_request', {
      request: 'what is live?',
      planner: 'runbook',
      intent: 'status',
      outcome: 'answered',
      message: 'x',
      dryRun: false,
      calls: [],
    });
    expect(recorded.isError).toBe(true);
    expect(recorded.text).toMatch(/^TAMPERED/);
    expect(recorded.text).not.toContain('ops-internal');
    await store.delete([`${PREFIX}audit/head.json`]);
    expect((await client.call('get_status')).isError).toBe(false);
  });
});
