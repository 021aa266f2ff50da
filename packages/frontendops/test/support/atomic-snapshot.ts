/**
 * A snapshot of an atomic environment's stack (atomic-env.ts), to start each case of a file from the
 * same deployed stack without deploying it again: what the hosting bucket holds, what the stack's
 * state prefix holds (the records, the audit chain, the atomic state and pending record), and the
 * release pointer and the preview secret in the KeyValueStore (none, when the first preview has not
 * made it yet: a case that makes it finds none, whichever case ran before). Restoring puts them all
 * back (bucket-snapshot.ts). The environment's Site stays: what it keeps between operations is only
 * what it chose at its first use (its lock, its CDN client), as when the case had deployed the stack
 * itself.
 *
 * Restoring returns once the edge sees the pointer put back (its propagation delay passed).
 *
 * Not restored: the edge's cache, whose release files are at keys of their own (an entry holds what
 * its key held when fetched, whichever case fetched it, as the snapshot's own deploys left entries for
 * every case before), while HTML and errors are never cached; the published builds (no change writes them); and
 * the S3 server's request log (a case marks where it starts: AtomicEnv.mark()).
 */
import { PREVIEW_SECRET_KEY } from '../../src/atomic/release-pointer.ts';
import type { ReleasePointer } from '../../src/ports.ts';
import type { AtomicEnv } from './atomic-env.ts';
import { snapshotStack } from './bucket-snapshot.ts';
import { type RawKvs, rawKvs } from './raw-kvs.ts';

export interface AtomicSnapshot {
  /** Puts the stack back as it was taken. */
  restore(): Promise<void>;
}

export async function snapshotAtomicEnv(t: AtomicEnv): Promise<AtomicSnapshot> {
  const buckets = await snapshotStack(t.site);
  const pointer = (await t.store().read()).value;
  if (!pointer)
    throw new Error('snapshotAtomicEnv: nothing is live yet (the release store cannot be emptied again)');
  const same = (a: ReleasePointer | null) => JSON.stringify(a) === JSON.stringify(pointer);
  const secret = await withRaw(t, (kvs) => kvs.get(PREVIEW_SECRET_KEY));
  return {
    async restore() {
      await buckets.restore();
      const now = await t.store().read();
      let changed = false;
      if (!same(now.value)) {
        await t.store().write(pointer, now.etag);
        changed = true;
      }
      await withRaw(t, async (kvs) => {
        if ((await kvs.get(PREVIEW_SECRET_KEY)) === secret) return;
        await kvs.set(PREVIEW_SECRET_KEY, secret);
        changed = true;
      });
      // The edge serves the pointer put back once its propagation delay has passed, as it does a
      // deploy's: before, a case that opened a page at once was served the release live before it.
      const edge = t.edge.atomic;
      if (changed && edge) await edge.whenVisible(edge.currentEtag());
    },
  };
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
