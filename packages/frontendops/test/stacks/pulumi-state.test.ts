/**
 * The Pulumi self-managed backend reader against checkpoint fixtures in the real format (version 3), in a
 * file:// directory and in an s3:// bucket of the embedded S3 server (real S3 protocol, no mocks): the
 * StackSource contract (test/support/contracts/stack-source.ts) on each layout, and what only this
 * reader does — compression, projects, checkpoint versions, stack references.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import { createPulumiStateSource } from '../../src/stacks/pulumi-state.ts';
import { type StackSourceFixture, stackSourceContract } from '../support/contracts/stack-source.ts';
import { digestTree } from '../support/digest-tree.ts';
import { startTestS3, type TestS3 } from '../support/local-s3.ts';
import { DASHBOARD_PROD_OUTPUTS } from '../support/pulumi-outputs.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/pulumi');
const PROJECT_CHECKPOINT = '.pulumi/stacks/dashboard-hosting/dashboard-hosting-prod.json';
const LEGACY_CHECKPOINT = '.pulumi/stacks/dashboard-hosting-prod.json';

/** The outputs of the legacy fixture (the seed's syncCommand); the project-scoped one holds DASHBOARD_PROD_OUTPUTS. */
const LEGACY_OUTPUTS = {
  syncCommand:
    'aws s3 sync s3://sophia-dashboard-build-artifacts/latest s3://sophia-dashboard-hosting-prod --delete',
  distributionId: 'E2QWRUHAPOMQZL',
  siteUrl: 'https://dashboard.sophia.example.com',
};

/** Every ciphertext in a checkpoint fixture: none may appear in anything a source returns. */
const ciphertextsOf = async (file: string) =>
  [...(await readFile(join(FIXTURES, file), 'utf8')).matchAll(/"ciphertext": "([^"]+)"/g)].map(
    (m) => m[1] as string,
  );

/** Malformed backend URLs: BAD_INPUT whatever the layout. */
const MALFORMED_URLS = [
  ['a URL neither file:// nor s3://', 'gs://bucket'],
  ['a file:// URL without a directory', 'file://'],
  ['an s3:// URL without a bucket', 's3://'],
  ['an s3:// URL with only a prefix', 's3:///team'],
].map(([what, backendUrl]) => ({
  what: what as string,
  open: () => createPulumiStateSource({ backendUrl: backendUrl as string }),
}));

/** A file:// backend copied from a fixture into a temp dir of its own. */
async function fileBackend(
  fixture: 'file-backend' | 'legacy-backend',
): Promise<Omit<StackSourceFixture, 'expected'> & { dir: string }> {
  const work = await mkdtemp(join(tmpdir(), 'frontendops-pulumi-contract-'));
  const dir = join(work, fixture);
  await cp(join(FIXTURES, fixture), dir, { recursive: true });
  return {
    dir,
    source: createPulumiStateSource({ backendUrl: `file://${dir}` }),
    stack: 'dashboard-hosting-prod',
    secretValues: await ciphertextsOf(
      join(fixture, fixture === 'file-backend' ? PROJECT_CHECKPOINT : LEGACY_CHECKPOINT),
    ),
    credentials: [],
    unknownStack: 'dashboard-hosting-dev',
    backendState: () => digestTree(work),
    malformed: MALFORMED_URLS,
    cleanup: () => rm(work, { recursive: true, force: true }),
  };
}

stackSourceContract(
  'pulumi state, file:// backend, project-scoped (meta.yaml version 1)',
  async () => ({
    ...(await fileBackend('file-backend')),
    expected: { outputs: DASHBOARD_PROD_OUTPUTS, secretNames: ['deployRoleSecret'] },
  }),
  { checksStackNames: true, canBeMalformed: true, takesCredential: false },
);

stackSourceContract(
  'pulumi state, file:// backend, legacy layout (no meta.yaml)',
  async () => ({
    ...(await fileBackend('legacy-backend')),
    expected: { outputs: LEGACY_OUTPUTS, secretNames: ['dbPassword'] },
  }),
  { checksStackNames: true, canBeMalformed: true, takesCredential: false },
);

/** One embedded S3 server for the file: the contract's bucket and the adapter tests' buckets. */
let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3(['contract-state', 'pulumi-state', 'legacy-state', 'crowded-state']);
  for (const bucket of ['contract-state', 'pulumi-state']) {
    await s3
      .store(bucket)
      .put('team/.pulumi/meta.yaml', await readFile(join(FIXTURES, 'file-backend/.pulumi/meta.yaml')));
    await s3
      .store(bucket)
      .put(`team/${PROJECT_CHECKPOINT}`, await readFile(join(FIXTURES, 'file-backend', PROJECT_CHECKPOINT)));
  }
  await s3
    .store('legacy-state')
    .put(
      `${LEGACY_CHECKPOINT}.gz`,
      gzipSync(await readFile(join(FIXTURES, 'legacy-backend', LEGACY_CHECKPOINT))),
    );
});
afterAll(() => s3?.stop());

