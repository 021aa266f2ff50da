/**
 * The state bucket as someone who can write it changes it around the audit chain: its objects read
 * and written by name, deployment records planted (under a deploy id a change is about to get, or any
 * other), and a fingerprint of every object a refused change must leave as it was.
 */
import { createHash } from 'node:crypto';
import type { DeployTarget } from '../../src/engine/types.ts';
import type { Site } from '../../src/site.ts';
import type { DeploymentRecord } from '../../src/state/records.ts';

interface Stack {
  site: Site;
  target: DeployTarget;
}

/** Every object of the hosting bucket and of the stack's state prefix, by key: its bytes' sha256 (a refusal must change none). */
export async function stackObjectDigests(t: Stack): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, store, prefix] of [
    ['hosting', t.site.hosting, ''],
    ['state', t.site.state, t.target.statePrefix],
  ] as const) {
    for (const { key } of await store.list(prefix)) {
      const object = await store.get(key);
      out[`${name}:${key}`] = object ? createHash('sha256').update(object.body).digest('hex') : 'gone';
    }
  }
  return out;
}

/**
 * A succeeded deploy's record saying anything, as a planter writes it: of the build's own digest (read
 * from its manifest), since a record of another digest is refused as a replaced build already.
 */
export function plantedRecord(
  t: Stack,
  app: string,
  deployId: string,
  commit: string,
  artifactDigest: string,
): DeploymentRecord {
  return {
    deployId,
    stack: t.target.stack,
    app,
    commit,
    artifactDigest,
    kind: 'deploy',
    fromDeployId: null,
    fromCommit: null,
    request: { text: 'all fine', actor: 'someone-else', planner: 'cli', at: new Date().toISOString() },
    plan: { copies: 0, unchanged: 0, prune: 0, bytes: 0, retained: [] },
    copied: [],
    deleted: [],
    invalidation: null,
    verification: { ok: true, url: 'https://example.test/', attempts: 1, detail: 'PLANTED' },
    outcome: 'succeeded',
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: 1,
  } as DeploymentRecord;
}

/**
 * The stack's state objects by name (`live.json`, `pin.json`, `deployments/<id>.json` …): read as
 * JSON, and written as the deployer role can write them, around the chain. `of` gives the stack once
 * it is started (a file's tests start it in beforeAll).
 */
export function stateObjects(of: () => Stack) {
  const key = (name: string) => `${of().target.statePrefix}${name}`;
  return {
    key,
    async read<T>(name: string): Promise<T> {
      const object = await of().site.state.get(key(name));
      if (!object) throw new Error(`${name} is missing`);
      return JSON.parse(object.body.toString('utf8')) as T;
    },
    write: (name: string, value: unknown) =>
      of().site.state.put(key(name), JSON.stringify(value), { contentType: 'application/json' }),
  };
}

/** Writes `record` as deployments/<deployId>.json straight to the state bucket, around the chain. */
export const plantRecord = (t: Stack, deployId: string, record: unknown) =>
  stateObjects(() => t).write(`deployments/${deployId}.json`, record);

/** Deletes deployments/<deployId>.json again, as an operator does after checking it. */
export const unplantRecord = (t: Stack, deployId: string) =>
  t.site.state.delete([`${t.target.statePrefix}deployments/${deployId}.json`]);
