/**
 * An emulated CloudFront KeyValueStore: its keys, its ETag (a new one per write), and the history
 * of its versions, so that the local edge can see a write only after a propagation delay as
 * CloudFront edges do ("within seconds"), while the API already answers with the new version.
 */
import { randomBytes } from 'node:crypto';
import type { KvsSnapshot } from './edge-function.ts';

export interface KvsVersion {
  etag: string;
  committedAt: number;
  entries: ReadonlyMap<string, string>;
}

export interface EmulatedKeyValueStore {
  readonly arn: string;
  readonly created: Date;
  /** The latest version: what the API reads and conditional writes compare against. */
  current(): KvsVersion;
  /**
   * Applies `change` to a copy of the entries if `ifMatch` is the current ETag: one version per
   * write, all or nothing. Node runs this synchronously, so of concurrent writers naming the same
   * ETag exactly one wins.
   */
  commit(ifMatch: string, change: (draft: Map<string, string>) => void): KvsVersion | 'conflict';
  /** When the version with this ETag was written; undefined when it is no longer kept. */
  committedAt(etag: string): number | undefined;
  /** What an edge sees at `at`: the newest version committed at least `propagationMs` earlier. */
  visible(at: number, propagationMs: number): KvsSnapshot & { etag: string };
}

export function createEmulatedKeyValueStore(options: {
  arn: string;
  now?: () => number;
  initial?: Readonly<Record<string, string>>;
}): EmulatedKeyValueStore {
  const now = options.now ?? Date.now;
  const created = new Date(now());
  let versions: KvsVersion[] = [
    {
      etag: newEtag(),
      committedAt: created.getTime(),
      entries: new Map(Object.entries(options.initial ?? {})),
    },
  ];
  const latest = () => versions[versions.length - 1] as KvsVersion;

  return {
    arn: options.arn,
    created,
    current: latest,
    commit(ifMatch, change) {
      if (ifMatch !== latest().etag) return 'conflict';
      const draft = new Map(latest().entries);
      change(draft);
      const version = { etag: newEtag(), committedAt: now(), entries: draft };
      versions.push(version);
      // Bounded history: an edge lagging by more than this many writes sees the oldest kept.
      if (versions.length > MAX_VERSIONS) versions = versions.slice(-MAX_VERSIONS);
      return version;
    },
    committedAt: (etag) => versions.find((v) => v.etag === etag)?.committedAt,
    visible(at, propagationMs) {
      let index = 0;
      for (let i = versions.length - 1; i >= 0; i -= 1) {
        if ((versions[i] as KvsVersion).committedAt + propagationMs <= at) {
          index = i;
          break;
        }
      }
      // Older versions can never be seen again.
      if (index > 0) versions = versions.slice(index);
      const seen = versions[0] as KvsVersion;
      return { etag: seen.etag, entries: seen.entries, created, lastModified: new Date(seen.committedAt) };
    },
  };
}

/** Bytes a store holds: keys and values, UTF-8. */
export function storeSize(entries: ReadonlyMap<string, string>): number {
  let total = 0;
  for (const [key, value] of entries) total += Buffer.byteLength(key) + Buffer.byteLength(value);
  return total;
}

const MAX_VERSIONS = 1000;

// The API reference's examples look like "KV0AB12C3DEF456": KV and 13 upper-case characters.
const newEtag = () => `KV${randomBytes(10).toString('hex').toUpperCase().slice(0, 13)}`;
