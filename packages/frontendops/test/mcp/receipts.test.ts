/**
 * The receipt key two MCP servers share, and the receipts the infra server signs with it: made once
 * in the user's config directory (readable by the user alone) when no key is given, the same for
 * servers that start together, and a receipt changed in any claim is refused.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  issueReceipt,
  loadReceiptKey,
  RECEIPT_KEY_ENV,
  receiptKeyOnce,
  receiptKeyPath,
  verifyReceipt,
} from '../../src/mcp/receipts.ts';

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'frontendops-receipts-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));

const CLAIMS = {
  stack: 'prod',
  deployId: '3f2c1a9-0123456789',
  commit: '3f2c1a9'.padEnd(40, '0'),
  artifactDigest: `sha256:${'cd'.repeat(32)}`,
  auditHead: `12:sha256:${'ab'.repeat(32)}`,
};

describe('the receipt key', () => {
  it('is made once, for the user alone, and servers starting together get the same one', async () => {
    const env = { XDG_CONFIG_HOME: home };
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadReceiptKey(env)));
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(1);
    expect(keys[0]?.length).toBe(32);
    const path = receiptKeyPath(env);
    expect(path).toBe(join(home, 'frontendops', 'receipt-key'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'frontendops'))).mode & 0o077).toBe(0);
    expect((await loadReceiptKey(env)).equals(keys[0] as Buffer)).toBe(true);
    expect((await readFile(path, 'utf8')).trim()).toBe(keys[0]?.toString('base64url'));
  });

  it(`${RECEIPT_KEY_ENV} wins, and a short one is refused with what to do`, async () => {
    const given = 'a'.repeat(40);
    expect((await loadReceiptKey({ XDG_CONFIG_HOME: home, [RECEIPT_KEY_ENV]: given })).toString()).toBe(
      given,
    );
    await expect(loadReceiptKey({ [RECEIPT_KEY_ENV]: 'short' })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/too short.*same random value of at least 32 characters/),
    });
  });
});

describe('receiptKeyOnce', () => {
  it('loads once for every call, and tries again after a failed load', async () => {
    const env: NodeJS.ProcessEnv = { XDG_CONFIG_HOME: '/dev/null/nowhere' };
    const key = receiptKeyOnce(env);
    await expect(key()).rejects.toThrow();
    env.XDG_CONFIG_HOME = home;
    const [a, b] = await Promise.all([key(), key()]);
    expect(a).toBe(b);
    expect(a.equals(await loadReceiptKey({ XDG_CONFIG_HOME: home }))).toBe(true);
  });
});

describe('a receipt', () => {
  it('gives back its claims with the key that signed it, and nothing with another key or an edit', () => {
    const key = Buffer.alloc(32, 1);
    const receipt = issueReceipt(key, CLAIMS);
    expect(verifyReceipt(key, receipt)).toEqual(CLAIMS);
    expect(() => verifyReceipt(Buffer.alloc(32, 2), receipt)).toThrow(/not one the infra server issued/);
    const [prefix, , signature] = receipt.split('.');
    for (const claim of Object.keys(CLAIMS)) {
      const edited = Buffer.from(
        JSON.stringify({ ...CLAIMS, [claim]: `${CLAIMS[claim as keyof typeof CLAIMS]}x` }),
      );
      expect(
        () => verifyReceipt(key, `${prefix}.${edited.toString('base64url')}.${signature}`),
        claim,
      ).toThrow(/not one the infra server issued/);
    }
    expect(() => verifyReceipt(key, 'garbage')).toThrow(/malformed/);
  });
});
