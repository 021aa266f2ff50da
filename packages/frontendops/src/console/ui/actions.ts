/** What a person asked the page to do, and what came of it: shared by the page and its dialogs. */
import type { ActionResult, CanaryAction, CanaryResult, PinResult, PlanAction } from '../types.ts';

/** What the person asked to do; the dialog plans it (or, for the canary, reads it), shows it and asks to confirm. */
export type Asked =
  | { action: PlanAction; to?: string }
  | { action: 'pin' | 'unpin' }
  | { action: 'canary-promote' | 'canary-abort' };

export type Outcome =
  | { kind: 'release'; action: PlanAction; result: ActionResult }
  | { kind: 'pin'; action: 'pin' | 'unpin'; result: PinResult }
  | { kind: 'canary'; action: CanaryAction; result: CanaryResult };
