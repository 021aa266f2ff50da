import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import { createOutputsFileSource, readOutputsFileStack } from '../../src/stacks/outputs-file.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/pulumi/outputs.json');

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'frontendops-outputs-'));
});
afterEach(() => rm(work, { recursive: true, force: true }));

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrontendOpsError);
  return (error as FrontendOpsError).code;
}

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

  it('without a stack field the file name is the stack; secrets ("[secret]" or envelopes) become names', async () => {
    const file = join(work, 'dashboard-hosting-prod.json');
    await writeFile(
      file,
      JSON.stringify({
        syncCommand: 'aws s3 sync s3://src-bucket s3://dst-bucket --delete',
        token: '[secret]',
        key: {
          '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270',
          plaintext: '"s3cr3t-value"',
        },
      }),
    );
    // A name taken from the file's name says nothing about the target: such a stack is protected.
    expect(await readOutputsFileStack(file)).toEqual({ stack: 'dashboard-hosting-prod', named: false });
    const outputs = await createOutputsFileSource(file).readOutputs('dashboard-hosting-prod');
    expect(outputs.secretNames).toEqual(['key', 'token']);
    expect(JSON.stringify(outputs)).not.toContain('s3cr3t-value');
    expect(resolveDeployTarget(outputs).hostingBucket).toBe('dst-bucket');
  });

  it('a missing file or another stack is NOT_FOUND', async () => {
    expect(await codeOf(createOutputsFileSource(join(work, 'none.json')).readOutputs('x'))).toBe('NOT_FOUND');
    expect(await codeOf(createOutputsFileSource(FIXTURE).readOutputs('dashboard-hosting-prod'))).toBe(
      'NOT_FOUND',
    );
  });

  it.each([
    ['not JSON', '{"artifactsBucket": '],
    ['an array', '["a", "b"]'],
    ['a bad stack field', '{"stack": "../../x"}'],
  ])('%s is BAD_INPUT', async (_name, text) => {
    const file = join(work, 'bad.json');
    await writeFile(file, text);
    expect(await codeOf(createOutputsFileSource(file).readOutputs('bad'))).toBe('BAD_INPUT');
  });
});
