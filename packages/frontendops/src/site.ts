/**
 * A Site is one stack's deploy target bound to the ports that act on it: the artifacts, hosting and
 * state buckets, the CDN, the lock and the state records. Opened at the edge (CLI, MCP server,
 * console) by stacks/open.ts and passed inward; the engine never opens anything itself.
 */
import type { ApprovalPolicy } from './config.ts';
import type { DeployTarget } from './engine/types.ts';
import { FrontendOpsError, isFrontendOpsError } from './errors.ts';
import type { Cdn, Locker, ObjectStore, ReleaseStore } from './ports.ts';
import { PUBLISH_LOG } from './state/names.ts';
import type { StateRecords } from './state/records.ts';

export interface Site {
  target: DeployTarget;
  artifacts: ObjectStore;
  hosting: ObjectStore;
  state: ObjectStore;
  records: StateRecords;
  locker: Locker;
  cdn: Cdn | null;
  retain: number;
  /**
   * Changes need a person's approval: the stack is listed as protected in the configuration, or it
   * was reached through an outputs file that does not say which stack it is.
   */
  protected: boolean;
  /** Why it is protected, in words a refusal gives (which list names it, or its environment marker). */
  protectedBy?: string;
  /**
   * The name its hosting bucket's environment marker gives this stack's own state location, where it
   * is another (one history under two names: a stack renamed in its outputs that kept its
   * statePrefix, stacks/open.ts): the entries naming it are this stack's own (ofAnotherStack).
   */
  historyNamed?: string;
  /** Who may approve its changes when protected (the configuration's "approval" for this stack). */
  approval: ApprovalPolicy;
  /**
   * The publish logs of the other stacks whose builds this one deploys (the configuration's
   * `buildsFrom`), opened on first use; its own (`<state prefix>publishes/`) is always read beside
   * them (publishLogsOf). Unset: its own alone.
   */
  buildsFrom?: () => Promise<readonly PublishLogRef[]>;
  /** Things the operator was told (e.g. a local file lock is used), once a lock was taken. */
  notices: string[];
  /**
   * Tells the operator `notice`, once: once per site, or, given `told` (what one operation told so
   * far: forOperation), once per that operation.
   */
  notify(notice: string, told?: Set<string>): void;
  // ── atomic releases (deploy/atomic-*.ts) ──
  /**
   * `atomic` when the stack's outputs name a release store (releaseStoreArn): releases live under
   * their own prefix and one KeyValueStore write switches them; otherwise `in-place`.
   */
  mode: 'atomic' | 'in-place';
  /** The KeyValueStore holding the release pointer (atomic mode only). */
  releases: ReleaseStore | null;
  /** How long after a switch edges may still serve what it replaced; pruning waits this long. */
  releaseGraceMs: number;
  /** Atomic releases route "/dir/" to the app's /index.html too (a single-page app). */
  spa: boolean;
  close(): void;
}

/**
 * The site as one operation sees it (a tool call, a console request), where a server keeps a site
 * open for many: what the operation is told (a wait for another's lock, as it begins) is said once
 * for it, though an earlier operation was told the same. All else is the site's own, read and
 * written through (a stack found protected stays protected for the operations after).
 */
export function forOperation(site: Site): Site {
  const told = new Set<string>();
  const notify = (notice: string) => site.notify(notice, told);
  return new Proxy(site, { get: (target, key) => (key === 'notify' ? notify : Reflect.get(target, key)) });
}

/**
 * A stack's publish log: the chain under `log` (`<state prefix>publishes/`) in `state`. Or, for a
 * `buildsFrom` stack that could not be opened (its hosting bucket's marker cannot be read or is not
 * followed, its buckets did not answer), why (`unread`, where its outputs put the log): a build no
 * other log records is refused with it (unreadPublishLog), and verify reports it where a release
 * relies on that log. Whoever can write that stack's hosting bucket stops nothing else of this one.
 */
export type PublishLogRef = { stack: string; log: string } & (
  | { state: ObjectStore; unread?: undefined }
  | { state?: undefined; unread: unknown }
);

/** The refusal of a build only `ref`'s log could record, which `site` could not open (its `unread`). */
export function unreadPublishLog(site: Site, ref: PublishLogRef): unknown {
  const { unread } = ref;
  if (!isFrontendOpsError(unread)) return unread;
  return new FrontendOpsError(
    unread.code,
    `The publish log of ${ref.stack}, whose builds ${site.target.stack} deploys ("buildsFrom"), is not read: ${unread.message}`,
    { cause: unread, ...(unread.details ? { details: unread.details } : {}) },
  );
}

/** The publish logs whose builds `site` deploys: its own first, then its `buildsFrom`. */
export async function publishLogsOf(site: Site): Promise<PublishLogRef[]> {
  const own = {
    stack: site.target.stack,
    state: site.state,
    log: `${site.target.statePrefix}${PUBLISH_LOG}`,
  };
  return [own, ...((await site.buildsFrom?.()) ?? [])];
}
