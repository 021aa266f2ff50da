/**
 * Deployment records, the live pointer and the pending (in-flight) plan, kept as JSON in the state
 * bucket under the stack's state prefix. The pointer moves by compare-and-swap where the endpoint
 * supports conditional writes; the deploy lock serialises writers everywhere else.
 */

import { isCanaryEvent } from '../engine/canary-event.ts';
import { type CanaryRowRefused, canaryRowRefused } from '../engine/canary-row-words.ts';
import { DEPLOY_ID } from '../engine/ids.ts';
import type { DeployIdentity, DeployPlan } from '../engine/plan.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { type ApprovalUsed, type ObjectStore, overVersion } from '../ports.ts';
import { settleAll } from '../settle-all.ts';
import { recordStanding, stateDigest, type VerifyOptions, verifyAuditAbout } from './audit.ts';
import { putJsonObject } from './json-object.ts';
import { DEPLOYMENTS, HISTORY, LIVE, PENDING, recordName } from './names.ts';

export interface ReleaseRef {
  deployId: string;
  app: string;
  commit: string;
  artifactDigest: string;
  releasedAt: string;
}

export interface LivePointer extends ReleaseRef {
  /** Retained releases, newest (this one) first. */
  releases: ReleaseRef[];
}

export interface RequestInfo {
  /** The words of the request, e.g. "Deploy the latest dashboard." */
  text: string;
  actor: string;
  /** "cli", "github-action", "runbook", "model:<provider:model>", "console" */
  planner: string;
  at: string;
  /** What the person said about this change (`--message`), recorded as they wrote it. */
  message?: string;
  /**
   * Set when the request was read back from a crash-recovery record (`pending.json`,
   * `atomic/pending.json`: the object's name under the state prefix) by the run that finished the
   * operation: it is what that record says was asked, not a request made to the run that wrote the
   * entry. Those records are not bound by the audit chain (anyone who can write the state bucket can
   * write one), so the log says where the request came from rather than present it as a fresh one.
   */
  resumedFrom?: string;
}

/** The request as read back from the crash-recovery record `name` (see RequestInfo.resumedFrom). */
export const readBackFrom = (request: RequestInfo, name: string): RequestInfo => ({
  ...request,
  resumedFrom: name,
});

import type { Outcome } from '../engine/types.ts';

export type { Outcome };

export interface DeploymentRecord extends DeployIdentity {
  fromDeployId: string | null;
  fromCommit: string | null;
  request: RequestInfo;
  plan: { copies: number; unchanged: number; prune: number; bytes: number; retained: string[] };
  copied: string[];
  deleted: string[];
  invalidation: { paths: string[]; ids: string[] } | null;
  verification: { ok: boolean; url?: string; attempts: number; detail: string } | null;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  outcome: Outcome;
  error?: { code: string; message: string };
  /** The approval it used (a protected stack's), as its audit entry names it too. */
  approval?: ApprovalUsed;
  /**
   * Set on an atomic stack's canary rows: 'canary-start' and 'canary-abort' are rows of their own
   * (deployId: canaryRowId; nothing went live for everyone), 'canary-promote' is the deployment
   * that made the canary live for everyone (deployId: the canary's). Absent on every other record,
   * and on records written before canaries had rows.
   */
  op?: 'canary-start' | 'canary-promote' | 'canary-abort';
  /** A canary row: the deploy id the canary has (or gets when promoted), and the share it started with. */
  canary?: { deployId: string; percent?: number };
}

/**
 * Whether writeRecord writes `record` over `stored`, the record already under its deploy id, without
 * being asked to replace it: one saying superseded (that deploy stopped before it went live) gives way
 * to the outcome of the run that finished.
 */
export const writtenOver = (stored: DeploymentRecord, record: DeploymentRecord): boolean =>
  stored.outcome === 'superseded' && record.outcome !== 'superseded';

/**
 * A build's deployments among records found by deploy id (recordsOf): each names the build's digest
 * as its manifest had it then; a record without a digest claims nothing about the build's content;
 * never a canary row (whose id does not start with the commit's 7 hex but by chance).
 */
export const recordsOfBuild = (
  stored: ReadonlyMap<string, DeploymentRecord | null>,
  app: string,
  commit: string,
): DeploymentRecord[] =>
  [...stored.values()].filter(
    (r): r is DeploymentRecord =>
      r?.app === app && r.commit === commit && typeof r.artifactDigest === 'string' && !isCanaryRow(r),
  );

