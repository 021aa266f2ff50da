/** Deploy tags as readers use them. Deploy id → deploy tag name, from the git host; empty (and a note in the log) when it cannot be read. */

import { parseAuditHead } from '../contract/audit-head.ts';
import { listDeployTags } from '../git/deploy-tag.ts';
import type { GitHost } from '../ports.ts';
import type { AuditAnchor } from '../state/audit.ts';

export async function readDeployTags(git: GitHost | null | undefined): Promise<Map<string, string>> {
  if (!git) return new Map();
  try {
    const tags = await listDeployTags(git);
    return new Map(tags.flatMap((t) => (t.deployId ? [[t.deployId, t.name] as const] : [])));
  } catch (error) {
    // Tags are a nicety where they are shown: a read still answers when the git host does not.
    console.error('[frontendops] could not list deploy tags:', (error as Error).message);
    return new Map();
  }
}

/**
 * The audit anchors git holds for one stack: the Audit-Head of each of its deploy tags. Unlike the
 * tag names above, these are not a nicety: a git host that cannot be read is an error here.
 */
export async function readAuditAnchors(git: GitHost, stack: string): Promise<AuditAnchor[]> {
  const tags = await listDeployTags(git);
  return tags.flatMap((t) => {
    const head = t.stack === stack && t.auditHead ? parseAuditHead(t.auditHead) : null;
    return head ? [{ ...head, source: `deploy tag ${t.name}` }] : [];
  });
}
