/**
 * The automatic switch back (a change the CDN does not serve in time is recorded as failed, and the
 * release live before it goes live again, under the same request) in the words every surface uses:
 * the CLI, the infra server's answer, the runbook and `history`. No dependencies.
 */

/** How the switch back happened, as every surface names it. */
export const SWITCHED_BACK = 'switched back automatically';

/** "the previous release is live again, switched back automatically (<the switch back's deploy id>)". */
export const switchedBack = (deployId: string): string =>
  `the previous release is live again, ${SWITCHED_BACK} (${deployId})`;

/** A failed change that was not switched back (asked not to, or the release before it was not whole). */
export const NOT_SWITCHED_BACK = 'it was not switched back';
