/** `--stack <ref>` resolution: outputs file path, `local` (the running local environment), configured backends. */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Config, defaultConfig, loadConfig } from '../../src/config.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import { isOutputsFileRef } from '../../src/stacks/outputs-file.ts';
import {
  listKnownStacks,
  readDeployTarget,
  readStack,
  resolveStackSource,
} from '../../src/stacks/resolve.ts';
import { type PulumiCloudDouble, startPulumiCloudDouble } from '../support/pulumi-cloud-double.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/pulumi');
const TOKEN = 'pul-resolve-test-token';

let work: string;
let cloud: PulumiCloudDouble;
beforeAll(async () => {
  cloud = await startPulumiCloudDouble({
    token: TOKEN,
    stacks: {
      'sophia/dashboard-hosting/dashboard-hosting-prod': JSON.parse(
        await readFile(join(FIXTURES, 'cloud-export-dashboard-hosting-prod.json'), 'utf8'),
      ),
    },
  });
});
afterAll(() => cloud.close());
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'frontendops-resolve-'));
});
afterEach(() => rm(work, { recursive: true, force: true }));

const configWith = (stacks: Config['stacks']): Config => ({ ...defaultConfig(), stacks });
async function loadConfigFrom(dir: string, json: unknown): Promise<Config> {
  await writeFile(join(dir, 'frontendops.config.json'), JSON.stringify(json));
  return loadConfig(dir, {});
}

async function refusal(promise: Promise<unknown>, code: string): Promise<FrontendOpsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrontendOpsError);
  expect((error as FrontendOpsError).code).toBe(code);
  return error as FrontendOpsError;
}

async function digestTree(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries.map((e) => join(e.parentPath, e.name)).sort()) hash.update(entry);
  return hash.digest('hex');
}