const s3Source = (url: string, credentials = s3.credentials) =>
  createPulumiStateSource({ backendUrl: `${url}?region=us-east-1&endpoint=${s3.endpoint}`, credentials });

stackSourceContract(
  'pulumi state, s3:// backend under a prefix (embedded S3 server)',
  async () => ({
    source: s3Source('s3://contract-state/team'),
    stack: 'dashboard-hosting-prod',
    expected: { outputs: DASHBOARD_PROD_OUTPUTS, secretNames: ['deployRoleSecret'] },
    secretValues: await ciphertextsOf(join('file-backend', PROJECT_CHECKPOINT)),
    credentials: [s3.credentials.secretAccessKey],
    unknownStack: 'dashboard-hosting-dev',
    async backendState() {
      await s3.settle();
      const objects = (await s3.store('contract-state').list()).map((o) => `${o.key}:${o.etag}`);
      const writes = s3.requests.filter(
        (r) => r.bucket === 'contract-state' && r.method !== 'GET' && r.method !== 'HEAD',
      );
      return { objects, writes: writes.length };
    },
    malformed: MALFORMED_URLS,
    wrongCredential: {
      credential: 'wrong-secret-access-key-0123456789',
      open: () =>
        s3Source('s3://contract-state/team', {
          accessKeyId: s3.credentials.accessKeyId,
          secretAccessKey: 'wrong-secret-access-key-0123456789',
        }),
    },
    cleanup: async () => {},
  }),
  { checksStackNames: true, canBeMalformed: true, takesCredential: true },
);

const expectNoCiphertext = async (value: unknown) => {
  const json = JSON.stringify(value);
  for (const file of [join('file-backend', PROJECT_CHECKPOINT), join('legacy-backend', LEGACY_CHECKPOINT)]) {
    for (const secret of await ciphertextsOf(file)) expect(json).not.toContain(secret);
  }
};

async function expectCode(promise: Promise<unknown>, code: string): Promise<FrontendOpsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrontendOpsError);
  expect((error as FrontendOpsError).code).toBe(code);
  return error as FrontendOpsError;
}

