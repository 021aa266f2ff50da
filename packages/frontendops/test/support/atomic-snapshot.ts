/**
 * A snapshot of an atomic environment's stack (atomic-env.ts), to start each case of a file from the
 * same deployed stack without deploying it again: what the hosting bucket holds, what the stack's
 * state prefix holds (the records, the audit chain, the atomic state and pending record), and the
 * release pointer in the KeyValueStore. Restoring puts all three back (bucket-snapshot.ts). The
 * environment's Site stays: what it keeps between operations is only what it chose at its first use
 * (its lock, its CDN client), as when the case had deployed the stack itself.
 *
 * Restoring returns once the edge sees the pointer put back (its propagation delay passed).
 *
 * Not restored: the preview secret in the KeyValueStore (made by the first preview, kept for good);
 * the edge's cache, whose release files are at keys of their own (an entry holds what its key held
 * when fetched, whichever case fetched it, as the snapshot's own deploys left entries for every case
 * before), while HTML and errors are never cached; the published builds (no change writes them); and
 * the S3 server's request log (a case marks where it starts: AtomicEnv.mark()).
 */
import type { ReleasePointer } from '../../src/ports.ts';
import type { AtomicEnv } from './atomic-env.ts';
import { snapshotStack } from './bucket-snapshot.ts';

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
  return {
    async restore() {
      await buckets.restore();
      const now = await t.store().read();
      if (same(now.value)) return;
      await t.store().write(pointer, now.etag);
      // The edge serves the pointer put back once its propagation delay has passed, as it does a
      // deploy's: before, a case that opened a page at once was served the release live before it.
      const edge = t.edge.atomic;
      if (edge) await edge.whenVisible(edge.currentEtag());
    },
  };
}
