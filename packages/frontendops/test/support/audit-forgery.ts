/**
 * What the audit tests do to a chain as a crash or someone with write access to the state bucket
 * would: move the head back over the newest entry, forge an entry that links to nothing here, write a
 * live pointer of their own.
 */

import type { DeployTarget } from '../../src/engine/types.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { type AuditEntry, readAudit, stateDigest, verifyAudit } from '../../src/state/audit.ts';
import type { LivePointer } from '../../src/state/records.ts';

/** Where entry `seq` lives under a state prefix. */
export const auditEntryKey = (prefix: string, seq: number) =>
  `${prefix}audit/${String(seq).padStart(10, '0')}.json`;

/** An entry with its hash recomputed, as someone forging one would. */
export function rehash(entry: AuditEntry): AuditEntry {
  const { hash: _old, ...unsigned } = entry;
  return { ...unsigned, hash: stateDigest(unsigned) };
}

const put = (store: ObjectStore, key: string, value: unknown) =>
  store.put(key, JSON.stringify(value), { contentType: 'application/json' });

/**
 * The head moved back to the entry before the newest, the newest left in place: what a process
 * killed between an append's two writes leaves. Returns both entries.
 */
export async function moveHeadBackOne(
  store: ObjectStore,
  prefix: string,
): Promise<{ last: AuditEntry; before: AuditEntry }> {
  const entries = await readAudit(store, prefix);
  const last = entries.at(-1) as AuditEntry;
  const before = entries.at(-2) as AuditEntry;
  await put(store, `${prefix}audit/head.json`, { seq: before.seq, hash: before.hash });
  return { last, before };
}

/** The same, with the newest entry re-hashed onto a chain that is not this one: well formed, linked to nothing here. */
export async function forgeEntryPastHead(
  store: ObjectStore,
  prefix: string,
): Promise<{ last: AuditEntry; before: AuditEntry }> {
  const moved = await moveHeadBackOne(store, prefix);
  const { last } = moved;
  await put(
    store,
    auditEntryKey(prefix, last.seq),
    rehash({ ...last, prevHash: `sha256:${'0'.repeat(64)}` }),
  );
  return moved;
}

/**
 * The chain under `prefix` as a FrontendOps from before environment markers wrote it: the same
 * entries, renumbered, without "environment" entries and without `markers`.
 */
export async function chainBeforeMarkers(store: ObjectStore, prefix: string): Promise<void> {
  const entries = await readAudit(store, prefix);
  await store.delete(entries.map((e) => auditEntryKey(prefix, e.seq)));
  let prevHash = 'sha256:genesis';
  let seq = 0;
  for (const entry of entries.filter((e) => e.type !== 'environment')) {
    const { markers: _markers, ...older } = entry;
    seq += 1;
    const rewritten = rehash({ ...older, seq, prevHash });
    prevHash = rewritten.hash;
    await put(store, auditEntryKey(prefix, seq), rewritten);
  }
  await put(store, `${prefix}audit/head.json`, { seq, hash: prevHash });
}

/**
 * A live pointer (live.json) as the deployer role can write it around the chain: `build` live, first
 * of its releases, then `kept`.
 */
export function livePointerNaming(
  build: { deployId: string; app: string; commit: string; artifactDigest: string },
  kept: readonly LivePointer['releases'][number][] = [],
): LivePointer {
  const ref = {
    deployId: build.deployId,
    app: build.app,
    commit: build.commit,
    artifactDigest: build.artifactDigest,
    releasedAt: new Date().toISOString(),
  };
  return { ...ref, releases: [ref, ...kept] };
}

/** What `audit verify` says of the stack, one `kind: object` a problem: what the attack tests compare. */
export async function auditVerdict(
  t: { site: Site; target: DeployTarget },
  options?: Parameters<typeof verifyAudit>[2],
): Promise<string[]> {
  return (await verifyAudit(t.site.state, t.target.statePrefix, options)).problems.map(
    (p) => `${p.kind}: ${p.object}`,
  );
}
