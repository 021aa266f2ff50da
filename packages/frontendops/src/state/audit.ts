/**
 * The audit chain (DESIGN §1.2): append-only JSON entries in the state bucket, each carrying the
 * sha256 of the previous one, so changing, removing or reordering any entry breaks verification.
 * Appends are serialised by a lock; with conditional writes each entry is also created only once.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Locker, ObjectStore } from '../ports.ts';

export interface AuditEntry {
  seq: number;
  at: string;
  /** What happened: "deploy", "rollback", "publish", "agent-request", "invalidate", … */
  type: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headHash: string | null;
  /** The first entry that does not verify, and why. */
  problem?: { seq: number; reason: string };
}

const GENESIS = 'sha256:genesis';
const entryKey = (prefix: string, seq: number) => `${prefix}audit/${String(seq).padStart(10, '0')}.json`;
const headKey = (prefix: string) => `${prefix}audit/head.json`;

export async function appendAudit(
  store: ObjectStore,
  prefix: string,
  locker: Locker,
  event: { type: string; data: Record<string, unknown>; at?: Date },
): Promise<AuditEntry> {
  const lock = await locker.acquire(`${store.bucket}-${prefix}audit`, {
    owner: `audit:${process.pid}`,
    ttlMs: 30_000,
    waitMs: 30_000,
  });
  try {
    const head = await store.get(headKey(prefix));
    const last = head ? (JSON.parse(head.body.toString('utf8')) as { seq: number; hash: string }) : null;
    const unsigned = {
      seq: (last?.seq ?? 0) + 1,
      at: (event.at ?? new Date()).toISOString(),
      type: event.type,
      data: event.data,
      prevHash: last?.hash ?? GENESIS,
    };
    const entry: AuditEntry = { ...unsigned, hash: hashOf(unsigned) };
    const conditional = await store.supportsConditionalWrites();
    await store.put(
      entryKey(prefix, entry.seq),
      JSON.stringify(entry),
      { contentType: 'application/json' },
      conditional ? { ifNoneMatch: '*' } : {},
    );
    await store.put(
      headKey(prefix),
      JSON.stringify({ seq: entry.seq, hash: entry.hash }),
      { contentType: 'application/json' },
      conditional && head ? { ifMatch: head.etag } : {},
    );
    return entry;
  } finally {
    await lock.release();
  }
}

/** The chain's head as its head record says (null for an empty chain). */
export async function readAuditHead(
  store: ObjectStore,
  prefix: string,
): Promise<{ seq: number; hash: string } | null> {
  const head = await store.get(headKey(prefix));
  return head ? (JSON.parse(head.body.toString('utf8')) as { seq: number; hash: string }) : null;
}

export async function readAudit(store: ObjectStore, prefix: string): Promise<AuditEntry[]> {
  const keys = (await store.list(`${prefix}audit/`))
    .map((o) => o.key)
    .filter((k) => /\/\d{10}\.json$/.test(k))
    .sort();
  const entries: AuditEntry[] = [];
  for (const key of keys) {
    const object = await store.get(key);
    if (object) entries.push(JSON.parse(object.body.toString('utf8')) as AuditEntry);
  }
  return entries;
}

export async function verifyAudit(store: ObjectStore, prefix: string): Promise<AuditVerification> {
  const entries = await readAudit(store, prefix);
  const head = await store.get(headKey(prefix));
  const headRecord = head ? (JSON.parse(head.body.toString('utf8')) as { seq: number; hash: string }) : null;
  let prevHash = GENESIS;
  for (const [index, entry] of entries.entries()) {
    const fail = (reason: string): AuditVerification => ({
      ok: false,
      entries: entries.length,
      headHash: headRecord?.hash ?? null,
      problem: { seq: entry.seq ?? index + 1, reason },
    });
    if (entry.seq !== index + 1)
      return fail(`expected entry ${index + 1} here, found ${entry.seq} (an entry was removed or inserted)`);
    if (entry.prevHash !== prevHash)
      return fail('its prevHash does not match the previous entry (the chain was broken)');
    const { hash, ...unsigned } = entry;
    if (hashOf(unsigned) !== hash) return fail('its content does not match its hash (the entry was altered)');
    prevHash = hash;
  }
  if (headRecord && (headRecord.seq !== entries.length || headRecord.hash !== prevHash)) {
    return {
      ok: false,
      entries: entries.length,
      headHash: headRecord.hash,
      problem: {
        seq: headRecord.seq,
        reason: `the head names entry ${headRecord.seq} but the chain ends at ${entries.length} (entries were removed from the end)`,
      },
    };
  }
  if (!headRecord && entries.length > 0) {
    return {
      ok: false,
      entries: entries.length,
      headHash: null,
      problem: { seq: entries.length, reason: 'the head record is missing' },
    };
  }
  return { ok: true, entries: entries.length, headHash: headRecord?.hash ?? null };
}

function hashOf(unsigned: Omit<AuditEntry, 'hash'>): string {
  return `sha256:${createHash('sha256')
    .update(canonicalize(unsigned) ?? '')
    .digest('hex')}`;
}
