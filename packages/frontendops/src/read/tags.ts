/**
 * Deploy tags as readers use them. Deploy id → deploy tag, from the git host; empty (and a note in
 * the log) when it cannot be read. A tag is named beside a deployment only through tagOf.
 */

import { parseAuditHead } from '../contract/audit-head.ts';
import { logError } from '../errors.ts';
import { type DeployTag, listDeployTags, sameRecord } from '../git/deploy-tag.ts';
import type { GitHost } from '../ports.ts';
import type { AuditAnchor } from '../state/audit.ts';

/** Deploy id → the one deploy tag of that id (readDeployTags). */
export type DeployTags = ReadonlyMap<string, DeployTag>;

export async function readDeployTags(git: GitHost | null | undefined): Promise<Map<string, DeployTag>> {
  if (!git) return new Map();
  try {
    // Newest first: the first tag of a deployment is the last. Tags of one deploy id that record
    // different things (one pushed by someone who can push) name none: whichever is true, the
    // readers do not vouch for it (`audit verify` tells them apart by the chain).
    const tags = (await listDeployTags(git)).reverse();
    const named = new Map<string, DeployTag | null>();
    for (const tag of tags) {
      if (!tag.deployId) continue;
      const first = named.get(tag.deployId);
      if (first === undefined) named.set(tag.deployId, tag);
      else if (first && !sameRecord(first.message, tag.message)) named.set(tag.deployId, null);
    }
    return new Map([...named].flatMap(([id, tag]) => (tag ? [[id, tag] as const] : [])));
  } catch (error) {
    // Tags are a nicety where they are shown: a read still answers when the git host does not.
    logError('[frontendops] could not list deploy tags:', (error as Error).message);
    return new Map();
  }
}

/**
 * The name of the deploy tag shown beside a deployment of `stack` (a record, a live release), or
 * null. Anyone who can push can push a tag on its commit with its deploy id and any build or stack,
 * after deleting its true one: a tag whose commit, build or stack is not the deployment's is a tag
 * and no more, as a moved one is (listDeployTags). A tag naming no stack (as the first versions made
 * them) is held to its commit and build.
 */
export function tagOf(
  tags: DeployTags,
  stack: string,
  deployment: { deployId: string; commit: string; artifactDigest: string },
): string | null {
  const tag = tags.get(deployment.deployId);
  const holds =
    tag !== undefined &&
    tag.sha === deployment.commit &&
    tag.artifactDigest === deployment.artifactDigest &&
    // Tags made before tags recorded their stack name none: such a tag, saying this deployment's
    // commit and build, is still its own; one naming another stack is not.
    (tag.stack === undefined || tag.stack === stack);
  return holds ? tag.name : null;
}

/**
 * The audit anchors git holds for one stack: the Audit-Head of each of its deploy tags, with the
 * deployment the tag names (verify holds the head to it). Unlike the
 * tag names above, these are not a nicety: a git host that cannot be read is an error here.
 */
export async function readAuditAnchors(git: GitHost, stack: string): Promise<AuditAnchor[]> {
  const tags = await listDeployTags(git);
  return tags.flatMap((t) => {
    const head = t.stack === stack && t.auditHead ? parseAuditHead(t.auditHead) : null;
    if (!head || !t.deployId) return [];
    const deployment = { deployId: t.deployId, commit: t.sha, artifactDigest: t.artifactDigest };
    return [{ ...head, source: `deploy tag ${t.name}`, deployment }];
  });
}
