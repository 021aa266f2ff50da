/**
 * Approver keys: Ed25519 key pairs (node:crypto, no library needed). The private key lives with the
 * person who approves — a PKCS#8 PEM file, mode 0600, optionally encrypted with a passphrase — and
 * never with the agent, its MCP servers or the state bucket. The configuration lists public keys as
 * `ed25519:<base64url of the 32 raw bytes>`; a signature over the canonical JSON of an approval is
 * what a server accepts as that person's decision.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import canonicalize from 'canonicalize';
import { APPROVER_PUBLIC_KEY } from '../engine/ids.ts';
import { badInput, FrontendOpsError } from '../errors.ts';

export const KEY_ENV = 'FRONTENDOPS_APPROVER_KEY';
export const PASSPHRASE_ENV = 'FRONTENDOPS_APPROVER_PASSPHRASE';

/** Where this person's approver key is kept: $FRONTENDOPS_APPROVER_KEY, else the user's config directory. */
export function approverKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env[KEY_ENV]) return env[KEY_ENV];
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'frontendops', 'approver-key.pem');
}

/** Creates a key pair at `path` (never overwriting one) and returns the public key for the config. */
export async function createApproverKey(path: string, passphrase: string | undefined): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({
    type: 'pkcs8',
    format: 'pem',
    ...(passphrase ? { cipher: 'aes-256-cbc', passphrase } : {}),
  });
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, pem, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw badInput(
        `An approver key already exists at ${path}; it was left as it is. Print its public key with \`frontendops approver show\`, or pass --key <file> to create another.`,
      );
    }
    throw error;
  }
  await chmod(path, 0o600);
  return encodePublicKey(publicKey);
}

/** Loads the private key; a wrong or missing passphrase is a clear error, not a crypto trace. */
export async function loadApproverKey(path: string, passphrase: string | undefined): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch {
    throw badInput(
      `No approver key at ${path}. Create one with \`frontendops approver init\` and add its public key to the stack's "approval.approvers" in frontendops.config.json.`,
    );
  }
  try {
    const key = createPrivateKey({ key: pem, format: 'pem', ...(passphrase ? { passphrase } : {}) });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return key;
  } catch {
    throw badInput(
      pem.includes('ENCRYPTED')
        ? `The approver key at ${path} is protected by a passphrase, and the one given does not open it. Type it again, or set ${PASSPHRASE_ENV}.`
        : `${path} is not an Ed25519 approver key. Create one with \`frontendops approver init --key <file>\`.`,
    );
  }
}

export const isEncryptedKey = async (path: string) => (await readFile(path, 'utf8')).includes('ENCRYPTED');

export function encodePublicKey(key: KeyObject): string {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  return `ed25519:${jwk.x}`;
}

export function decodePublicKey(text: string): KeyObject {
  if (!APPROVER_PUBLIC_KEY.test(text)) {
    throw badInput(
      `"${text.slice(0, 60)}" is not an approver public key: expected ed25519:<43 base64url characters>.`,
    );
  }
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: text.slice('ed25519:'.length) },
    format: 'jwk',
  });
}

/** A short, stable name for a public key, recorded as who signed. */
export const keyFingerprint = (publicKey: string) =>
  `ed25519:${createHash('sha256').update(publicKey).digest('hex').slice(0, 16)}`;

export function signStatement(key: KeyObject, statement: object): string {
  return sign(null, Buffer.from(canonical(statement)), key).toString('base64url');
}

export function verifyStatement(publicKey: string, statement: object, signature: string): boolean {
  try {
    return verify(
      null,
      Buffer.from(canonical(statement)),
      decodePublicKey(publicKey),
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    return false;
  }
}

function canonical(statement: object): string {
  const text = canonicalize(statement);
  if (text === undefined)
    throw new FrontendOpsError('INTERNAL', 'An approval statement could not be serialised.');
  return text;
}
