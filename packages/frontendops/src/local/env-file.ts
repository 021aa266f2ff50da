/**
 * The running local environment announces itself in `.frontendops/env.json`, so that commands run
 * from a second terminal find it without flags. Written by `frontendops dev`, removed when it stops.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { isAlive } from '../state/lock-holder.ts';

export const LOCAL_DIR = '.frontendops';

/** The embedded S3 server's fixed, non-secret credentials (it accepts only these). */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export const localEnvSchema = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  /** The stack the local environment plays, e.g. dashboard-hosting-prod. */
  stack: z.string(),
  /** Path of the stack outputs JSON file the local environment wrote. */
  outputsFile: z.string(),
  s3Endpoint: z.string().url(),
  edgeUrl: z.string().url(),
  /** CloudFront-API-compatible endpoint of the local edge (invalidations). */
  cdnEndpoint: z.string().url(),
  consoleUrl: z.string().url().optional(),
  dataDir: z.string(),
});

export type LocalEnv = z.infer<typeof localEnvSchema>;

export const localEnvFile = (cwd: string) => join(resolve(cwd), LOCAL_DIR, 'env.json');

/** The running local environment, or null when none runs (a stale file of a dead process is ignored). */
export async function findLocalEnv(cwd: string = process.cwd()): Promise<LocalEnv | null> {
  let text: string;
  try {
    text = await readFile(localEnvFile(cwd), 'utf8');
  } catch {
    return null;
  }
  const parsed = localEnvSchema.safeParse(JSON.parse(text));
  if (!parsed.success || !isAlive(parsed.data.pid)) return null;
  return parsed.data;
}
