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
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import canonicalize from 'canonicalize';
import { APPROVER_PUBLIC_KEY } from '../engine/ids.ts';
import { badInput, FrontendOpsError } from '../errors.ts';
import { readPrivateFile } from '../private-file.ts';

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
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) {
    throw badInput(
      `${path} is a directory: --key names the key file to create, e.g. --key ${join(path, 'approver-key.pem')}. Nothing was created.`,
    );
  }
  if (existing) throw alreadyExists(path);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({
    type: 'pkcs8',
    format: 'pem',
    ...(passphrase ? { cipher: 'aes-256-cbc', passphrase } : {}),
  });
  await makeDirectories(dirname(resolve(path)));
  try {
    await writeFile(path, pem, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw alreadyExists(path);
    throw badInput(
      `Cannot create the approver key ${path} (${code ?? (error as Error).message}). Pass --key <file> in a directory you can write.`,
    );
  }
  await chmod(path, 0o600);
  return encodePublicKey(publicKey);
}

const alreadyExists = (path: string) =>
  badInput(
    `An approver key already exists at ${path}; it was left as it is. Print its public key with \`frontendops approver show --key ${path}\`, or pass --key <file> to create another.`,
  );

/**
 * `mkdir -p` for the key's directory, each new directory owner-only. One level at a time: Node 20's
 * recursive mkdir loops forever where a directory cannot be made and its parent exists (/proc/x).
 */
async function makeDirectories(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    const info = await stat(at).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw badInput(
        `Cannot use ${at} for the approver key (${error.code ?? error.message}). Pass --key <file> in a directory you can write.`,
      );
    });
    if (info) {
      if (!info.isDirectory()) {
        throw badInput(
          `${at} is not a directory, so the approver key cannot go under it. Pass --key <file> in a directory. Nothing was created.`,
        );
      }
      break;
    }
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  for (const at of missing) {
    await mkdir(at, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return;
      throw badInput(
        `Cannot create the directory ${at} for the approver key (${error.code ?? error.message}). Pass --key <file> in a directory you can write.`,
      );
    });
  }
}

/**
 * Loads the private key; a wrong or missing passphrase is a clear error, not a crypto trace. As ssh,
 * a key file that others than its owner may read (group or other permission bits, POSIX) is not
 * used: whoever can read it can approve as its person. The passphrase, when given as a function, is
 * asked for only once the file is found to be a private, encrypted key.
 */
export async function loadApproverKey(
  path: string,
  passphrase: string | undefined | (() => Promise<string | undefined>),
): Promise<KeyObject> {
  const pem = await readKeyFile(path);
  const secret =
    typeof passphrase === 'function'
      ? pem.includes('ENCRYPTED')
        ? await passphrase()
        : undefined
      : passphrase;
  try {
    const key = createPrivateKey({ key: pem, format: 'pem', ...(secret ? { passphrase: secret } : {}) });
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

/** The key file's text, once it is known to be a file only its owner can read and replace (private-file.ts). */
async function readKeyFile(path: string): Promise<string> {
  const missing = () =>
    badInput(
      `No approver key at ${path}. Create one with \`frontendops approver init\` and add its public key to the stack's "approval.approvers" in frontendops.config.json.`,
    );
  const read = await readPrivateFile(path);
  if ('text' in read) return read.text;
  switch (read.problem) {
    case 'directory':
      throw badInput(
        `${path} is a directory, not an approver key. Pass the key file itself: --key <file> (default: $${KEY_ENV}, else ~/.config/frontendops/approver-key.pem).`,
      );
    case 'shared':
      throw badInput(
        `The approver key at ${path} can be read by others than you (mode ${read.mode}): a private key must be yours alone, since whoever reads it can approve as you. It was not used. Run \`chmod 600 ${path}\` and try again; if others may have read it, create a new key (frontendops approver init) and replace its public key in frontendops.config.json.`,
      );
    case 'foreign':
      throw badInput(
        `The approver key at ${path} belongs to another user (uid ${read.uid}; you are uid ${read.me}): whoever owns the file can replace the key. It was not used. Use a key of your own (frontendops approver init), or have the file given to you (chown).`,
      );
    default:
      throw missing();
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