/**
 * A canary's start or abort: a row of the history, never a release the stack had live for everyone
 * (a rollback does not go to it, and it is no proof that a build was live). Asked here only: the
 * readers below (recordsOf, listReleases, releasesSince, readRelease) leave such rows out, and
 * listRecords, the history's page, shows them.
 */
const isCanaryRow = (record: Pick<DeploymentRecord, 'op'>): boolean => isCanaryEvent(record.op);

/**
 * The refusal of a canary's start or abort row named where a release is asked for (a rollback, a
 * promote or redeploy, a preview by deploy id), in the words canaryRowRefused says it in.
 */
export function canaryRowRefusal(
  record: Pick<DeploymentRecord, 'deployId' | 'app' | 'commit' | 'op'>,
  refused: Omit<CanaryRowRefused, 'row'>,
): FrontendOpsError {
  const event = record.op === 'canary-start' ? 'canary-start' : 'canary-abort';
  return new FrontendOpsError('NOT_FOUND', canaryRowRefused({ ...refused, row: { ...record, event } }), {
    details: { deployId: record.deployId, commit: record.commit },
  });
}

/**
 * The refusal of a deployment record no audit entry binds, named where a release is asked for: no
 * proof of what deployment `deployId` was. `stopped`: `audit verify`'s reason when it calls the record
 * unfinished (a change stopped between writing it and recording it, which running a change again
 * finishes); otherwise it was written around the chain.
 */
export function unboundRecordRefusal(deployId: string, stopped?: string): FrontendOpsError {
  const where = `The deployment record of ${deployId} (${recordName(deployId)} under this stack's state prefix) is there, but no audit entry records it`;
  if (stopped) {
    return new FrontendOpsError(
      'CONFLICT',
      `${where} yet: the change that wrote it stopped before recording it. Nothing was changed. \`frontendops audit verify\` says: ${stopped} Ask again once that change is finished.`,
      { details: { object: recordName(deployId) } },
    );
  }
  return new FrontendOpsError(
    'TAMPERED',
    `${where}: it was not written by FrontendOps, so it does not say what that deployment was. Nothing was changed. ` +
      'Run `frontendops audit verify` to see what else was changed in the state bucket; after checking, delete that record.',
    { details: { object: recordName(deployId) } },
  );
}

export interface PendingDeploy {
  plan: DeployPlan;
  request: RequestInfo;
  startedAt: string;
  /** Set once the pointer names this deploy: only the steps after it remain. */
  pointerMoved: boolean;
  /** The error that stopped it before it went live, when one was seen (a crash leaves none). */
  stoppedBy?: StoppedBy;
  /**
   * A rollback someone asked for: it pins its release once the CDN serves it, before this record
   * goes (state/pin.ts pinRolledBack), so a stop before the pin is finished by running it again.
   */
  pinOnSuccess?: true;
  /** The approval it used (a protected stack's): its record and entry name it. */
  approval?: ApprovalUsed;
}

/** What stopped a deploy before it went live, kept in its crash-recovery record. */
export interface StoppedBy {
  code: string;
  message: string;
}

export function stoppedByOf(error: unknown): StoppedBy {
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: isFrontendOpsError(error) ? error.code : 'INTERNAL',
    message: message.length > 500 ? `${message.slice(0, 500)}…` : message,
  };
}

/**
 * The error of the record written for a deploy (or atomic operation) that never went live and that
 * a later one replaced: the error that stopped it, or, where none was seen (a crash), "interrupted".
 */
export function supersededError(stoppedBy: StoppedBy | undefined, what = 'deploy') {
  // Read back from a crash-recovery record: any field may be of another type, or of any length.
  const code = typeof stoppedBy?.code === 'string' ? stoppedBy.code.slice(0, 40) : 'INTERRUPTED';
  const message = typeof stoppedBy?.message === 'string' ? stoppedBy.message.slice(0, 500) : null;
  return stoppedBy && message !== null
    ? {
        code,
        message: `The ${what} stopped before it went live: ${message} A later ${what} replaced it.`,
      }
    : {
        code: 'INTERRUPTED',
        message: `The ${what} was interrupted before it went live; a later ${what} replaced it.`,
      };
}

/**
 * History is listed newest first, one page at a time: beside each record an empty index object
 * `history/<13 digits counting down from the start time>-<deployId>` sorts newest first in S3's key
 * order, so a page costs one LIST of `limit` keys and `limit` reads, whatever the history's length.
 */