describe('resolveStackSource / readDeployTarget', () => {
  it('a path to a JSON outputs file: the stack is its "stack" field', async () => {
    const options = { config: defaultConfig(), cwd: FIXTURES };
    const resolved = await resolveStackSource('./outputs.json', options);
    expect(resolved.stack).toBe('dashboard-hosting-staging');
    const target = await readDeployTarget('outputs.json', options);
    expect(target).toMatchObject({
      stack: 'dashboard-hosting-staging',
      hostingBucket: 'sophia-dashboard-hosting-staging',
      endpoint: 'http://127.0.0.1:4569',
      statePrefix: '.frontendops/state/dashboard-hosting-staging/',
    });
  });

  it('a missing .json path is NOT_FOUND', async () => {
    await refusal(resolveStackSource('missing.json', { config: defaultConfig(), cwd: work }), 'NOT_FOUND');
  });

  it('a path to a directory is BAD_INPUT, saying to pass the outputs file in it', async () => {
    const dir = join(work, 'outputs-dir');
    await mkdir(dir, { recursive: true });
    for (const ref of [dir, `${dir}/`, './outputs-dir/']) {
      const error = await refusal(
        resolveStackSource(ref, { config: defaultConfig(), cwd: work }),
        'BAD_INPUT',
      );
      expect(error.message).toMatch(
        /outputs-dir is a directory, not a stack outputs file\. Nothing was done\. Pass the outputs JSON file itself/,
      );
    }
  });

  it('a configured file:// backend, with the backend stack name differing from the environment name', async () => {
    const config = configWith({
      prod: { backend: `file://${join(FIXTURES, 'file-backend')}`, stack: 'dashboard-hosting-prod' },
    });
    const target = await readDeployTarget('prod', { config, cwd: work });
    expect(target).toMatchObject({
      stack: 'prod',
      artifactsBucket: 'sophia-dashboard-build-artifacts',
      hostingBucket: 'sophia-dashboard-hosting-prod',
      distributionId: 'E2QWRUHAPOMQZL',
      statePrefix: '.frontendops/state/prod/',
      prune: true,
    });
  });

  it('a configured legacy state backend with the seed syncCommand', async () => {
    const config = configWith({
      'dashboard-hosting-prod': { backend: `file://${join(FIXTURES, 'legacy-backend')}` },
    });
    const target = await readDeployTarget('dashboard-hosting-prod', { config, cwd: work });
    expect(target).toMatchObject({ hostingBucket: 'sophia-dashboard-hosting-prod', prune: true });
    expect(JSON.stringify(target)).not.toContain('ciphertext');
  });

  it('a configured pulumi-cloud backend, its apiUrl the server PULUMI_BACKEND_URL names', async () => {
    const config = configWith({
      'dashboard-hosting-prod': {
        backend: 'pulumi-cloud',
        organization: 'sophia',
        project: 'dashboard-hosting',
        apiUrl: `${cloud.url}/`,
      },
    });
    const env = { PULUMI_BACKEND_URL: cloud.url, PULUMI_ACCESS_TOKEN: TOKEN };
    const target = await readDeployTarget('dashboard-hosting-prod', { config, cwd: work, env });
    expect(target.hostingBucket).toBe('sophia-dashboard-hosting-prod');
    expect(cloud.requests.at(-1)?.path).toBe(
      '/api/stacks/sophia/dashboard-hosting/dashboard-hosting-prod/export',
    );
  });

  it('PULUMI_ACCESS_TOKEN comes from the environment PULUMI_BACKEND_URL is read from', async () => {
    // The environment a caller passes is the one apiUrl is held to; the token must come from it too,
    // not from this process's (another job's secret, or one the caller meant to leave out).
    const saved = process.env.PULUMI_ACCESS_TOKEN;
    process.env.PULUMI_ACCESS_TOKEN = 'pul-this-process-token';
    try {
      const config = configWith({
        'dashboard-hosting-prod': {
          backend: 'pulumi-cloud',
          organization: 'sophia',
          project: 'dashboard-hosting',
          apiUrl: cloud.url,
        },
      });
      const env = { PULUMI_BACKEND_URL: cloud.url, PULUMI_ACCESS_TOKEN: TOKEN };
      const target = await readDeployTarget('dashboard-hosting-prod', { config, cwd: work, env });
      expect(target.hostingBucket).toBe('sophia-dashboard-hosting-prod');
      expect(cloud.requests.at(-1)?.headers.authorization).toBe(`token ${TOKEN}`);
      const from = cloud.requests.length;
      const error = await refusal(
        readDeployTarget('dashboard-hosting-prod', {
          config,
          cwd: work,
          env: { PULUMI_BACKEND_URL: cloud.url },
        }),
        'BAD_INPUT',
      );
      expect(error.message).toMatch(/^PULUMI_ACCESS_TOKEN is not set/);
      expect(cloud.requests.length).toBe(from);
    } finally {
      if (saved === undefined) delete process.env.PULUMI_ACCESS_TOKEN;
      else process.env.PULUMI_ACCESS_TOKEN = saved;
    }
  });

  it("a configuration's apiUrl cannot send PULUMI_ACCESS_TOKEN to a server the environment does not name", async () => {
    // Whoever can change frontendops.config.json (a pull request merged without care, a branch a
    // workflow checks out) points apiUrl at a server of theirs; the deploy job holds the token.
    const saved = process.env.PULUMI_ACCESS_TOKEN;
    process.env.PULUMI_ACCESS_TOKEN = TOKEN;
    try {
      const config = configWith({
        'dashboard-hosting-prod': {
          backend: 'pulumi-cloud',
          organization: 'sophia',
          project: 'dashboard-hosting',
          apiUrl: cloud.url,
        },
      });
      for (const env of [
        { PULUMI_ACCESS_TOKEN: TOKEN },
        { PULUMI_BACKEND_URL: 'https://pulumi.example.com', PULUMI_ACCESS_TOKEN: TOKEN },
      ]) {
        const from = cloud.requests.length;
        const error = await refusal(
          readDeployTarget('dashboard-hosting-prod', { config, cwd: work, env }),
          'BAD_INPUT',
        );
        expect(error.message).toContain(`"apiUrl" of stack dashboard-hosting-prod is ${cloud.url}`);
        expect(error.message).toMatch(/PULUMI_BACKEND_URL/);
        expect(error.message).not.toContain(TOKEN);
        expect(error.message).not.toContain('pulumi.example.com');
        expect(cloud.requests.length).toBe(from);
      }
    } finally {
      if (saved === undefined) delete process.env.PULUMI_ACCESS_TOKEN;
      else process.env.PULUMI_ACCESS_TOKEN = saved;
    }
  });

  it('a configured outputs backend', async () => {
    const config = configWith({
      'dashboard-hosting-staging': { backend: 'outputs', file: join(FIXTURES, 'outputs.json') },
    });
    const target = await readDeployTarget('dashboard-hosting-staging', { config, cwd: work });
    expect(target.region).toBe('eu-west-1');
  });

  it('`local` is the running local environment: its outputs and its own key, whatever the configuration says', async () => {
    await mkdir(join(work, '.frontendops'));
    const credentials = { accessKeyId: 'FOLOCALTEST', secretAccessKey: 'not-a-real-secret' };
    await writeFile(
      join(work, '.frontendops/env.json'),
      JSON.stringify({
        pid: process.pid,
        startedAt: new Date().toISOString(),
        s3Endpoint: 'http://127.0.0.1:4569',
        credentials,
        buckets: { artifacts: 'local-artifacts', hosting: 'local-hosting' },
        distributionId: 'E1LOCALEDGE',
        edgeUrl: 'http://127.0.0.1:8080',
        cdnEndpoint: 'http://127.0.0.1:8081',
        dataDir: join(work, '.frontendops'),
      }),
      // As `dev` writes it: a file others may read is not believed (findLocalEnv).
      { mode: 0o600 },
    );
    const local = await readStack('local', { config: defaultConfig(), cwd: work });
    expect(local.target).toMatchObject({
      stack: 'local',
      hostingBucket: 'local-hosting',
      endpoint: 'http://127.0.0.1:4569',
    });
    expect(local.access).toEqual({ credentials, cdnEndpoint: 'http://127.0.0.1:8081' });
    const error = await refusal(
      resolveStackSource('staging', { config: defaultConfig(), cwd: work }),
      'NOT_FOUND',
    );
    expect(error.message).toContain('known: local');
    expect(
      await listKnownStacks({ config: configWith({ qa: { backend: 'pulumi-cli' } }), cwd: work }),
    ).toEqual(['qa', 'local']);
    // A real stack can never be reached under the local name, nor the local environment under a real one.
    await expect(loadConfigFrom(work, { stacks: { local: { backend: 'pulumi-cli' } } })).rejects.toThrow(
      /"local" is the name of the embedded environment/,
    );
    await refusal(readStack('dashboard-hosting-prod', { config: defaultConfig(), cwd: work }), 'NOT_FOUND');
  });

  it('without a running local environment, `local` says how to start one', async () => {
    const error = await refusal(readStack('local', { config: defaultConfig(), cwd: work }), 'NOT_FOUND');
    expect(error.message).toMatch(/npx frontendops dev/);
  });

  it('an outputs file that does not say which stack it is stays nameless: such a stack is protected', async () => {
    const file = join(work, 'prod.json');
    await writeFile(file, JSON.stringify({ artifactsBucket: 'a-artifacts', hostingBucket: 'a-hosting' }));
    expect(await readStack(file, { config: defaultConfig(), cwd: work })).toMatchObject({ named: false });
    await writeFile(
      file,
      JSON.stringify({ stack: 'qa', artifactsBucket: 'a-artifacts', hostingBucket: 'a-hosting' }),
    );
    expect(await readStack(file, { config: defaultConfig(), cwd: work })).toMatchObject({ named: true });
  });

  it('a backend named by an environment variable (env:PULUMI_BACKEND_URL), as CI and laptops share one configuration', async () => {
    const config = configWith({ prod: { backend: 'env:PULUMI_BACKEND_URL', project: 'dashboard-hosting' } });
    const error = await refusal(readStack('prod', { config, cwd: work, env: {} }), 'BAD_INPUT');
    expect(error.message).toMatch(/PULUMI_BACKEND_URL, which is not set/);
    const backend = join(work, 'state');
    await mkdir(backend);
    await refusal(
      readStack('prod', { config, cwd: work, env: { PULUMI_BACKEND_URL: `file://${backend}` } }),
      'NOT_FOUND',
    );
  });

  it('an unknown stack is NOT_FOUND, lists the known names and how to configure one, and writes nothing', async () => {
    const backend = join(work, 'state');
    await mkdir(backend);
    const config = configWith({ prod: { backend: `file://${backend}` }, qa: { backend: 'pulumi-cli' } });
    const before = await digestTree(work);
    const error = await refusal(
      resolveStackSource('dashboard-hosting-dev', { config, cwd: work }),
      'NOT_FOUND',
    );
    expect(error.message).toContain('known: prod, qa');
    expect(error.message).toContain('frontendops.config.json');
    expect(error.message).toContain('Nothing was created');
    await refusal(readDeployTarget('prod', { config, cwd: work }), 'NOT_FOUND');
    expect(await digestTree(work)).toBe(before);
  });

  it('one rule says which references name an outputs file, and the configuration follows it', async () => {
    // Where --stack, `mcp infra` and the configuration used to disagree: capitals, a backslash, a
    // path without ".json".
    for (const ref of [
      'prod.json',
      'Prod.JSON',
      ' prod.json ',
      'stacks/prod',
      'stacks\\prod',
      '/srv/prod.json',
    ])
      expect(isOutputsFileRef(ref), ref).toBe(true);
    for (const ref of ['prod', 'local', 'dashboard-hosting-prod', 'prod.json.bak', 'v1.2'])
      expect(isOutputsFileRef(ref), ref).toBe(false);
    // defaultStack takes what --stack reads as a file, in a subdirectory too, from the file's directory.
    for (const defaultStack of ['stacks/prod.json', 'Prod.JSON', 'stacks/prod']) {
      const config = await loadConfigFrom(work, { defaultStack });
      expect(config.defaultStack, defaultStack).toBe(join(work, defaultStack));
    }
    const name = await refusal(loadConfigFrom(work, { defaultStack: 'prod' }), 'BAD_INPUT');
    expect(name.message).toMatch(/defaultStack: "prod" names no stack of "stacks"/);
  });

  it('an empty reference is BAD_INPUT', async () => {
    await refusal(resolveStackSource('  ', { config: defaultConfig(), cwd: work }), 'BAD_INPUT');
  });

  it('"__proto__" and other object keys are not stacks', async () => {
    await refusal(resolveStackSource('__proto__', { config: defaultConfig(), cwd: work }), 'NOT_FOUND');
    await refusal(resolveStackSource('constructor', { config: defaultConfig(), cwd: work }), 'NOT_FOUND');
  });
});
