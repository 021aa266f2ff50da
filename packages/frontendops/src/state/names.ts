/**
 * Names of FrontendOps' own objects: the atomic releases' state objects under a stack's state prefix
 * (where state/atomic.ts keeps them, and how audit entries bind them and `audit verify` finds them),
 * and the environment marker in a hosting bucket.
 */
/** The hosting bucket's environment marker (state/environment.ts); never pruned, never served. */
export const ENVIRONMENT_MARKER = '.frontendops/environment.json';
/** Everything of the atomic releases is under this. */
export const ATOMIC = 'atomic/';
export const ATOMIC_STATE = `${ATOMIC}state.json`;
export const ATOMIC_PENDING = `${ATOMIC}pending.json`;
export const RELEASE_INDEXES = `${ATOMIC}releases/`;
export const releaseIndexName = (releaseId: string) => `${RELEASE_INDEXES}${releaseId}.json`;
