/**
 * `frontendops approver init` and `approver show` with careless input: a name the configuration
 * would reject, a directory or an impossible place for the key, a key file others can read (as ssh
 * refuses one). Each is one clear error, exit 2, and nothing is created or used.
 */
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApproverKey, keyFingerprint, loadApproverKey } from '../../src/approval/keys.ts';
import { configSchema } from '../../src/config.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { cli } from '../support/run-cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-approver-init-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const env = { FRONTENDOPS_APPROVER_PASSPHRASE: '' };
const init = (args: string[]) => cli(['approver', 'init', ...args], { env, cwd: dir });

describe('approver init: the name', () => {
  it.each([
    ['Bob\nEvil', /"Bob\\nEvil"/],
    ['"; rm -rf', /"\\"; rm -rf"/],
    [' Ada', /" Ada"/],
    ['a'.repeat(65), /"a{65}"/],
  ])('%j is refused (exit 2) before a key is made', async (name, shown) => {
    const key = join(dir, `refused-${Math.random().toString(36).slice(2)}.pem`);
    const ran = await init(['--key', key, '--name', name]);
    expect(ran.code, ran.stderr).toBe(2);
    expect(ran.stderr).toMatch(/^error: Invalid --name /);
    expect(ran.stderr).toMatch(shown);
    expect(ran.stderr).toMatch(/letters, digits, spaces and \. _ @ ' -/);
    expect(ran.stderr).toMatch(/--name "Ada Lovelace"/);
    expect(ran.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(ran.stdout).toBe('');
    await expect(stat(key)).rejects.toThrow(/ENOENT/);
  });

  it.each(['Ada Lovelace', "Seán O'Brien", 'ops@example.com', '李雷'])(
    '%j makes a key and a config line the configuration accepts',
    async (name) => {
      const key = join(dir, `ok-${Math.random().toString(36).slice(2)}.pem`);
      const ran = await init(['--key', key, '--name', name]);
      expect(ran.code, ran.stderr).toBe(0);
      const line = /"approval": (\{ "approvers": .* \})$/m.exec(ran.stdout)?.[1];
      expect(line).toBeDefined();
      const config = configSchema.parse({ approval: JSON.parse(line as string) });
      expect(Object.keys(config.approval.approvers)).toEqual([name]);
      // The fingerprint history and `audit verify` name the key by, so the two can be matched.
      const publicKey = config.approval.approvers[name] as string;
      expect(ran.stdout).toContain(`name it by its fingerprint, ${keyFingerprint(publicKey)}.`);
      const show = await cli(['approver', 'show', '--key', key], { env, cwd: dir });
      expect(show.stdout).toBe(`${publicKey}\n`);
      expect(show.stderr).toContain(keyFingerprint(publicKey));
    },
  );
});

describe('approver init: where the key goes', () => {
  it('a key that exists is left as it is, and the command it names to show it works as given', async () => {
    const key = join(dir, 'exists.pem');
    expect((await init(['--key', key])).code).toBe(0);
    const again = await init(['--key', key]);
    expect(again.code).toBe(2);
    const named = /`frontendops (approver show --key \S+)`/.exec(again.stderr)?.[1];
    expect(named, again.stderr).toBe(`approver show --key ${key}`);
    const shown = await cli((named as string).split(' '), { env, cwd: dir });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^ed25519:/);
  });

  it('a directory is not a key file: it says so, and creates nothing in it', async () => {
    const existing = join(dir, 'keys-dir');
    await mkdir(existing);
    const ran = await init(['--key', existing]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(
      new RegExp(
        `^error: ${existing.replace(/[/\\.]/g, '\\$&')} is a directory: .*--key ${existing.replace(/[/\\.]/g, '\\$&')}/approver-key\\.pem`,
        'm',
      ),
    );
    expect(ran.stderr).not.toMatch(/already exists/);
    expect(await readdir(existing)).toEqual([]);
  });

  it('a parent that is a file is named', async () => {
    const ran = await init(['--key', join(dir, 'keys-dir-file.pem', 'key.pem')]);
    expect(ran.code).toBe(0);
    const under = await init(['--key', join(dir, 'keys-dir-file.pem', 'key.pem', 'nested.pem')]);
    expect(under.code).toBe(2);
    expect(under.stderr).toMatch(/key\.pem is not a directory/);
  });

  it.skipIf(process.platform !== 'linux')(
    'a directory that cannot be made (/proc/…) is a clear error, at once (Node 20’s recursive mkdir loops there)',
    async () => {
      const started = Date.now();
      const ran = await init(['--key', '/proc/frontendops-nope/deeper/key.pem']);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toMatch(
        /^error: Cannot create the directory \/proc\/frontendops-nope for the approver key/m,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    },
    10_000,
  );

  it('missing directories are made owner-only', async () => {
    const key = join(dir, 'new', 'deeper', 'key.pem');
    const ran = await init(['--key', key]);
    expect(ran.code, ran.stderr).toBe(0);
    expect((await stat(join(dir, 'new', 'deeper'))).mode & 0o777).toBe(0o700);
    expect((await stat(key)).mode & 0o777).toBe(0o600);
  });
});

describe.skipIf(process.platform === 'win32')('a key file others can read is not used (as ssh)', () => {
  it.each(['644', '640', '604', '660'])('mode %s: refused with "chmod 600 <file>", exit 2', async (octal) => {
    const mode = Number.parseInt(octal, 8);
    const key = join(dir, `open-${mode.toString(8)}.pem`);
    const publicKey = await createApproverKey(key, undefined);
    await chmod(key, mode);
    const show = await cli(['approver', 'show', '--key', key], { env, cwd: dir });
    expect(show.code).toBe(2);
    expect(show.stdout).toBe('');
    expect(show.stderr).toMatch(
      new RegExp(
        `^error: The approver key at ${key.replace(/[/\\.]/g, '\\$&')} can be read by others than you \\(mode 0${mode.toString(8)}\\)`,
        'm',
      ),
    );
    expect(show.stderr).toContain(`chmod 600 ${key}`);
    const error = await loadApproverKey(key, undefined).catch((e: unknown) => e);
    expect(isFrontendOpsError(error, 'BAD_INPUT')).toBe(true);
    // Made private again, it is used.
    await chmod(key, 0o600);
    const again = await cli(['approver', 'show', '--key', key], { env, cwd: dir });
    expect(again.stdout.trim()).toBe(publicKey);
  });

  // Giving a file to another user takes root: where the suite runs as root (CI does), this runs.
  it.skipIf(process.getuid?.() !== 0)('a key file another user owns is not used (as ssh)', async () => {
    const key = join(dir, 'theirs.pem');
    const publicKey = await createApproverKey(key, undefined);
    await chown(key, 65534, 65534);
    const show = await cli(['approver', 'show', '--key', key], { env, cwd: dir });
    expect(show.code, show.stderr).toBe(2);
    expect(show.stdout).toBe('');
    expect(show.stderr).toMatch(
      /^error: The approver key at .* belongs to another user \(uid 65534; you are uid 0\)/m,
    );
    expect(show.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    // Given back, it is used.
    await chown(key, 0, 0);
    const again = await cli(['approver', 'show', '--key', key], { env, cwd: dir });
    expect(again.stdout.trim()).toBe(publicKey);
  });

  it('a key under a passphrase is refused before the passphrase is asked for', async () => {
    const key = join(dir, 'open-encrypted.pem');
    await createApproverKey(key, 'secret words');
    await chmod(key, 0o644);
    const show = await cli(['approver', 'show', '--key', key], { env: {}, cwd: dir });
    expect(show.code).toBe(2);
    expect(show.stderr).toContain(`chmod 600 ${key}`);
    expect(show.stderr).not.toMatch(/passphrase/i);
  });

  it('a directory given as the key is named as one', async () => {
    const show = await cli(['approver', 'show', '--key', dir], { env, cwd: dir });
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(/is a directory, not an approver key/);
  });
});
