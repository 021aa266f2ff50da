/**
 * `audit verify` of a site, as the CLI and the console both run it: the chain and the publish log,
 * against the deploy tags given (anchors), with the hosting bucket's environment marker, the stack's
 * approvers for its signed approvals, the publish logs of its `buildsFrom` (releases they recorded
 * were published) and, on atomic stacks, what the CDN's release store serves.
 */
import { isInvalidReleasePointer } from '../atomic/release-pointer.ts';
import { servedDespiteOwner, servedReader } from '../atomic/served.ts';
import type { ReleasePointerRead, ReleaseStore } from '../ports.ts';
import type { Site } from '../site.ts';
import { type AuditAnchor, type AuditVerification, verifyAudit } from '../state/audit.ts';
import type { UntaggedDeployments } from '../state/audit-entry.ts';

export interface SiteVerification {
  result: AuditVerification;
  /**
   * Atomic stacks: whether the release store was checked against the chain, or why it could not be
   * read; `refused`: checked, though every change refuses the store as another environment's.
   */
  releaseStore: { checked: true; refused?: string } | { checked: false; unread: string } | null;
}

export async function verifySite(site: Site, anchors: readonly AuditAnchor[]): Promise<SiteVerification> {
  const [served, publishLogs] = await Promise.all([
    site.releases ? reachableStore(site.releases) : null,
    site.buildsFrom?.() ?? [],
  ]);
  const result = await verifyAudit(site.state, site.target.statePrefix, {
    anchors,
    stack: site.target.stack,
    ...(site.historyNamed ? { historyNamed: site.historyNamed } : {}),
    publishLogs,
    hosting: { bucket: site.target.hostingBucket, store: site.hosting },
    approvers: site.approval.approvers,
    accepts: {
      elicitation: site.approval.trustElicitation,
      githubEnvironment: site.approval.github !== undefined,
    },
    // In place: no release store, so no atomic switch. Atomic but unreachable: not checked (said below).
    ...(served?.reader ? { releaseStore: served.reader } : site.releases ? {} : { releaseStore: null }),
  });
  return {
    result,
    releaseStore: !served
      ? null
      : served.reader
        ? { checked: true, ...(served.refused ? { refused: served.refused } : {}) }
        : { checked: false, unread: served.unread ?? 'no answer' },
  };
}

/**
 * What verify could not check, one line each, for whoever shows the result (the CLI's `note:` lines,
 * the console's audit badge): records of approvals it could not hold against a signature or the
 * configuration, a release store that did not answer, and one every change refuses as another
 * environment's (checked all the same). None of them fails verify. (Deployments
 * past the newest deploy tag are checked, but against the state bucket alone: untaggedNote.)
 */
export function uncheckedNotes({ result, releaseStore }: SiteVerification): string[] {
  return [
    ...result.approvals.unchecked.map(
      (each) => `entry ${each.seq}, an approval, was not checked: ${each.reason}`,
    ),
    ...(releaseStore && !releaseStore.checked
      ? [
          `the CDN's release store could not be read (${releaseStore.unread}): what it serves was not checked against the chain`,
        ]
      : []),
    ...(releaseStore?.checked && releaseStore.refused
      ? [`the CDN's release store was checked, but every change refuses it as it is: ${releaseStore.refused}`]
      : []),
  ];
}

/**
 * Deployments after the newest entry the deploy tags anchor, with no tag: the tags do not anchor
 * those entries, so a chain rewritten there (by whoever can write the state bucket, after the tags
 * were deleted or never made) could not be told apart.
 */
export function untaggedNote({ anchoredUpTo, entries, deployments }: UntaggedDeployments): string {
  const after = entries - anchoredUpTo;
  const which =
    deployments.length === 1
      ? `deployment entry ${deployments[0]}, which has`
      : `deployment entries ${deployments.join(', ')}, which have`;
  return `the deploy tags anchor the chain up to entry ${anchoredUpTo} of ${entries}; the ${after} entr${after === 1 ? 'y' : 'ies'} after it rest on the state bucket alone, among them ${which} no deploy tag here (never made, or deleted)`;
}

/**
 * Where the approval policy the chain records changed, and the approvals that counted only through
 * such a change, one line each (the CLI's `note:` lines): none of them fails verify.
 */
export const adoptionNotes = ({ result }: SiteVerification): string[] =>
  result.approvals.adopted.map((each) => `entry ${each.seq}: ${each.reason}`);

/**
 * The release store's reader for verify, when the store answers (a value that is no release pointer
 * is an answer: verify reports it); otherwise why not. Its first read is the one made here.
 */
async function reachableStore(
  releases: ReleaseStore,
): Promise<{ reader?: Pick<ReleaseStore, 'read'>; unread?: string; refused?: string }> {
  const reading = servedReader(releases);
  let refused: string | undefined;
  const first: { read: ReleasePointerRead } | { error: unknown } = await releases.read().then(
    (read) => ({ read }),
    (error: unknown) => {
      // Refused as another environment's (its key rewritten, or the outputs naming another's store):
      // what it serves is held to the chain all the same, and the refusal said (uncheckedNotes).
      const read = servedDespiteOwner(error);
      if (!read) return { error };
      refused = error instanceof Error ? error.message : String(error);
      return { read };
    },
  );
  if ('error' in first && !isInvalidReleasePointer(first.error)) {
    return { unread: first.error instanceof Error ? first.error.message : String(first.error) };
  }
  let used = false;
  return {
    ...(refused ? { refused } : {}),
    reader: {
      read() {
        if (used) return reading.read();
        used = true;
        return 'read' in first ? Promise.resolve(first.read) : Promise.reject(first.error);
      },
    },
  };
}
