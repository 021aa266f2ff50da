/**
 * Deployment receipts: how the git server knows that a deployment it is asked to tag happened.
 *
 * The git server has no access to a stack's state, so on its own it would tag whatever a client
 * sends: a deploy id that never existed, or a true one with a made-up audit head (which makes
 * `audit verify` report a rewritten chain). The infra server, which made the deployment, returns with
 * it a receipt: `fr1.<claims>.<mac>` (mcp/sealed.ts), the claims (stack, deploy id, full commit, artifact digest,
 * audit head) in base64url JSON and an HMAC-SHA256 over them. `create_deploy_tag` takes the receipt
 * and tags what its claims say, nothing else.
 *
 * The key is the user's, shared by the two servers and never by a client: FRONTENDOPS_RECEIPT_KEY
 * when set (servers on different machines are given the same value), else a file in the user's
 * config directory (`frontendops/receipt-key`, mode 0600), made by whichever server needs it first.
 * A key file others can read or another user owns is not used (private-file.ts): whoever reads the key
 * can make receipts. The infra server loads the key before a change (context.ts receiptKeyUsable), so
 * such a file refuses the change before it starts rather than leave a release live that no receipt
 * vouches for. A server keeps the key it loaded for its life.
 * A client sees tool answers, not the user's files; a receipt replayed tags the same deployment again,
 * which returns the tag it already has.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { badInput, configurationError, FrontendOpsError } from '../errors.ts';
import { type PrivateFileRead, readPrivateFile, shownPath } from '../private-file.ts';
import { seal, unseal } from './sealed.ts';

export const RECEIPT_KEY_ENV = 'FRONTENDOPS_RECEIPT_KEY';
/** A key file's size: random bytes, written in base64url on one line. */
const KEY_BYTES = 32;
/** What to do about a key file that is not used, within a sentence and as one. */
const ANEW = `delete it (the next deploy makes a new one) and restart both MCP servers, or give both the same value in ${RECEIPT_KEY_ENV}`;
const DO_ANEW = `${ANEW.charAt(0).toUpperCase()}${ANEW.slice(1)}.`;
const PREFIX = 'fr1';

const claimsSchema = z.object({
  stack: z.string(),
  deployId: z.string(),
  commit: z.string(),
  artifactDigest: z.string(),
  /** "<seq>:<hash>", or null when the change left no head to anchor. */
  auditHead: z.string().nullable(),
  /** A rollback: the commit it took down (null: none), so its tag says it is one. Absent for a deploy. */
  rollback: z.object({ from: z.string().nullable() }).optional(),
});
export type ReceiptClaims = z.infer<typeof claimsSchema>;

/** Where the receipt key is kept when FRONTENDOPS_RECEIPT_KEY is not set. */
export function receiptKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'frontendops', 'receipt-key');
}

/**
 * The user's receipt key: FRONTENDOPS_RECEIPT_KEY, else the key file, made when missing. Two servers
 * starting at once make it once: each writes a file of its own and links it into place, and the one
 * that finds the name taken reads the other's.
 */