const MAX_TIME = 9_999_999_999_999;
const historyKeyOf = (record: Pick<DeploymentRecord, 'startedAt' | 'deployId'>) =>
  `${HISTORY}${String(MAX_TIME - Date.parse(record.startedAt)).padStart(13, '0')}-${record.deployId}`;
/** A deploy id's length: `<7 hex of the commit>-<10 of its hash>`, the tail of each history key. */
const DEPLOY_ID_LENGTH = '0123456-0123456789'.length;
const HISTORY_CURSOR = new RegExp(`^\\d{13}-${DEPLOY_ID.source.slice(1)}`);
/** When the row a history cursor names started (ms): a page spans the time from its `next` row's to its `before` row's. */
export const cursorStartedAt = (cursor: string): number => MAX_TIME - Number(cursor.slice(0, 13));

export function createStateRecords(store: ObjectStore, prefix: string) {
  const key = (name: string) => `${prefix}${name}`;
  const readJson = async <T>(name: string): Promise<{ value: T; etag: string } | null> => {
    const object = await store.get(key(name));
    return object ? { value: parseStateObject<T>(key(name), object.body), etag: object.etag } : null;
  };
  // Returns the value's digest, for the audit entry that binds it. Made before the write: a value
  // the audit cannot bind is refused with nothing written, not left behind as a record or pending
  // plan that every later run trips over.
  const writeJson = async (name: string, value: unknown, condition = {}): Promise<string> => {
    const digest = stateDigest(value);
    await putJsonObject(store, key(name), value, condition);
    return digest;
  };

  const stateRecords = {
    readPointer: () => readJson<LivePointer>(LIVE),

    /**
     * Writes the pointer (compare-and-swap where honoured); returns its digest for the audit entry,
     * and the version written (what a write over it names).
     */
    async writePointer(
      pointer: LivePointer,
      previousEtag: string | null,
    ): Promise<{ digest: string; etag: string }> {
      const conditional = await store.supportsConditionalWrites();
      const digest = stateDigest(pointer);
      const { etag } = await putJsonObject(
        store,
        key(LIVE),
        pointer,
        conditional ? overVersion(previousEtag) : {},
      );
      return { digest, etag };
    },

    /** The interrupted deploy's record; its request marked as read back from it (RequestInfo.resumedFrom). */
    readPending: async (): Promise<PendingDeploy | null> => {
      const pending = (await readJson<PendingDeploy>(PENDING))?.value ?? null;
      return pending && { ...pending, request: readBackFrom(pending.request, PENDING) };
    },
    writePending: async (pending: PendingDeploy) => {
      await writeJson(PENDING, pending);
    },
    clearPending: () => store.delete([key(PENDING)]),

    /**
     * Writes the record and its history index; returns the record as stored, and its digest. A record
     * is written once: one already written by a repeated finish stays as it is, and is returned.
     * Except a record that says "superseded" (the deploy stopped before it went live): deployment ids
     * come from what a deploy changes, so the same deploy run again later has its id, and the outcome
     * of the run that finished replaces it (the entry that binds the new record says so in the
     * chain). `replace`: a stored record is replaced whatever it says (writeOwnRecord: one no entry
     * binds is replaced by the change's own, never bound as found).
     */
    async writeRecord(
      record: DeploymentRecord,
      options: { replace?: boolean } = {},
    ): Promise<{ digest: string; stored: DeploymentRecord }> {
      const name = recordName(record.deployId);
      const conditional = await store.supportsConditionalWrites();
      // Where writes are conditional the record is created only if absent, and S3 says whether it was
      // there without a request to ask first; elsewhere it is looked for first.
      let existing: { value: DeploymentRecord; etag: string } | null = null;
      if (!conditional && (await store.head(key(name)))) existing = await readJson<DeploymentRecord>(name);
      let digest = '';
      if (!existing) {
        try {
          digest = await writeJson(name, record, conditional ? { ifNoneMatch: '*' } : {});
        } catch (error) {
          if (!conditional || !isFrontendOpsError(error, 'PRECONDITION_FAILED')) throw error;
          existing = await readJson<DeploymentRecord>(name);
          if (!existing) digest = await writeJson(name, record);
        }
      }
      const replaces = existing !== null && (options.replace === true || writtenOver(existing.value, record));
      if (existing && replaces) {
        digest = await writeJson(name, record, conditional ? { ifMatch: existing.etag } : {});
      } else if (existing) {
        digest = stateDigest(existing.value); // written by a repeated finish: it stays as it is
      }
      const stored = existing && !replaces ? existing.value : record;
      // After the record: an index entry never names a record that is not there. Its row is the
      // record's as stored: a kept one keeps its row (written again, in case a stop came between the
      // two), not a second one at this write's time.
      await store.put(key(historyKeyOf(stored)), '', { contentType: 'application/octet-stream' });
      if (existing && replaces && historyKeyOf(existing.value) !== historyKeyOf(record)) {
        await store.delete([key(historyKeyOf(existing.value))]);
      }
      return { digest, stored };
    },

    /** The history's row `deployId`: a deployment's record, or a canary's start or abort row. */
    readRecord: async (deployId: string) =>
      (await readJson<DeploymentRecord>(recordName(deployId)))?.value ?? null,

    /**
     * The record of deployment `deployId`, named where a release is asked for (promote, redeploy,
     * preview by deploy id, invalidate_cdn asked again), or null when none is recorded. Only a record
     * the chain binds: records are the deployer role's to write and nothing holds them to the chain
     * before a change starts, so one edited or planted under that id would send the change to any
     * build it names. One the chain does not bind is refused (unboundRecordRefusal: TAMPERED, or
     * CONFLICT where verify calls it a stopped change's); one an old chain's entry names is taken as
     * that entry's build and outcome, or refused by `legacy` where more of it would be believed. The
     * chain is read only when there is a record. A canary's start or abort row is no release: refused
     * (canaryRowRefusal, `refused`: where, what was asked and what to ask instead).
     */
    async readRelease(
      deployId: string,
      refused: Omit<CanaryRowRefused, 'row' | 'named'>,
      /** The stack's release store (Site `releases`; null in place): what verify holds a switch to. */
      releaseStore: VerifyOptions['releaseStore'],
      options: { legacy?: (deployId: string) => FrontendOpsError } = {},
    ): Promise<DeploymentRecord | null> {
      const record = await stateRecords.readRecord(deployId);
      if (!record) return null;
      const standing = await recordStanding(store, prefix, deployId, record);
      if (standing === 'unbound') {
        // Which of the two, verify says (the whole chain, read on this path only), given the CDN's
        // release store as every other reader gives it: without it, any atomic/pending.json (one
        // planted on an in-place stack too) would excuse a record under its id as a stopped switch's.
        // A store that does not answer is said so (verifyAuditAbout), never taken as one that does not serve the switch.
        const { problems } = await verifyAuditAbout(
          store,
          prefix,
          releaseStore,
          `the deployment record of ${deployId} (${recordName(deployId)} under this stack's state prefix), which no audit entry records,`,
        );
        const stopped = problems.find((p) => p.object === recordName(deployId) && p.kind === 'unfinished');
        throw unboundRecordRefusal(deployId, stopped?.reason);
      }
      if (standing === 'legacy' && options.legacy) throw options.legacy(deployId);
      if (isCanaryRow(record)) throw canaryRowRefusal(record, { ...refused, named: deployId });
      return record;
    },

    /**
     * Every deployment of app@commit this stack recorded (a deploy id starts with the commit's 7 hex:
     * one LIST of that prefix, usually empty for a new commit). Each names the build's digest as its
     * manifest had it then. Never a canary row (whose id does not start so but by chance).
     */
    async recordsOf(app: string, commit: string): Promise<DeploymentRecord[]> {
      return recordsOfBuild(await stateRecords.storedUnder(commit), app, commit);
    },

    /**
     * Every record stored under a deploy id of the commit's 7 hex (listedUnder, then each read), by
     * deploy id, as found: whatever it says (recordsOf keeps those of a build). A deploy judges one
     * under its own plan's id before it writes anything (deploy/apply.ts judgeStoredRecord).
     */
    async storedUnder(commit: string): Promise<Map<string, DeploymentRecord>> {
      const read = await settleAll(
        (await stateRecords.listedUnder(commit)).map(async (deployId) => {
          const value = await stateRecords.readRecord(deployId);
          return value ? ([deployId, value] as const) : null;
        }),
      );
      return new Map(read.filter((r) => r !== null));
    },

    /** The deploy ids records are stored under that start with the commit's 7 hex: one LIST, none read. */
    async listedUnder(commit: string): Promise<string[]> {
      if (!/^[0-9a-f]{7}/.test(commit)) return [];
      const listed = await store.list(key(`${DEPLOYMENTS}${commit.slice(0, 7)}-`));
      const from = key(DEPLOYMENTS).length;
      return listed.filter((o) => o.key.endsWith('.json')).map((o) => o.key.slice(from, -'.json'.length));
    },

    /** The deploy ids of the newest `limit` records, newest first: one LIST, no record read. */
    async listRecentIds(limit: number): Promise<string[]> {
      const page = await store.list(key(HISTORY), { limit });
      return page.map((o) => o.key.slice(-DEPLOY_ID_LENGTH));
    },

    /**
     * The newest `limit` releases of the history (the records of deploys, rollbacks and canary
     * promotes, whatever their outcome), newest first, read a page at a time. The rows of a canary's
     * start or abort met on the way are no release: they are kept apart, in `canaryRows`, and do not
     * count toward `limit`.
     */
    async listReleases(
      limit: number,
    ): Promise<{ releases: DeploymentRecord[]; canaryRows: DeploymentRecord[] }> {
      const releases: DeploymentRecord[] = [];
      const canaryRows: DeploymentRecord[] = [];
      let before: string | undefined;
      do {
        const page = await stateRecords.listRecords({
          limit: limit - releases.length,
          ...(before ? { before } : {}),
        });
        for (const record of page.records) (isCanaryRow(record) ? canaryRows : releases).push(record);
        before = page.next ?? undefined;
      } while (before !== undefined && releases.length < limit);
      return { releases, canaryRows };
    },

    /**
     * The releases recorded after the newest record of `commit` (its deploy id starts with the
     * commit's 7 hex), newest first, but for `except` (the change that asks): null when that record is
     * not among the history's newest `limit` releases, nor among its newest 2 × `limit` rows. The rows
     * of a canary's start or abort are no release: left out, they do not count toward `limit` (so the
     * look-back is whole unless more than `limit` such rows, half as many canaries, came among them).
     * One small LIST of ids, as on every deploy; then only rows newer than that record are read, and
     * only until `limit` releases.
     */
    async releasesSince(commit: string, limit: number, except?: string): Promise<DeploymentRecord[] | null> {
      const ids = (await stateRecords.listRecentIds(2 * limit + 1)).filter((id) => id !== except);
      const own = ids.findIndex((id) => id.startsWith(commit.slice(0, 7)));
      if (own < 0) return null;
      const releases: DeploymentRecord[] = [];
      for (let at = 0; at < own && releases.length < limit; ) {
        const chunk = ids.slice(at, Math.min(own, at + limit - releases.length));
        at += chunk.length;
        const read = await Promise.all(chunk.map((id) => stateRecords.readRecord(id)));
        releases.push(...read.filter((r): r is DeploymentRecord => r !== null && !isCanaryRow(r)));
      }
      return releases.length < limit ? releases : null;
    },

    /**
     * One page of the history's rows, newest first; `next` continues with older ones (null at the
     * end). The history shows a canary's start and abort as rows of their own: a reader that wants
     * the releases asks listReleases. `rows`: how many rows the page read (a row whose record is gone,
     * or is another deployment's, has none in `records`).
     */
    async listRecords(
      options: { limit?: number; before?: string } = {},
    ): Promise<{ records: DeploymentRecord[]; rows: number; next: string | null }> {
      const limit = options.limit ?? 50;
      if (options.before !== undefined && !HISTORY_CURSOR.test(options.before)) {
        throw badInput(
          `"${options.before.slice(0, 60)}" is not a history cursor; pass the \`next\` value of the previous page.`,
        );
      }
      const page = await store.list(key(HISTORY), {
        limit: limit + 1,
        ...(options.before ? { startAfter: key(`${HISTORY}${options.before}`) } : {}),
      });
      const shown = page.slice(0, limit);
      const records = await Promise.all(
        shown.map(async (o) => {
          const deployId = o.key.slice(-DEPLOY_ID_LENGTH);
          const record = await readJson<DeploymentRecord>(recordName(deployId));
          // Another deployment's record stored under this one's name is not this row's.
          return record?.value.deployId === deployId ? record.value : null;
        }),
      );
      const last = shown.at(-1);
      return {
        records: records.filter((r): r is DeploymentRecord => r !== null),
        rows: shown.length,
        next: page.length > limit && last ? last.key.slice(key(HISTORY).length) : null,
      };
    },
  };
  return stateRecords;
}

/** A state object's JSON; a damaged one is reported as such, naming it, never as a bug. */
export function parseStateObject<T>(key: string, body: Buffer): T {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new FrontendOpsError(
      'TAMPERED',
      `The state object ${key} is damaged (it is not valid JSON). Run \`frontendops audit verify\` to see what else changed, and restore it from the bucket's versions.`,
    );
  }
}

export type StateRecords = ReturnType<typeof createStateRecords>;
