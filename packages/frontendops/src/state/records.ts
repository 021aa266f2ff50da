/**
 * Deployment records, the live pointer and the pending (in-flight) plan, kept as JSON in the state
 * bucket under the stack's state prefix. The pointer moves by compare-and-swap where the endpoint
 * supports conditional writes; the deploy lock serialises writers everywhere else.
 */
import type { DeployPlan } from '../engine/plan.ts';
import type { ObjectStore } from '../ports.ts';

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
  /** "cli", "runbook", "model:<provider:model>", "console" */
  planner: string;
  at: string;
}

export type Outcome = 'succeeded' | 'failed' | 'rolled-back' | 'superseded';

export interface DeploymentRecord {
  deployId: string;
  stack: string;
  kind: 'deploy' | 'rollback';
  app: string;
  commit: string;
  artifactDigest: string;
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
  /** Set when a failed deploy was rolled back automatically. */
  rolledBackBy?: string;
}

export interface PendingDeploy {
  plan: DeployPlan;
  request: RequestInfo;
  startedAt: string;
  /** Set once the pointer names this deploy: only the steps after it remain. */
  pointerMoved: boolean;
}

export function createStateRecords(store: ObjectStore, prefix: string) {
  const key = (name: string) => `${prefix}${name}`;
  const readJson = async <T>(name: string): Promise<{ value: T; etag: string } | null> => {
    const object = await store.get(key(name));
    return object ? { value: JSON.parse(object.body.toString('utf8')) as T, etag: object.etag } : null;
  };
  const writeJson = (name: string, value: unknown, condition = {}) =>
    store.put(
      key(name),
      JSON.stringify(value, null, 2),
      { contentType: 'application/json', cacheControl: 'no-cache' },
      condition,
    );

  return {
    readPointer: () => readJson<LivePointer>('live.json'),

    async writePointer(pointer: LivePointer, previousEtag: string | null): Promise<void> {
      const conditional = await store.supportsConditionalWrites();
      await writeJson(
        'live.json',
        pointer,
        !conditional ? {} : previousEtag ? { ifMatch: previousEtag } : { ifNoneMatch: '*' },
      );
    },

    readPending: async () => (await readJson<PendingDeploy>('pending.json'))?.value ?? null,
    writePending: (pending: PendingDeploy) => writeJson('pending.json', pending),
    clearPending: () => store.delete([key('pending.json')]),

    async writeRecord(record: DeploymentRecord): Promise<void> {
      if (await store.head(key(`deployments/${record.deployId}.json`))) return; // records are immutable
      await writeJson(`deployments/${record.deployId}.json`, record);
    },

    readRecord: async (deployId: string) =>
      (await readJson<DeploymentRecord>(`deployments/${deployId}.json`))?.value ?? null,

    /** Newest first. */
    async listRecords(limit = 50): Promise<DeploymentRecord[]> {
      const keys = (await store.list(key('deployments/'))).map((o) => o.key);
      const records = await Promise.all(
        keys.map(async (k) => {
          const object = await store.get(k);
          return object ? (JSON.parse(object.body.toString('utf8')) as DeploymentRecord) : null;
        }),
      );
      return records
        .filter((r): r is DeploymentRecord => r !== null)
        .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
        .slice(0, limit);
    },
  };
}

export type StateRecords = ReturnType<typeof createStateRecords>;
