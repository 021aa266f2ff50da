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
 * follows either. Returns the store's ETag after it.
 */
export async function anchorApprovalUse(
  site: Pick<Site, 'state' | 'target'>,
  store: ReleaseStore,
  read: ReleasePointerRead,
): Promise<string> {
  const head = await readAuditHead(site.state, site.target.statePrefix);
  return head ? anchorAuditHead(store, head, read) : read.etag;
}
