/**
 * Approver keys: made by `frontendops approver init`, kept by their person (mode 0600, optionally
 * under a passphrase), never overwritten; a signature verifies only with its own public key and
 * only over the very statement signed.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApproverKey,
  encodePublicKey,
  keyFingerprint,
  loadApproverKey,
  signStatement,
  verifyStatement,
} from '../../src/approval/keys.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { cli } from '../support/run-cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-approver-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('approver keys', () => {
  it('are created owner-only, never overwritten, and open only with their passphrase', async () => {
    const path = join(dir, 'ada.pem');
    const publicKey = await createApproverKey(path, 'correct horse');
    expect(publicKey).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await expect(createApproverKey(path, undefined)).rejects.toThrow(/already exists .* left as it is/);
    const wrong = await loadApproverKey(path, 'wrong').catch((e) => e);
    expect(isFrontendOpsError(wrong, 'BAD_INPUT')).toBe(true);
    expect(wrong.message).toMatch(/protected by a passphrase, and the one given does not open it/);
    expect(encodePublicKey(await loadApproverKey(path, 'correct horse'))).toBe(publicKey);
    expect(keyFingerprint(publicKey)).toMatch(/^ed25519:[0-9a-f]{16}$/);
  });

  it('sign a statement that verifies with their public key only, and only unchanged', async () => {
    const [a, b] = ['a.pem', 'b.pem'].map((name) => join(dir, name));
    const [keyA, keyB] = [
      await createApproverKey(a as string, undefined),
      await createApproverKey(b as string, undefined),
    ];
    const statement = { deployId: '3f2c1a9-0123456789', action: 'deploy', nonce: 'n'.repeat(22) };
    const signature = signStatement(await loadApproverKey(a as string, undefined), statement);
    expect(verifyStatement(keyA, statement, signature)).toBe(true);
    // Key order does not matter (canonical JSON); content does.
    expect(
      verifyStatement(
        keyA,
        { nonce: statement.nonce, action: 'deploy', deployId: statement.deployId },
        signature,
      ),
    ).toBe(true);
    expect(verifyStatement(keyA, { ...statement, action: 'rollback' }, signature)).toBe(false);
    expect(verifyStatement(keyB, statement, signature)).toBe(false);
    expect(verifyStatement(keyA, statement, 'not-a-signature')).toBe(false);
    expect(verifyStatement('ed25519:short', statement, signature)).toBe(false);
  });

  it('`frontendops approver init` prints the line to list, and `approver show` the same key', async () => {
    const key = join(dir, 'cli.pem');
    const env = { FRONTENDOPS_APPROVER_PASSPHRASE: 'pass phrase' };
    const init = await cli(['approver', 'init', '--key', key, '--name', 'Ada Lovelace'], { env, cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    const listed = /"Ada Lovelace": "(ed25519:[A-Za-z0-9_-]{43})"/.exec(init.stdout)?.[1];
    expect(listed).toBeDefined();
    expect(init.stdout).toMatch(/passphrase-protected/);
    const show = await cli(['approver', 'show', '--key', key], { env, cwd: dir });
    expect(show.stdout.trim()).toBe(listed);
    const again = await cli(['approver', 'init', '--key', key], { env, cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    expect(again.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
