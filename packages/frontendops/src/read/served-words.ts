/**
 * On atomic stacks, what the CDN serves is read beside what FrontendOps recorded (read/status.ts
 * `served`). Unless they agree, every reader says so the same way, first: `status`, `canary status`
 * and the agent's "what's live" (a release store changed outside FrontendOps is what visitors get).
 */
import type { ServedView } from './views.ts';

/** "WARNING: not what visitors get: …", "switching: …", "note: …"; null when the CDN serves what was recorded. */
export function describeServed(served: ServedView | null | undefined): string | null {
  if (!served?.note) return null;
  const lead =
    served.state === 'changed-outside'
      ? 'WARNING: not what visitors get:'
      : served.state === 'switching'
        ? 'switching:'
        : 'note:';
  return `${lead} ${served.note}`;
}
