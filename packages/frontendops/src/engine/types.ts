/** Data shared by the pure core and the adapters. No I/O here. */

/** One file of a build, keyed in the manifest by its site path ("/index.html"). */
export interface FileEntry {
  sha256: string;
  size: number;
  contentType: string;
  cacheControl: string;
}

/** `manifest.json` of an artifact: s3://<artifacts>/<app>/<commit>/manifest.json */
export interface Manifest {
  app: string;
  commit: string;
  createdAt: string;
  files: Record<string, FileEntry>;
}

/** Where a stack says to deploy. Holds bucket names: never leaves the servers (the README's "Secure" promise). */
export interface DeployTarget {
  /** The stack (environment) name, e.g. dashboard-hosting-prod. */
  stack: string;
  artifactsBucket: string;
  hostingBucket: string;
  /** Where deployment records, the live pointer, the lock and the audit chain live. */
  stateBucket: string;
  statePrefix: string;
  distributionId?: string;
  region: string;
  endpoint?: string;
  siteUrl?: string;
  /** false when the stack's sync command has no --delete: nothing is ever pruned. */
  prune: boolean;
  /** The KeyValueStore of atomic releases (output releaseStoreArn): present = atomic mode. */
  releaseStoreArn?: string;
}

/** A file's group decides its write order: hashed assets, then other files, then HTML last. */
export type FileGroup = 'asset' | 'other' | 'html';

/**
 * How a deployment record ended (state/records.ts), said here so the core's words can name it. A
 * failed deploy switched back is recorded failed (its run says `rolledBackTo`).
 */
export type Outcome = 'succeeded' | 'failed' | 'superseded';