describe('file:// backend', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'frontendops-pulumi-'));
  });
  afterEach(() => rm(work, { recursive: true, force: true }));

  const copyFixture = async (name: string) => {
    await cp(join(FIXTURES, name), join(work, name), { recursive: true });
    return join(work, name);
  };

  it('the outputs of either layout make a deploy target (the legacy one through its syncCommand)', async () => {
    for (const fixture of ['file-backend', 'legacy-backend']) {
      const source = createPulumiStateSource({ backendUrl: `file://${join(FIXTURES, fixture)}` });
      const outputs = await source.readOutputs('dashboard-hosting-prod');
      expect(outputs.source).toBe('pulumi state (file backend)');
      expect(resolveDeployTarget(outputs)).toMatchObject({
        artifactsBucket: 'sophia-dashboard-build-artifacts',
        hostingBucket: 'sophia-dashboard-hosting-prod',
        prune: true,
      });
    }
  });

  it('a checkpoint that is a named pipe or a device (a change to the repository) is refused, not read', async () => {
    const dir = await copyFixture('file-backend');
    const checkpoint = join(dir, PROJECT_CHECKPOINT);
    await rm(checkpoint);
    // A pipe nobody writes to: read, it waited forever; a link to /dev/zero, until memory ran out.
    execFileSync('mkfifo', [checkpoint]);
    const source = createPulumiStateSource({ backendUrl: `file://${dir}` });
    const fifo = await source.readOutputs('dashboard-hosting-prod').catch((e: unknown) => e);
    expect(fifo).toBeInstanceOf(FrontendOpsError);
    expect(fifo).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('a named pipe (FIFO)'),
    });
    await rm(checkpoint);
    await symlink('/dev/zero', checkpoint);
    await expect(source.readOutputs('dashboard-hosting-prod')).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('a device'),
    });
  });

  it('resolves a relative file:// path against cwd, and accepts organization/<project>/<stack>', async () => {
    const source = createPulumiStateSource({ backendUrl: 'file://file-backend', cwd: FIXTURES });
    const outputs = await source.readOutputs('organization/dashboard-hosting/dashboard-hosting-prod');
    expect(outputs.stack).toBe('dashboard-hosting-prod');
    expect(outputs.outputs.hostingBucket).toBe('sophia-dashboard-hosting-prod');
  });

  it('reads a gzip-compressed checkpoint (.json.gz, PULUMI_SELF_MANAGED_STATE_GZIP)', async () => {
    const dir = await copyFixture('file-backend');
    const plain = join(dir, PROJECT_CHECKPOINT);
    await writeFile(`${plain}.gz`, gzipSync(await readFile(plain)));
    await rm(plain);
    const outputs = await createPulumiStateSource({ backendUrl: `file://${dir}` }).readOutputs(
      'dashboard-hosting-prod',
    );
    expect(outputs.outputs.hostingBucket).toBe('sophia-dashboard-hosting-prod');
    expect(outputs.secretNames).toEqual(['deployRoleSecret']);
    await expectNoCiphertext(outputs);
  });

  it('drops plaintext secrets too (a checkpoint imported from `stack export --show-secrets`)', async () => {
    const dir = await copyFixture('file-backend');
    const file = join(dir, PROJECT_CHECKPOINT);
    const checkpoint = JSON.parse(await readFile(file, 'utf8'));
    const stackResource = checkpoint.checkpoint.latest.resources[0];
    stackResource.outputs.apiKey = {
      '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270',
      plaintext: '"hunter2-plaintext-api-key"',
    };
    stackResource.outputs.nested = {
      list: [1, { deep: { '4dabf18193072939515e22adb298388d': 'x', ciphertext: 'v1:zz' } }],
    };
    await writeFile(file, JSON.stringify(checkpoint));
    const outputs = await createPulumiStateSource({ backendUrl: `file://${dir}` }).readOutputs(
      'dashboard-hosting-prod',
    );
    expect(outputs.secretNames).toEqual(['apiKey', 'deployRoleSecret', 'nested']);
    expect(JSON.stringify(outputs)).not.toContain('hunter2');
    expect(JSON.stringify(outputs)).not.toContain('v1:zz');
  });

  it('finds the project by listing, and asks for it when the stack exists in two projects', async () => {
    const dir = await copyFixture('file-backend');
    await mkdir(join(dir, '.pulumi/stacks/other-project'));
    await cp(
      join(dir, PROJECT_CHECKPOINT),
      join(dir, '.pulumi/stacks/other-project/dashboard-hosting-prod.json'),
    );
    const ambiguous = createPulumiStateSource({ backendUrl: `file://${dir}` });
    const error = await expectCode(ambiguous.readOutputs('dashboard-hosting-prod'), 'BAD_INPUT');
    expect(error.message).toContain('dashboard-hosting, other-project');
    const chosen = createPulumiStateSource({ backendUrl: `file://${dir}`, project: 'other-project' });
    expect((await chosen.readOutputs('dashboard-hosting-prod')).outputs.hostingBucket).toBe(
      'sophia-dashboard-hosting-prod',
    );
  });

  it('an unknown stack is NOT_FOUND listing the known stacks; so is a configured project it is not in', async () => {
    const dir = await copyFixture('file-backend');
    const before = await digestTree(dir);
    const source = createPulumiStateSource({ backendUrl: `file://${dir}` });
    const error = await expectCode(source.readOutputs('dashboard-hosting-dev'), 'NOT_FOUND');
    expect(error.message).toContain('known stacks: dashboard-hosting/dashboard-hosting-prod');
    await expectCode(
      createPulumiStateSource({ backendUrl: `file://${dir}`, project: 'nope' }).readOutputs(
        'dashboard-hosting-prod',
      ),
      'NOT_FOUND',
    );
    expect(await digestTree(dir)).toBe(before);
  });

  it('an empty or missing backend directory is NOT_FOUND and stays absent', async () => {
    const missing = join(work, 'no-such-dir');
    await expectCode(
      createPulumiStateSource({ backendUrl: `file://${missing}` }).readOutputs('prod'),
      'NOT_FOUND',
    );
    await expect(readdir(missing)).rejects.toThrow();
  });

  it.each([['organization/../x'], ['org/proj/stack'], ['organization/proj/'], ['a/b/c/d']])(
    'refuses the qualified stack reference %j as BAD_INPUT',
    async (ref) => {
      const source = createPulumiStateSource({ backendUrl: `file://${join(FIXTURES, 'file-backend')}` });
      await expectCode(source.readOutputs(ref), 'BAD_INPUT');
    },
  );

  it.each([
    [
      'a checkpoint newer than version 3',
      (c: Record<string, unknown>) => ({ ...c, version: 4 }),
      'newer than',
    ],
    ['no version', (c: Record<string, unknown>) => ({ ...c, version: undefined }), 'version'],
    ['not a checkpoint', () => ({ hello: 'world' }), 'versioned checkpoint'],
    [
      'resources not a list',
      () => ({ version: 3, checkpoint: { latest: { resources: 'x' } } }),
      'not a Pulumi deployment',
    ],
  ])('refuses %s as UPSTREAM', async (_name, mutate, fragment) => {
    const dir = await copyFixture('file-backend');
    const file = join(dir, PROJECT_CHECKPOINT);
    await writeFile(file, JSON.stringify(mutate(JSON.parse(await readFile(file, 'utf8')))));
    const error = await expectCode(
      createPulumiStateSource({ backendUrl: `file://${dir}` }).readOutputs('dashboard-hosting-prod'),
      'UPSTREAM',
    );
    expect(error.message).toContain(fragment);
  });

  it('a zstd checkpoint is read where Node supports zstd, else refused as UPSTREAM saying why', async () => {
    const dir = await copyFixture('file-backend');
    const plain = join(dir, PROJECT_CHECKPOINT);
    // Zstandard frame magic followed by garbage: either Node lacks zstd, or the frame fails to decode.
    await writeFile(`${plain}.zst`, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]));
    await rm(plain);
    const error = await expectCode(
      createPulumiStateSource({ backendUrl: `file://${dir}` }).readOutputs('dashboard-hosting-prod'),
      'UPSTREAM',
    );
    expect(error.message).toMatch(/zstd-compressed, which needs Node 22.15|could not be decompressed/);
  });

  it('a stack that was never updated (no latest deployment) has no outputs', async () => {
    const dir = await copyFixture('file-backend');
    await writeFile(
      join(dir, PROJECT_CHECKPOINT),
      JSON.stringify({
        version: 3,
        checkpoint: { stack: 'organization/dashboard-hosting/dashboard-hosting-prod' },
      }),
    );
    const outputs = await createPulumiStateSource({ backendUrl: `file://${dir}` }).readOutputs(
      'dashboard-hosting-prod',
    );
    expect(outputs.outputs).toEqual({});
    expect(() => resolveDeployTarget(outputs)).toThrow(/names no deploy target/);
  });

  it('refuses a backend URL that is neither file:// nor s3:// when made, saying which it takes', () => {
    expect(() => createPulumiStateSource({ backendUrl: 'gs://bucket' })).toThrow(/file:\/\/ or s3:\/\//);
  });
});

