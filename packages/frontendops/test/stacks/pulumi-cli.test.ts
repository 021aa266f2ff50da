/**
 * The pulumi CLI source: the StackSource contract (test/support/contracts/stack-source.ts), and what
 * only this source does — the command line it runs. The real CLI cannot be installed on this machine
 * (no downloads), so a FAKE `pulumi` executable — a small Node script — is placed first on PATH in a
 * temp dir. It behaves as `pulumi stack output --json` documents: without --show-secrets, secret values
 * print as "[secret]"; an unknown stack exits 255 with "error: no stack named '<name>' found"; a token
 * Pulumi Cloud refuses exits 255 with its 401. It records its argv, so the test proves no
 * --show-secrets and no shell.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import { createPulumiCliSource } from '../../src/stacks/pulumi-cli.ts';
import { stackSourceContract } from '../support/contracts/stack-source.ts';
import { DASHBOARD_PROD_OUTPUTS } from '../support/pulumi-outputs.ts';
import { opsRefusal } from '../support/refusal.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/pulumi/stack-output.json');
const TOKEN = 'pul-cli-0123456789abcdef0123456789abcdef';

const FAKE_PULUMI = `#!/usr/bin/env node
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_PULUMI_LOG, JSON.stringify(args) + '\\n');
const stack = args[args.indexOf('--stack') + 1];
if (args[0] !== 'stack' || args[1] !== 'output') { process.stderr.write('error: unexpected command\\n'); process.exit(1); }
if (process.env.PULUMI_ACCESS_TOKEN !== process.env.FAKE_PULUMI_TOKEN) {
  process.stderr.write('error: [401] Unauthorized: No credentials provided or are invalid.\\n'); process.exit(255);
}
if (stack === 'broken') { process.stderr.write('error: failed to decrypt: passphrase must be set\\n'); process.exit(255); }
if (stack !== 'dashboard-hosting-prod' && stack !== 'organization/dashboard-hosting/dashboard-hosting-prod') {
  process.stderr.write("error: no stack named '" + stack + "' found\\n"); process.exit(255);
}
process.stdout.write(fs.readFileSync(process.env.FAKE_PULUMI_OUTPUT, 'utf8'));
`;

interface FakePulumi {
  bin: string;
  env: NodeJS.ProcessEnv;
  /** Every argv the fake was run with, oldest first. */
  calls(): Promise<string[][]>;
  cleanup(): Promise<void>;
}

