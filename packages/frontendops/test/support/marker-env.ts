/**
 * A deploy environment for the tests of the hosting bucket's environment marker
 * (`.frontendops/environment.json`), which open the stack by name as the CLI does: openSite reaches
 * the embedded S3 server the AWS way, through process.env (the support's cleanup puts process.env
 * back as the file found it). The builds are published; the outputs file names the environment, and
 * "alias" names the same outputs under a stack name of its own (its own default state location, no
 * history there), which follows the bucket's marker.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from './deploy-env.ts';

export const MARKER_APP = 'sophia-dashboard';

export interface MarkerEnv {
  t: TestDeployEnv;
  /** The builds published (to the environment's own publish log), for publishToStack. */
  published: Awaited<ReturnType<typeof publishFixtureBuilds>>;
  /** The outputs file, under the environment's own name. */
  named: string;
  /** What the outputs file holds. */
  outputs: Record<string, unknown>;
  /** The same outputs, as the stack "alias". */
  aliasFile: string;
  /** The marker's body as the hosting bucket holds it, or null. */
  marker(): Promise<string | null>;
  /** Writes `body` as the marker, as whoever can write the hosting bucket could. */
  putMarker(body: string): Promise<void>;
  /**
   * Every object of the hosting bucket and of the state bucket under `statePrefix`, by key: its
   * bytes' sha256. The lock and the probe for conditional writes are the lock's, not a change's.
   */
  everything(statePrefix: string): Promise<Record<string, string>>;
}

export async function startMarkerEnv(
  commits: readonly string[],
  options: { extraBuckets?: string[] } = {},
): Promise<MarkerEnv> {
  const t = await startDeployEnv({}, options);
  Object.assign(process.env, { ...t.cliEnv(), AWS_REGION: 'us-east-1' });
  const published = await publishFixtureBuilds(t, MARKER_APP, commits);
  const named = await t.writeOutputs();
  const outputs = JSON.parse(await readFile(named, 'utf8'));
  const aliasFile = join(t.tmp, 'alias-outputs.json');
  await writeFile(aliasFile, JSON.stringify({ ...outputs, stack: 'alias' }));
  return {
    t,
    published,
    named,
    outputs,
    aliasFile,
    marker: async () => (await t.site.hosting.get(ENVIRONMENT_MARKER))?.body.toString('utf8') ?? null,
    putMarker: async (body) => {
      await t.site.hosting.put(ENVIRONMENT_MARKER, body, { contentType: 'application/json' });
    },
    async everything(statePrefix) {
      const out: Record<string, string> = {};
      for (const [name, store, prefix] of [
        ['hosting', t.site.hosting, ''],
        ['state', t.site.state, statePrefix],
      ] as const) {
        for (const { key } of await store.list(prefix)) {
          if (key.includes('/locks/') || key.includes('/probe/')) continue;
          const object = await store.get(key);
          out[`${name}:${key}`] = object ? createHash('sha256').update(object.body).digest('hex') : 'gone';
        }
      }
      return out;
    },
  };
}
