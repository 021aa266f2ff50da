/**
 * The running local environment announces itself in `.frontendops/env.json` (readable by its owner
 * only: it holds the embedded server's key), so that commands run from a second terminal find it
 * without flags. Written by `frontendops dev`, removed when it stops.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { isAlive } from '../adapters/lock-holder.ts';
import { configurationError } from '../errors.ts';
import { type PrivateFileRead, readPrivateFile } from '../private-file.ts';

export const LOCAL_DIR = '.frontendops';

export const localEnvSchema = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  s3Endpoint: z.url(),
  /** The key the embedded S3 server accepts (made at start; it accepts nothing else). */
  credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }),
  buckets: z.object({ artifacts: z.string(), hosting: z.string() }),
  distributionId: z.string(),
  edgeUrl: z.url(),
  /** CloudFront-API-compatible endpoint of the local edge (invalidations). */
  cdnEndpoint: z.url(),
  /** Atomic releases: the local edge's KeyValueStore (its ARN, its API endpoint, its propagation delay). */
  releaseStore: z
    .object({ arn: z.string(), endpoint: z.url(), propagationMs: z.number().int().min(0) })
    .optional(),
  /** The console `dev` serves: its address, and its token (`frontendops console` asks it for sign-in addresses with it). */
  consoleUrl: z.url().optional(),
  consoleToken: z.string().optional(),
  dataDir: z.string(),
});

export type LocalEnv = z.infer<typeof localEnvSchema>;

export const localEnvFile = (cwd: string) => join(resolve(cwd), LOCAL_DIR, 'env.json');

/**
 * The running local environment, or null when none runs (a stale file of a dead process is ignored).
 * Only a file of the user's own, which no one else may read (mode 0600, as writeLocalEnv makes it), in
 * a folder no one else owns or may write (0700, as `dev` makes it), is believed (private-file.ts): it
 * says where the local environment's buckets and its console are, so another user who planted one
 * would have deploys sent to their server, and `frontendops console` print their address as the
 * console's. Any other is refused, in words saying what to do; so is one that cannot be opened
 * (whether a local environment runs is not known then).
 */
export async function findLocalEnv(cwd: string): Promise<LocalEnv | null> {
  const file = await readPrivateFile(localEnvFile(cwd), { ownDirectory: true });
  if (!('text' in file)) {
    if (file.problem === 'missing') return null;
    throw untrusted(file);
  }
  const { text } = file;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = localEnvSchema.safeParse(json);
  if (!parsed.success || !isAlive(parsed.data.pid)) return null;
  return parsed.data;
}

/**
 * Written aside, then renamed over env.json: owner-only whatever was there before (writeFile's mode
 * applies only to a file it creates, so an older env.json kept its mode), and a link planted at its
 * name is replaced rather than written through (the key and the console's token would go wherever it
 * points).
 */
export async function writeLocalEnv(cwd: string, env: LocalEnv): Promise<void> {
  const file = localEnvFile(cwd);
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(aside, `${JSON.stringify(env, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await rename(aside, file);
  } finally {
    await rm(aside, { force: true });
  }
}

const SHOWN = join(LOCAL_DIR, 'env.json');
const REMOVE_FILE = `remove it (\`rm ${SHOWN}\`); \`npm start\` (frontendops dev) writes a new one, yours alone, when it starts.`;
const REMOVE = `Nothing was done. If you did not write it, ${REMOVE_FILE}`;

const IN_FOLDER = `so ${SHOWN} in it is not believed: whoever can write the folder can replace it, and choose where the local environment and its console are (their own servers, say). Nothing was done.`;
const REMOVE_FOLDER = `remove it (\`rm -r ${LOCAL_DIR}\`: the local environment's buckets and their history are in it), and \`npm start\` (frontendops dev) makes a new one, yours alone`;

function untrusted(file: Exclude<PrivateFileRead, { text: string } | { problem: 'missing' }>) {
  switch (file.problem) {
    case 'unopened':
      return configurationError(
        `${SHOWN} could not be opened (${file.error.code ?? file.error.message}), so whether a local environment runs here is not known. Nothing was done. \`ls -l ${SHOWN}\` shows whose it is: if it is yours, \`chmod 600 ${SHOWN}\`; if not, ${REMOVE_FILE}`,
      );
    case 'open-directory':
      return configurationError(
        `${LOCAL_DIR} may be written by others than you (mode ${file.mode}), ${IN_FOLDER} If it is yours and no one else wrote in it, \`chmod 700 ${LOCAL_DIR}\`; if you are not sure, ${REMOVE_FOLDER}.`,
      );
    case 'foreign-directory':
      return configurationError(
        `${LOCAL_DIR} belongs to another user (uid ${file.uid}; you are uid ${file.me}), ${IN_FOLDER} Have its owner (or root) ${REMOVE_FOLDER}.`,
      );
    case 'shared':
      return configurationError(
        `${SHOWN} can be read by others than you (mode ${file.mode}), so it is not believed: it holds the local environment's key and its console's token, and names where they are, which anyone could have written. ${REMOVE} If it is yours and no one else could have changed it, \`chmod 600 ${SHOWN}\`.`,
      );
    case 'foreign':
      return configurationError(
        `${SHOWN} belongs to another user (uid ${file.uid}; you are uid ${file.me}), so it is not believed: whoever wrote it chose where the local environment and its console are (their own servers, say). ${REMOVE}`,
      );
    default:
      return configurationError(`${SHOWN} is not a file (${file.problem}). ${REMOVE}`);
  }
}

/** A fresh key for an embedded S3 server: it accepts requests signed with this and nothing else. */
export function createLocalCredentials(): LocalEnv['credentials'] {
  return {
    accessKeyId: `FOLOCAL${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(24).toString('base64url'),
  };
}