async function installFakePulumi(): Promise<FakePulumi> {
  const bin = await mkdtemp(join(tmpdir(), 'frontendops-fake-pulumi-'));
  const log = join(bin, 'argv.log');
  await writeFile(join(bin, 'pulumi'), FAKE_PULUMI);
  await chmod(join(bin, 'pulumi'), 0o755);
  await writeFile(log, '');
  return {
    bin,
    env: {
      ...process.env,
      PATH: `${bin}${delimiter}${process.env.PATH}`,
      PULUMI_ACCESS_TOKEN: TOKEN,
      FAKE_PULUMI_TOKEN: TOKEN,
      FAKE_PULUMI_LOG: log,
      FAKE_PULUMI_OUTPUT: FIXTURE,
    },
    calls: async () =>
      (await readFile(log, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as string[]),
    cleanup: () => rm(bin, { recursive: true, force: true }),
  };
}

stackSourceContract(
  'pulumi CLI (a fake pulumi on PATH)',
  async () => {
    const fake = await installFakePulumi();
    return {
      source: createPulumiCliSource({ env: fake.env }),
      stack: 'dashboard-hosting-prod',
      expected: {
        outputs: DASHBOARD_PROD_OUTPUTS,
        secretNames: ['deployRoleSecret'],
      },
      secretValues: ['[secret]'],
      credentials: [TOKEN],
      unknownStack: 'dashboard-hosting-dev',
      // `stack output` only reads: any other command (init, select, rm, up) could change a stack.
      backendState: async () =>
        (await fake.calls()).filter(
          (argv) => argv[0] !== 'stack' || argv[1] !== 'output' || argv.includes('--show-secrets'),
        ),
      malformed: [
        {
          what: 'an organization that is not a Pulumi name',
          open: () =>
            createPulumiCliSource({ env: fake.env, organization: 'a/b', project: 'dashboard-hosting' }),
        },
        {
          what: 'no pulumi on PATH',
          open: () => createPulumiCliSource({ env: { PATH: join(fake.bin, 'empty') } }),
        },
      ],
      wrongCredential: {
        credential: 'pul-cli-wrong-token',
        open: () =>
          createPulumiCliSource({ env: { ...fake.env, PULUMI_ACCESS_TOKEN: 'pul-cli-wrong-token' } }),
      },
      cleanup: fake.cleanup,
    };
  },
  { checksStackNames: true, canBeMalformed: true, takesCredential: true },
);

let fake: FakePulumi;
beforeAll(async () => {
  fake = await installFakePulumi();
});
afterAll(() => fake?.cleanup());

describe('pulumi CLI source (fake pulumi on PATH)', () => {
  it('runs `pulumi stack output --json --stack <name>` without --show-secrets; its outputs make a target', async () => {
    const outputs = await createPulumiCliSource({ env: fake.env }).readOutputs('dashboard-hosting-prod');
    expect(outputs.source).toBe('pulumi cli');
    expect(resolveDeployTarget(outputs).distributionId).toBe('E2QWRUHAPOMQZL');
    const last = (await fake.calls()).at(-1);
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
    const source = createPulumiCliSource({
      env: fake.env,
      organization: 'organization',
      project: 'dashboard-hosting',
    });
    await source.readOutputs('dashboard-hosting-prod');
    expect((await fake.calls()).at(-1)).toContain('organization/dashboard-hosting/dashboard-hosting-prod');
  });

  it('another CLI failure is UPSTREAM', async () => {
    expect((await opsRefusal(createPulumiCliSource({ env: fake.env }).readOutputs('broken'))).code).toBe(
      'UPSTREAM',
    );
  });

  it('a stack name carrying shell syntax is refused before anything runs', async () => {
    const before = (await fake.calls()).length;
    expect(
      (await opsRefusal(createPulumiCliSource({ env: fake.env }).readOutputs('prod;touch /tmp/pwned'))).code,
    ).toBe('BAD_INPUT');
    expect((await fake.calls()).length).toBe(before);
  });

  it('a Pulumi project file of the repository naming its own backend is refused before pulumi runs, however it is spelt, unless PULUMI_BACKEND_URL decides', async () => {
    // The CLI sends PULUMI_ACCESS_TOKEN to the backend the project file names (Pulumi.yaml
    // `backend: url:`), unless PULUMI_BACKEND_URL is set: whoever changes the repository's files
    // would choose where the job's token goes.
    const project = await mkdtemp(join(tmpdir(), 'frontendops-pulumi-project-'));
    try {
      const nested = join(project, 'site');
      await mkdir(nested);
      const before = (await fake.calls()).length;
      const names =
        /names a Pulumi backend of its own \(its top-level "backend"\): the pulumi CLI would send PULUMI_ACCESS_TOKEN there\./;
      const hides =
        /uses an alias, a merge key \("<<"\) or a tag at its top level, which could name a backend/;
      for (const [name, text, why] of [
        [
          'Pulumi.yaml',
          'name: dashboard-hosting\nruntime: nodejs\nbackend:\n  url: https://pulumi.evil.example\n',
          names,
        ],
        [
          'Pulumi.yml',
          '{name: dashboard-hosting, runtime: nodejs, "Backend": {url: "https://x.example"}}',
          names,
        ],
        // The CLI reads a .json file's keys without regard to case (Go's encoding/json): K is the Kelvin sign.
        ['Pulumi.json', '{"name": "dashboard-hosting", "bac\u212Aend": {"url": "https://x"}}', names],
        ['Pulumi.json', '{"name": "dashboard-hosting", "b\\u0061ckend": {"url": "https://x"}}', names],
        ['Pulumi.yaml', '\uFEFFname: dashboard-hosting\n"b\\x61ckend": {url: https://x}\n', names],
        ['Pulumi.yaml', 'name: dashboard-hosting\n? backend\n: {url: https://x}\n', names],
        ['Pulumi.yaml', 'name: dashboard-hosting\n&key backend: {url: https://x}\n', names],
        // What could name a backend without spelling it out: a merge key, an alias, a tag.
        [
          'Pulumi.yaml',
          'name: dashboard-hosting\nbase: &base {backend: {url: https://x}}\n<<: *base\n',
          hides,
        ],
        ['Pulumi.yaml', '%YAML 1.1\n---\nname: dashboard-hosting\n<<: {backend: {url: https://x}}\n', hides],
        ['Pulumi.yaml', 'description: &word backend\n*word : {url: https://x}\n', hides],
        ['Pulumi.yaml', 'name: dashboard-hosting\n!!binary YmFja2VuZA== : {url: https://x}\n', hides],
        [
          'Pulumi.yaml',
          'name: dashboard-hosting\nbackend: [\n',
          /is not valid YAML \(.+ at line 3, column 1\)/,
        ],
        ['Pulumi.yaml', 'name: dashboard-hosting\n---\nbackend: {url: https://x}\n', /is not valid YAML/],
        ['Pulumi.yaml', Buffer.from('\uFEFFbackend:\n  url: https://x\n', 'utf16le'), /is not UTF-8 text/],
        [
          'Pulumi.yaml',
          `name: dashboard-hosting\nx: ${'- '.repeat(300_000)}1\n`,
          /nests more than 200 levels deep/,
        ],
        [
          'Pulumi.yaml',
          `name: dashboard-hosting\nx: ${'['.repeat(300_000)}\n`,
          /nests more than 200 levels deep/,
        ],
        ['Pulumi.yaml', `description: "${'x'.repeat(1024 * 1024)}"\n`, /is larger than 1 MiB/],
        ['Pulumi.yaml', null, /is a directory, not a regular file/],
      ] as const) {
        if (text === null) await mkdir(join(project, name));
        else await writeFile(join(project, name), text);
        const error = await opsRefusal(
          createPulumiCliSource({ env: fake.env, cwd: nested }).readOutputs('dashboard-hosting-prod'),
        );
        expect(error.code).toBe('BAD_INPUT');
        // Named from the working directory (one above it here), never by its local path.
        expect(error.message).toContain(`The Pulumi project file ${join('..', name)} `);
        expect(error.message).not.toContain(project);
        expect(error.message).toMatch(why);
        expect(error.message).toMatch(/Nothing was run: set PULUMI_BACKEND_URL to the backend/);
        await rm(join(project, name), { recursive: true });
      }
      expect((await fake.calls()).length).toBe(before);
      // PULUMI_BACKEND_URL decides over the project file, as the CLI reads it; a file naming no backend is run in.
      await writeFile(join(project, 'Pulumi.yaml'), 'name: dashboard-hosting\nbackend:\n  url: https://x\n');
      const decided = createPulumiCliSource({
        env: { ...fake.env, PULUMI_BACKEND_URL: 'https://api.pulumi.com' },
        cwd: nested,
      });
      expect((await decided.readOutputs('dashboard-hosting-prod')).source).toBe('pulumi cli');
      await writeFile(join(project, 'Pulumi.yaml'), 'name: dashboard-hosting\nruntime: nodejs\n');
      const plain = createPulumiCliSource({ env: fake.env, cwd: nested });
      expect((await plain.readOutputs('dashboard-hosting-prod')).source).toBe('pulumi cli');
      expect((await fake.calls()).length).toBe(before + 2);
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  });

  it('a Pulumi project file that names no backend at its top level is run in, whatever its words', async () => {
    // Only a top-level "backend" is the CLI's: the word in a description, a config key or a
    // value, a "!" or a backslash in a string, an alias or a tag below the top level name none.
    const project = await mkdtemp(join(tmpdir(), 'frontendops-pulumi-project-'));
    try {
      const before = (await fake.calls()).length;
      for (const [name, text] of [
        [
          'Pulumi.yaml',
          [
            'name: dashboard-hosting',
            'runtime: nodejs',
            "description: The dashboard's hosting; its state is in the backend PULUMI_BACKEND_URL names!",
            'main: src\\index.ts',
            'config:',
            '  dashboard:backend: &api "https://api.example\\/v1"',
            '  dashboard:mirror: *api',
            '  dashboard:tags: !!seq [backend]',
            '',
          ].join('\n'),
        ],
        [
          'Pulumi.json',
          '{"name": "dashboard-hosting", "description": "Backend-free \\"hosting\\"", "runtime": "nodejs"}',
        ],
      ] as const) {
        await writeFile(join(project, name), text);
        const source = createPulumiCliSource({ env: fake.env, cwd: project });
        expect((await source.readOutputs('dashboard-hosting-prod')).source).toBe('pulumi cli');
        await rm(join(project, name));
      }
      expect((await fake.calls()).length).toBe(before + 2);
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  });

  it('no pulumi on PATH is BAD_INPUT saying how to fix it', async () => {
    const error = await opsRefusal(
      createPulumiCliSource({ env: { PATH: join(fake.bin, 'empty') } }).readOutputs('prod'),
    );
    expect(error.message).toContain('not on PATH');
  });
});