export async function loadReceiptKey(env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  const given = env[RECEIPT_KEY_ENV];
  if (given !== undefined) {
    if (given.length < 32) {
      throw configurationError(
        `${RECEIPT_KEY_ENV} is too short (${given.length} characters): give both MCP servers the same random value of at least 32 characters, or unset it to use the key file in your config directory.`,
      );
    }
    return Buffer.from(given, 'utf8');
  }
  const path = receiptKeyPath(env);
  const shown = shownPath(path, env.HOME || homedir());
  const read = async () => {
    const file = await readPrivateFile(path, { noLinks: true, ownDirectory: true });
    if ('text' in file) {
      const key = Buffer.from(file.text.trim(), 'base64url');
      // What this function writes: anything else (empty, short, a file someone put there) is no key.
      if (key.length !== KEY_BYTES || key.toString('base64url') !== file.text.trim()) {
        throw configurationError(
          `The receipt key at ${shown} is not one FrontendOps made (expected ${KEY_BYTES} random bytes in base64url, one line). It was not used, and nothing was changed. ${DO_ANEW}`,
        );
      }
      return key;
    }
    if (file.problem === 'missing') return null;
    if (file.problem === 'unopened') throw file.error;
    throw unusableKeyFile(file, shown);
  };
  const found = await read();
  if (found) return found;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(aside, `${randomBytes(KEY_BYTES).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(aside, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(aside, { force: true });
  }
  const made = await read();
  if (!made) throw new FrontendOpsError('INTERNAL', `The receipt key at ${path} was made, then not found.`);
  return made;
}

/**
 * Why a receipt key file is not used (private-file.ts): whoever reads the key can make receipts, so
 * have the git server tag a deployment that never happened; whoever owns the file can replace it.
 * Said to an MCP client too (it is why a change was refused), so the path is shown from `~`.
 */
function unusableKeyFile(
  file: Exclude<PrivateFileRead, { text: string } | { problem: 'missing' } | { problem: 'unopened' }>,
  path: string,
) {
  const directory = (whose: string) =>
    configurationError(
      `The directory of the receipt key at ${path} ${whose}: whoever can write it can put a key of theirs in its place. It was not used, and nothing was changed. Make the directory yours alone (\`chmod 700\`, or a directory of your own in XDG_CONFIG_HOME), then ${ANEW}.`,
    );
  switch (file.problem) {
    case 'open-directory':
      return directory(`can be written by others than you (mode ${file.mode})`);
    case 'foreign-directory':
      return directory(`belongs to another user (uid ${file.uid}; you are uid ${file.me})`);
    case 'link':
      return configurationError(
        `The receipt key at ${path} is a symbolic link: FrontendOps reads only the key file it made, which a link could point away from. It was not used, and nothing was changed. ${DO_ANEW}`,
      );
    case 'shared':
      return configurationError(
        `The receipt key at ${path} can be read by others than you (mode ${file.mode}): whoever reads it can make receipts, and so have the git server tag a deployment that never happened. It was not used, and nothing was changed. Run \`chmod 600 ${path}\` and try again; if others may have read it, ${ANEW}.`,
      );
    case 'foreign':
      return configurationError(
        `The receipt key at ${path} belongs to another user (uid ${file.uid}; you are uid ${file.me}): whoever owns the file can replace the key. It was not used, and nothing was changed. ${DO_ANEW}`,
      );
    default:
      return configurationError(
        `The receipt key at ${path} is not a file (${file.problem === 'directory' ? 'a directory' : 'a pipe, socket or device'}). Nothing was changed. Remove it: the next deploy makes a key there, or give both MCP servers the same value in ${RECEIPT_KEY_ENV}.`,
      );
  }
}

/** loadReceiptKey, once per server: later calls get the first one's key (a failed load is tried again). */
export function receiptKeyOnce(env: NodeJS.ProcessEnv = process.env): () => Promise<Buffer> {
  let loaded: Promise<Buffer> | undefined;
  return () => {
    loaded ??= loadReceiptKey(env).catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}

/** The receipt of a finished deployment. */
export const issueReceipt = (key: Buffer, claims: ReceiptClaims): string =>
  seal(key, PREFIX, claimsSchema.parse(claims));

/** The claims of a receipt the infra server issued with this key; BAD_INPUT, saying what to do, otherwise. */
export function verifyReceipt(key: Buffer, receipt: string): ReceiptClaims {
  const refuse = (why: string) =>
    badInput(
      `The receipt ${why}. A deploy tag is made only for a deployment the infra server vouches for: pass the receipt its answer carried when the deployment finished (invalidate_cdn, rollback, promote_release or promote_canary), unchanged. Nothing was created.`,
    );
  const opened = unseal(key, PREFIX, receipt);
  if (opened === 'malformed') throw refuse(`is malformed (expected "${PREFIX}.<claims>.<signature>")`);
  if (opened === 'forged') {
    throw refuse(
      `is not one the infra server issued with this user's key (it was altered, or the servers do not share ${RECEIPT_KEY_ENV} or the key file)`,
    );
  }
  const parsed = claimsSchema.safeParse(opened.claims);
  if (!parsed.success) throw refuse('is malformed: its claims cannot be read');
  return parsed.data;
}
