/**
 * A canary's share of visitors, defined once for every surface (CLI, MCP tool, console API and page,
 * agent words, engine). A whole percentage from 1 to 99: 0 sends nobody to the build, and 100 sends
 * everybody without making it live, which is what a deploy or a promote is for. Imports nothing, so
 * the console page can bundle it too.
 */
export const CANARY_SHARE = { min: 1, max: 99 } as const;

/** The rule in words, for messages: "a whole percentage from 1 to 99". */
export const CANARY_SHARE_RULE = `a whole percentage from ${CANARY_SHARE.min} to ${CANARY_SHARE.max}`;

/** Why 100 is not a share, for messages that meet it. */
export const CANARY_SHARE_FULL = '100% is every visitor: that is a deploy (or a promote of a running canary)';

export function isCanaryShare(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= CANARY_SHARE.min &&
    value <= CANARY_SHARE.max
  );
}
