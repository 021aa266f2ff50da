/**
 * The outputs file source: the StackSource contract (test/support/contracts/stack-source.ts) on a
 * file that names its stack, and what only an outputs file does — a file without a "stack" field is
 * named by its file name, and answers to whatever stack it is read as.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import { createOutputsFileSource, readOutputsFileStack } from '../../src/stacks/outputs-file.ts';
import { PULUMI_SECRET_SIG, PULUMI_SIG_KEY } from '../../src/stacks/secret-outputs.ts';
import { stackSourceContract } from '../support/contracts/stack-source.ts';
import { digestTree } from '../support/digest-tree.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/pulumi/outputs.json');

stackSourceContract(
  'outputs file',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'frontendops-outputs-contract-'));
    const file = join(dir, 'prod.json');
    const outputs = {
      artifactsBucket: 'sophia-dashboard-build-artifacts',
      hostingBucket: 'sophia-dashboard-hosting-prod',
      region: 'us-east-1',
      tags: { team: 'platform' },
    };
    await writeFile(
      file,
      JSON.stringify({
        stack: 'dashboard-hosting-prod',
        ...outputs,
        token: '[secret]',
        key: { [PULUMI_SIG_KEY]: PULUMI_SECRET_SIG, plaintext: '"s3cr3t-value"' },
      }),
    );
    const malformed = async (what: string, text: string) => {
      const path = join(dir, `malformed-${what.replaceAll(' ', '-')}.json`);
      await writeFile(path, text);
      return { what, open: () => createOutputsFileSource(path) };
    };
    return {
      source: createOutputsFileSource(file),
      stack: 'dashboard-hosting-prod',
      expected: { outputs, secretNames: ['key', 'token'] },
      secretValues: ['s3cr3t-value'],
      credentials: [],
      unknownStack: 'dashboard-hosting-dev',
      backendState: () => digestTree(dir),
      malformed: [
        await malformed('not JSON', '{"artifactsBucket": '),
        await malformed('an array', '["a", "b"]'),
        await malformed('a bad stack field', '{"stack": "../../x"}'),
      ],
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { checksStackNames: false, canBeMalformed: true, takesCredential: false },
);

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'frontendops-outputs-'));
});
afterEach(() => rm(work, { recursive: true, force: true }));

describe('outputs file source', () => {
  it('reads the outputs the local environment writes; the stack field names the stack', async () => {
    expect(await readOutputsFileStack(FIXTURE)).toEqual({ stack: 'dashboard-hosting-staging', named: true });
    const outputs = await createOutputsFileSource(FIXTURE).readOutputs('dashboard-hosting-staging');
    expect(outputs).toEqual({
      stack: 'dashboard-hosting-staging',
      outputs: {
        artifactsBucket: 'sophia-dashboard-build-artifacts',
        hostingBucket: 'sophia-dashboard-hosting-staging',
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:4569',
        siteUrl: 'http://127.0.0.1:8080/',
      },
      secretNames: [],
      source: 'outputs file',
    });
    expect(resolveDeployTarget(outputs)).toMatchObject({
      endpoint: 'http://127.0.0.1:4569',
      region: 'eu-west-1',
    });
  });

  it('a stack field that is no stack name (one starting with "."), as every reader of a name has it, is refused', async () => {
    // The environment marker, the tools' arguments and deploy tags take a stack name by STACK_NAME:
    // a name the outputs file took beyond it would be written into a marker no later change reads.
    for (const stack of ['.hidden', '..', 'a b']) {
      const file = join(work, 'named.json');
      await writeFile(file, JSON.stringify({ stack, hostingBucket: 'h', artifactsBucket: 'a' }));
      await expect(readOutputsFileStack(file), stack).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringContaining('has a "stack" field that is not a stack name'),
      });
    }
  });

  it('without a stack field the file name is the stack, and the file answers to any name', async () => {
    const file = join(work, 'dashboard-hosting-prod.json');
    await writeFile(
      file,
      JSON.stringify({
        syncCommand: 'aws s3 sync s3://src-bucket s3://dst-bucket --delete',
        token: '[secret]',
      }),
    );
    // A name taken from the file's name says nothing about the target: such a stack is protected.
    expect(await readOutputsFileStack(file)).toEqual({ stack: 'dashboard-hosting-prod', named: false });
    const outputs = await createOutputsFileSource(file).readOutputs('dashboard-hosting-prod');
    expect(outputs.secretNames).toEqual(['token']);
    expect(resolveDeployTarget(outputs).hostingBucket).toBe('dst-bucket');
    // Configured as `"backend": "outputs"`, it is read under the configuration's name for it.
    expect((await createOutputsFileSource(file).readOutputs('staging')).stack).toBe('staging');
  });

  it('without a stack field, a file name that is no stack name is refused as a "stack" field would be', async () => {
    // The name taken from the file goes where a stack's name goes (the environment marker, deploy
    // tags, the tools' arguments): held to STACK_NAME, as the "stack" field and the configuration are.
    for (const name of ['prod env.json', '.hidden.json', 'stage!.json']) {
      const file = join(work, name);
      await writeFile(file, JSON.stringify({ hostingBucket: 'h', artifactsBucket: 'a' }));
      const before = await digestTree(work);
      const error = await readOutputsFileStack(file).catch((e: unknown) => e);
      expect(error, name).toMatchObject({
        code: 'BAD_INPUT',
        message: `The stack outputs file ${name} has no "stack" field, and its name without .json, "${name.replace(/\.json$/, '')}", is not a stack name (letters, digits, -, _ and ., not starting with .). Nothing was changed: add a "stack" field naming the stack (e.g. "stack": "dashboard-hosting-prod"), or rename the file after it.`,
      });
      expect(await digestTree(work)).toEqual(before);
    }
  });

  it('a file over 1 MiB, or no regular file (a link to a pipe or a device), is BAD_INPUT, never read to its end', async () => {
    // The configuration names the file ("file", defaultStack): whoever changes the repository chooses it.
    const big = join(work, 'big.json');
    await writeFile(big, `{"stack": "big"${' '.repeat(1024 * 1024)}}`);
    await expect(createOutputsFileSource(big).readOutputs('big')).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(
        /^The stack outputs file big\.json is larger than 1 MiB: outputs are a few kilobytes\./,
      ),
    });
    const pipe = join(work, 'pipe');
    execFileSync('mkfifo', [pipe]);
    for (const [target, kind] of [
      [pipe, 'a named pipe (FIFO)'],
      ['/dev/zero', 'a device'],
    ] as const) {
      const link = join(work, 'prod.json');
      await symlink(target, link);
      for (const read of [
        () => createOutputsFileSource(link).readOutputs('prod'),
        () => readOutputsFileStack(link),
      ])
        await expect(read()).rejects.toMatchObject({
          code: 'BAD_INPUT',
          message: expect.stringContaining(
            `The stack outputs file prod.json is not a regular file (${kind}):`,
          ),
        });
      await rm(link);
    }
  });

  it('a missing file is NOT_FOUND', async () => {
    await expect(createOutputsFileSource(join(work, 'none.json')).readOutputs('x')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
