/**
 * Names of FrontendOps' own objects: the audit chain's and the approvals' objects and the atomic
 * releases' state objects under a stack's state prefix (where state/ keeps them, how audit entries
 * bind them, how `audit verify` finds them and which of them the CI roles may only create, see
 * src/access.ts), and the environment marker in a hosting bucket.
 */
import { HOSTING_OWN } from '../engine/manifest.ts';

export { HOSTING_OWN };
/** The hosting bucket's environment marker (state/environment.ts). */
export const ENVIRONMENT_MARKER = `${HOSTING_OWN}environment.json`;
/** The stack's pin (state/pin.ts). */
export const PIN = 'pin.json';
/** Everything of the atomic releases is under this. */
export const ATOMIC = 'atomic/';
export const ATOMIC_STATE = `${ATOMIC}state.json`;
export const ATOMIC_PENDING = `${ATOMIC}pending.json`;
export const RELEASE_INDEXES = `${ATOMIC}releases/`;
export const releaseIndexName = (releaseId: string) => `${RELEASE_INDEXES}${releaseId}.json`;
/** The live pointer: the in-place release visitors get, and the releases retained (state/records.ts). */
export const LIVE = 'live.json';
/** The in-place crash-recovery record (not bound by the audit chain). */
export const PENDING = 'pending.json';
/** The deployment records, one per deployment (recordName). */
export const DEPLOYMENTS = 'deployments/';
/** A deployment's immutable record; the audit entry that records a deployment binds it under this name. */
export const recordName = (deployId: string) => `${DEPLOYMENTS}${deployId}.json`;
/** The history index: one empty object per deployment, named to list newest first (state/records.ts). */
export const HISTORY = 'history/';
/** The locks taken in the state bucket (adapters/lock-s3.ts), the publish lock's among them. */
export const LOCKS = 'locks/';
/** Where a process writes the object that tells whether the endpoint honours conditional writes. */
export const CONDITIONAL_WRITE_PROBES = 'probe/';

/**
 * The audit chain: its entries (each at auditEntryName, nothing deeper) and the head record that
 * names the newest. Nothing else is kept here: `audit verify` reports any other object under it.
 */
export const AUDIT = 'audit/';
export const AUDIT_HEAD = `${AUDIT}head.json`;
/** Entry `seq`: the number zero-padded to ten digits, so names sort in chain order. */
export const auditEntryName = (seq: number) => `${AUDIT}${String(seq).padStart(10, '0')}.json`;
/**
 * What every entry's name starts with below entry 1,000,000,000 (and the head's does not): the
 * prefix under which objects may be created but never replaced or deleted.
 */
export const AUDIT_ENTRIES = `${AUDIT}0`;
/**
 * The publish log: a chain of its own (entries and head under `<this>audit/`), where publishes are
 * recorded. The publisher role may append to it and to nothing else of the state: the deploy chain,
 * which records every change to the site and which the deploy tags anchor, is the deployer's alone.
 */
export const PUBLISH_LOG = 'publishes/';
/** The markers of approvals used, one per approval request's nonce. */
export const APPROVALS_USED = 'approvals/used/';
/** The signed statements of approvals, one per request (`<action>-<deploy id>.json`). */
export const APPROVALS_SIGNED = 'approvals/signed/';
/** The approval requests the server made, one per action and deploy id. */
export const APPROVAL_REQUESTS = 'approvals/requests/';
/** An approval request's object name under `approvals/requests/` and `approvals/signed/`. */
export const approvalName = (action: string, deployId: string) => `${action}-${deployId}.json`;
