/**
 * The operations recorded as a history row of their own besides their audit entry: a canary's start
 * and abort. Such a row never made its build live for everyone, so it is no release to roll back to,
 * promote, redeploy or preview; every reader that asks "was this live?" asks isCanaryEvent.
 *
 * A module of its own, importing nothing: the console's page asks it too, and takes nothing of
 * node's with it.
 */
const CANARY_EVENTS = ['canary-start', 'canary-abort'] as const;
export type CanaryEvent = (typeof CANARY_EVENTS)[number];
export const isCanaryEvent = (op: unknown): op is CanaryEvent => CANARY_EVENTS.includes(op as CanaryEvent);

/** A row of the history (its kind) of a change that made its build live for everyone: no canary row. */
export const wentLiveForEveryone = (item: { kind: string }): boolean => !isCanaryEvent(item.kind);
