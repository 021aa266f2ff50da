/**
 * The audit chain's head written to the CDN's release store (AUDIT_HEAD_KEY), which whoever can
 * write only the state bucket cannot write: what anchors an entry past the newest switch and deploy
 * tag (an approval's use, a policy adoption). Every atomic change, and `audit verify`, hold the chain
 * to it (state/audit.ts assertChainHoldsAnchor, anchoredHeadProblem).
 */
import { type AuditHead, formatAuditHead } from '../contract/audit-head.ts';
import { samePointer } from '../engine/atomic-plan.ts';
import { alsoSaying, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { ReleasePointerRead, ReleaseStore } from '../ports.ts';
import type { Site } from '../site.ts';
import { readAuditHead } from '../state/audit.ts';

/**
 * Writes `head` over the store as `read` (one PutKey). A store changed since by another key (the
 * preview secret, another anchor) is read again once; a pointer switched since is not written over
 * (PRECONDITION_FAILED, as the switch would be). Returns the store's ETag after it: a switch that
 * follows writes over it, with no read between.
 */
export async function anchorAuditHead(
  store: ReleaseStore,
  head: AuditHead,
  read: ReleasePointerRead,
): Promise<string> {
  const text = formatAuditHead(head);
  const written = await store.anchorAuditHead(text, read.etag).catch(async (error: unknown) => {
    if (!isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
    const now = await store.read();
    if (!samePointer(now.value, read.value)) throw error;
    return store.anchorAuditHead(text, now.etag);
  });
  return written?.etag ?? read.etag;
}

/**
 * An approval's use anchored: the chain's head after it, written over `read` (the store as the
 * change read it). The one step every use on an atomic stack takes: a change's (atomic-apply.ts), and
 * a promote of the live release that only lifts the pin (deploy.ts settlePin), which no switch
 * follows either. An anchor that fails says the use is recorded and not anchored, then `unanchored`
 * (anchorRecorded). Returns the store's ETag after it, and the head it anchored (null: the chain has
 * none, nothing written).
 */
export async function anchorApprovalUse(
  site: Pick<Site, 'state' | 'target'>,
  store: ReleaseStore,
  read: ReleasePointerRead,
  /** What stays so if the anchor fails, and what to do (anchorRecorded's `unanchored`). */
  unanchored: string,
): Promise<{ etag: string; head: AuditHead | null }> {
  const head = await readAuditHead(site.state, site.target.statePrefix);
  if (!head) return { etag: read.etag, head };
  const etag = await anchorRecorded(store, head, read, { recorded: "The approval's use", unanchored });
  return { etag, head };
}

/**
 * anchorAuditHead of an entry already on the chain (`recorded`: what it records, an adoption, an
 * approval's use). An anchor that fails says what landed (the entry) and what did not (the anchor),
 * then `unanchored`: what stays so, and what to do.
 */
export function anchorRecorded(
  store: ReleaseStore,
  head: AuditHead,
  read: ReleasePointerRead,
  words: { recorded: string; unanchored: string },
): Promise<string> {
  return anchorAuditHead(store, head, read).catch((error: unknown) => {
    if (!(error instanceof FrontendOpsError)) throw error;
    const recorded = `${words.recorded} is recorded (audit entry ${head.seq})`;
    throw alsoSaying(
      error,
      `${recorded}, but its head is not anchored in the CDN's release store: ${words.unanchored}`,
      { changed: recorded.replace(/^The /, 'the ') },
    );
  });
}
