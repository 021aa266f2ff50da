/**
 * The audit chain's head written to the CDN's release store (AUDIT_HEAD_KEY), which whoever can
 * write only the state bucket cannot write: what anchors an entry past the newest switch and deploy
 * tag (an approval's use, a policy adoption). Every atomic change, and `audit verify`, hold the chain
 * to it (state/audit.ts assertChainHoldsAnchor, anchoredHeadProblem).
 */
import { type AuditHead, formatAuditHead } from '../contract/audit-head.ts';
import { samePointer } from '../engine/atomic-plan.ts';
import { isFrontendOpsError } from '../errors.ts';
import type { ReleasePointerRead, ReleaseStore } from '../ports.ts';

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
