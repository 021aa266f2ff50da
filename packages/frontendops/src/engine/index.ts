/**
 * The pure deploy engine: manifests, the deploy plan, invalidation batches, the cache policy, deploy
 * ids and stack targets. No I/O. Public API (`frontendops/engine`): every export here is a promise.
 */

export * from './atomic-plan.ts';
export * from './cache-policy.ts';
export * from './describe.ts';
export * from './ids.ts';
export * from './invalidation.ts';
export * from './manifest.ts';
export * from './plan.ts';
export * from './sync-command.ts';
export * from './target.ts';
export type * from './types.ts';
