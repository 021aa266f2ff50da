/**
 * What a history page left out, in the words every reader uses: the CLI's `history`, MCP
 * get_history's text and the console's timeline. No dependencies: the console's browser bundle
 * reads it too.
 */

/** The command that says which rows were left out, and why. */
export const LEFT_OUT_CHECK = 'frontendops audit verify';

/** "N deployments of this page are left out: <why>." for `count` > 0 (the check is said after it). */
export const leftOutSentence = (count: number): string =>
  `${count === 1 ? '1 deployment of this page is' : `${count} deployments of this page are`} left out: no audit entry records ${count === 1 ? 'its record as it reads' : 'their records as they read'} now (written or changed outside FrontendOps, or by a change stopped before recording it).`;
