/**
 * The embedded environment as a stack source: the StackSource contract
 * (test/support/contracts/stack-source.ts) while it runs, and what only it does — it says how to
 * reach its target (its own key, the edge's endpoint), and it is there only while `frontendops dev`
 * runs in this directory.
 */
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalStackSource } from '../../src/stacks/local.ts';
import { type LocalEnv, localEnvFile, writeLocalEnv } from '../../src/stacks/local-env-file.ts';
import { stackSourceContract } from '../support/contracts/stack-source.ts';
import { digestTree } from '../support/digest-tree.ts';

const credentials = { accessKeyId: 'FOLOCALCONTRACT', secretAccessKey: 'local-secret-key-0123456789abcdef' };

/** What `frontendops dev` writes when it starts, for a process that is `pid`. */
async function announce(cwd: string, pid: number): Promise<LocalEnv> {
  const env: LocalEnv = {
    pid,
    startedAt: new Date().toISOString(),
    s3Endpoint: 'http://127.0.0.1:4569',
    credentials,
    buckets: { artifacts: 'local-artifacts', hosting: 'local-hosting' },
    distributionId: 'E1LOCALEDGE',
    edgeUrl: 'http://127.0.0.1:8080',
    cdnEndpoint: 'http://127.0.0.1:8081',
    dataDir: join(cwd, '.frontendops'),
  };
  await mkdir(join(cwd, '.frontendops'), { recursive: true });
  await writeFile(localEnvFile(cwd), JSON.stringify(env), { mode: 0o600 });
  return env;
}

stackSourceContract(
  'the local environment',
  async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'frontendops-local-contract-'));
    await announce(cwd, process.pid);
    return {
      source: createLocalStackSource(cwd),
      stack: 'local',
      expected: {
        outputs: {
          artifactsBucket: 'local-artifacts',
          hostingBucket: 'local-hosting',
          distributionId: 'E1LOCALEDGE',
          region: 'us-east-1',
          endpoint: 'http://127.0.0.1:4569',
          siteUrl: 'http://127.0.0.1:8080',
        },
        secretNames: [],
        access: { credentials, cdnEndpoint: 'http://127.0.0.1:8081' },
      },
      secretValues: [],
      credentials: [credentials.secretAccessKey],
      unknownStack: 'staging',
      backendState: () => digestTree(cwd),
      malformed: [],
      cleanup: () => rm(cwd, { recursive: true, force: true }),
    };
  },
  { checksStackNames: false, canBeMalformed: false, takesCredential: false },
);

describe('the local environment as a stack source', () => {
  let cwd: string;
  beforeEach(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'frontendops-local-source-'));
  });
  afterEach(() => rm(cwd, { recursive: true, force: true }));

  const refusal = (read: Promise<unknown>) =>
    read.then(
      () => undefined,
      (e: unknown) => e,
    );

  it('is NOT_FOUND when none runs here, saying how to start one', async () => {
    expect(await refusal(createLocalStackSource(cwd).readOutputs('local'))).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(
        /No local environment is running here \(in the project of the working directory, or of -C <dir>\).*npm start.*FRONTENDOPS_CONFIG names a configuration file, not where the environment runs/,
      ),
    });
  });

  it('ignores the file of an environment whose process died, and a damaged file', async () => {
    await announce(cwd, 2 ** 22 + 12345); // above Linux's pid_max default: no such process
    expect(await refusal(createLocalStackSource(cwd).readOutputs('local'))).toMatchObject({
      code: 'NOT_FOUND',
    });
    await writeFile(localEnvFile(cwd), '{"pid": ');
    expect(await refusal(createLocalStackSource(cwd).readOutputs('local'))).toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('names only its own stack: another name is NOT_FOUND even while it runs', async () => {
    await announce(cwd, process.pid);
    expect(await refusal(createLocalStackSource(cwd).readOutputs('prod'))).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/one stack, local, not "prod"/),
    });
  });

  it("writes env.json (its S3 key, the console's token) owner-only: over an older file, or a link to another file", async () => {
    // writeFile's mode applies only when it creates the file: an env.json left readable (0644) kept
    // that mode, and a link planted at its name had the key written to wherever it points.
    const dir = join(cwd, '.frontendops');
    const env: LocalEnv = {
      ...(await announce(cwd, process.pid)),
      consoleUrl: 'http://127.0.0.1:9/',
      consoleToken: 'the-console-token-0123456789',
    };
    await chmod(localEnvFile(cwd), 0o644);
    await writeLocalEnv(cwd, env);
    expect((await stat(localEnvFile(cwd))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(localEnvFile(cwd), 'utf8'))).toEqual(env);

    const elsewhere = join(cwd, 'public.json');
    await writeFile(elsewhere, 'public\n', { mode: 0o644 });
    await rm(localEnvFile(cwd));
    await symlink(elsewhere, localEnvFile(cwd));
    await writeLocalEnv(cwd, env);
    expect(await readFile(elsewhere, 'utf8')).toBe('public\n');
    const written = await lstat(localEnvFile(cwd));
    expect(written.isFile()).toBe(true);
    expect(written.mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['env.json']);
  });
});