describe('s3:// backend on the embedded S3 server', () => {
  it('reads a gzip-compressed legacy checkpoint at the bucket root', async () => {
    const outputs = await s3Source('s3://legacy-state').readOutputs('dashboard-hosting-prod');
    expect(outputs.source).toBe('pulumi state (s3 backend)');
    expect(outputs.secretNames).toEqual(['dbPassword']);
    expect(resolveDeployTarget(outputs).prune).toBe(true);
    await expectNoCiphertext(outputs);
  });

  it("lists only the stack's own keys when the project is known, not every stack of the backend", async () => {
    const crowded = s3.store('crowded-state');
    const checkpoint = await readFile(join(FIXTURES, 'file-backend', PROJECT_CHECKPOINT));
    await crowded.put('.pulumi/meta.yaml', await readFile(join(FIXTURES, 'file-backend/.pulumi/meta.yaml')));
    await crowded.put(PROJECT_CHECKPOINT, checkpoint);
    const others = Array.from({ length: 12 }, (_, i) => `.pulumi/stacks/dashboard-hosting/other-${i}.json`);
    for (const key of others) await crowded.put(key, checkpoint);
    await s3.settle();
    const from = s3.requests.length;
    const source = s3Source('s3://crowded-state', s3.credentials);
    await source.readOutputs('dashboard-hosting-prod');
    await source.readOutputs('organization/dashboard-hosting/dashboard-hosting-prod');
    await s3.settle();
    // What the reader's listings read: the keys the server holds under each prefix it listed.
    const listed = s3.requests
      .slice(from)
      .filter((r) => r.bucket === 'crowded-state' && r.query.includes('list-type=2'))
      .map((r) => new URLSearchParams(r.query).get('prefix') ?? '');
    expect(listed).toHaveLength(2);
    const keysRead = (await Promise.all(listed.map((prefix) => crowded.list(prefix)))).flat();
    // The first read finds the project by listing (every stack); the second names it: one key.
    expect(keysRead).toHaveLength(others.length + 1 + 1);
  });

  it('an unknown stack is NOT_FOUND without naming the bucket, after reads only', async () => {
    await s3.settle();
    const from = s3.requests.length;
    const error = await expectCode(
      s3Source('s3://pulumi-state/team').readOutputs('dashboard-hosting-dev'),
      'NOT_FOUND',
    );
    expect(error.message).not.toContain('pulumi-state');
    await s3.settle();
    const sent = s3.requests.slice(from).filter((r) => r.bucket === 'pulumi-state');
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((r) => r.method === 'GET' || r.method === 'HEAD')).toBe(true);
  });
});
