/**
 * A snapshot of an atomic environment's stack (atomic-env.ts), to start each case of a file from the
 * same stack without deploying it again: what the hosting bucket holds, what the stack's state prefix
 * holds (the records, the audit chain, the atomic state and pending record), and the release pointer,
 * the environment it names, the preview secret and the audit head it anchors in the KeyValueStore, each as its text or as none (nothing live yet, no
 * preview made yet: a case that makes the secret finds none, whichever case ran before). Restoring
 * puts them all back (bucket-snapshot.ts). The environment's Site stays: what it keeps between
 * operations is only what it chose at its first use (its lock, its CDN client), as when the case had
 * deployed the stack itself.
 *
 * Restoring returns once the edge sees the pointer put back (its propagation delay passed).
 *
 * Not restored: the edge's cache, whose release files are at keys of their own (an entry holds what
 * its key held when fetched, whichever case fetched it, as the snapshot's own deploys left entries for
 * every case before), while HTML and errors are never cached; the published builds (no change writes
 * them); and the S3 server's request log (a case marks where it starts: AtomicEnv.mark()).
 */

import { afterAll, beforeEach } from 'vitest';
import {
  AUDIT_HEAD_KEY,
  ENVIRONMENT_KEY,
  PREVIEW_SECRET_KEY,
  RELEASE_KEY,
} from '../../src/atomic/release-pointer.ts';
import { type AtomicEnv, deployedAtomicEnvFor } from './atomic-env.ts';
import { snapshotStack } from './bucket-snapshot.ts';
import { type RawKvs, rawKvs } from './raw-kvs.ts';

export interface AtomicSnapshot {
  /** Puts the stack back as it was taken. */
  restore(): Promise<void>;
}

/** The KeyValueStore's keys a snapshot keeps: what each held, or that it held nothing. */
const KEYS = [RELEASE_KEY, ENVIRONMENT_KEY, PREVIEW_SECRET_KEY, AUDIT_HEAD_KEY] as const;

export async function snapshotAtomicEnv(t: AtomicEnv): Promise<AtomicSnapshot> {
  const buckets = await snapshotStack(t.site);
  const kept = await withRaw(t, (kvs) => Promise.all(KEYS.map((key) => kvs.get(key))));
  return {
    async restore() {
      await buckets.restore();
      const changed = await withRaw(t, async (kvs) => {
        let any = false;
        for (const [i, key] of KEYS.entries()) {
          const value = kept[i] ?? null;
          if ((await kvs.get(key)) === value) continue;
          await kvs.set(key, value);
          any = true;
        }
        return any;
      });
      // The edge serves the pointer put back once its propagation delay has passed, as it does a
      // deploy's: before, a case that opened a page at once was served the release live before it.
      const edge = t.edge.atomic;
      if (changed && edge) await edge.whenVisible(edge.currentEtag());
    },
  };
}

/**
 * For the tests of the calling file that write its release store outside FrontendOps: the atomic
 * env deployedAtomicEnvFor starts, put back before each test as it was deployed (a snapshot taken
 * before the first test), and a raw client of its store (rawKvs), made on first use and destroyed
 * after the tests.
 */
export function outsideWritesEnvFor(...deployed: Parameters<typeof deployedAtomicEnvFor>): {
  env: () => AtomicEnv;
  raw: () => RawKvs;
} {
  const env = deployedAtomicEnvFor(...deployed);
  let snapshot: AtomicSnapshot | undefined;
  let kvs: RawKvs | undefined;
  beforeEach(async () => {
    snapshot ??= await snapshotAtomicEnv(env());
    await snapshot.restore();
  });
  afterAll(() => kvs?.destroy());
  return { env, raw: () => (kvs ??= rawKvs(env())) };
}

/** `work` with a raw KeyValueStore client of `t`'s store, destroyed after. */
async function withRaw<T>(t: AtomicEnv, work: (kvs: RawKvs) => Promise<T>): Promise<T> {
  const kvs = rawKvs(t);
  try {
    return await work(kvs);
  } finally {
    kvs.destroy();
  }
}
