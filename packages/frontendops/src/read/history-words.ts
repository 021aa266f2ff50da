/**
 * What a history page left out, in the words every reader uses: the CLI's `history`, MCP
 * get_history's text and the console's timeline. No dependencies: the console's browser bundle
 * reads it too.
 */

/** The command that says which rows were left out, and why. */
export const LEFT_OUT_CHECK = 'frontendops audit verify';

/**
 * "N rows of this page are left out: <why>." for `count` > 0 (the check is said after it): its
 * deployments, and its changes of who approves, that no entry the audit chain holds records as read.
 */
export const leftOutSentence = (count: number): string =>
  `${count === 1 ? '1 row of this page is' : `${count} rows of this page are`} left out: no audit entry the chain holds records ${count === 1 ? 'it as it reads' : 'them as they read'} now (written or changed outside FrontendOps, or by a change stopped before recording it).`;
