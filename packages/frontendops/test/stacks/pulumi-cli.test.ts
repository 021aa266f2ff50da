/**
 * The pulumi CLI source. The real CLI cannot be installed on this machine (no downloads), so a FAKE
 * `pulumi` executable — a small Node script — is placed first on PATH in a temp dir. It behaves as
 * `pulumi stack output --json` documents: without --show-secrets, secret values print as "[secret]";
 * an unknown stack exits 255 with "error: no stack named '<name>' found". It records its argv, so the
 * test proves no --show-secrets and no shell.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import { createPulumiCliSource } from '../../src/stacks/pulumi-cli.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/pulumi/stack-output.json');

const FAKE_PULUMI = `#!/usr/bin/env node
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_PULUMI_LOG, JSON.stringify(args) + '\\n');
const stack = args[args.indexOf('--stack') + 1];
if (args[0] !== 'stack' || args[1] !== 'output') { process.stderr.write('error: unexpected command\\n'); process.exit(1); }
if (stack === 'broken') { process.stderr.write('error: failed to decrypt: passphrase must be set\\n'); process.exit(255); }
if (stack !== 'dashboard-hosting-prod' && stack !== 'organization/dashboard-hosting/dashboard-hosting-prod') {
  process.stderr.write("error: no stack named '" + stack + "' found\\n"); process.exit(255);
}
process.stdout.write(fs.readFileSync(process.env.FAKE_PULUMI_OUTPUT, 'utf8'));
`;

let bin: string;
let log: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), 'frontendops-fake-pulumi-'));
  log = join(bin, 'argv.log');
  await writeFile(join(bin, 'pulumi'), FAKE_PULUMI);
  await chmod(join(bin, 'pulumi'), 0o755);
  await writeFile(log, '');
  env = {
    ...process.env,
    PATH: `${bin}${delimiter}${process.env.PATH}`,
    FAKE_PULUMI_LOG: log,
    FAKE_PULUMI_OUTPUT: FIXTURE,
  };
});
afterAll(() => rm(bin, { recursive: true, force: true }));

const calls = async () =>
  (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as string[]);

async function codeOf(promise: Promise<unknown>): Promise<FrontendOpsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrontendOpsError);
  return error as FrontendOpsError;
}

describe('pulumi CLI source (fake pulumi on PATH)', () => {
  it('runs `pulumi stack output --json --stack <name>` without --show-secrets; "[secret]" becomes a name', async () => {
    const outputs = await createPulumiCliSource({ env }).readOutputs('dashboard-hosting-prod');
    expect(outputs).toMatchObject({
      stack: 'dashboard-hosting-prod',
      source: 'pulumi cli',
      secretNames: ['deployRoleSecret'],
      outputs: {
        artifactsBucket: 'sophia-dashboard-build-artifacts',
        hostingBucket: 'sophia-dashboard-hosting-prod',
      },
    });
    expect(JSON.stringify(outputs)).not.toContain('[secret]');
    expect(resolveDeployTarget(outputs).distributionId).toBe('E2QWRUHAPOMQZL');
    const last = (await calls()).at(-1);
    expect(last).toEqual([
      'stack',
      'output',
      '--json',
      '--non-interactive',
      '--stack',
      'dashboard-hosting-prod',
    ]);
    expect(last).not.toContain('--show-secrets');
  });

  it('qualifies the stack with organization and project', async () => {
    const source = createPulumiCliSource({ env, organization: 'organization', project: 'dashboard-hosting' });
    await source.readOutputs('dashboard-hosting-prod');
    expect((await calls()).at(-1)).toContain('organization/dashboard-hosting/dashboard-hosting-prod');
  });

  it('an unknown stack is NOT_FOUND', async () => {
    const error = await codeOf(createPulumiCliSource({ env }).readOutputs('dashboard-hosting-dev'));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain('Nothing was created');
  });

  it('another CLI failure is UPSTREAM', async () => {
    expect((await codeOf(createPulumiCliSource({ env }).readOutputs('broken'))).code).toBe('UPSTREAM');
  });

  it('a stack name carrying shell syntax is refused before anything runs', async () => {
    const before = (await calls()).length;
    expect((await codeOf(createPulumiCliSource({ env }).readOutputs('prod;touch /tmp/pwned'))).code).toBe(
      'BAD_INPUT',
    );
    expect((await calls()).length).toBe(before);
  });

  it('no pulumi on PATH is BAD_INPUT saying how to fix it', async () => {
    const error = await codeOf(
      createPulumiCliSource({ env: { PATH: join(bin, 'empty') } }).readOutputs('prod'),
    );
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain('not on PATH');
  });
});
