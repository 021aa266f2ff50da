/**
 * The command that finishes an interrupted change: the same change again. Said once, for `status`
 * and for the refusals that send a person to finish it first (`pin`). No imports: the CLI's status
 * command loads it at start-up.
 */

/** What an interrupted change was, as status shows it (../read/views.ts StatusView['pending']). */
export interface InterruptedChange {
  op?: 'deploy' | 'rollback' | 'canary-start' | 'canary-promote' | 'canary-abort' | 'migrate' | undefined;
  commit: string;
  percent?: number | undefined;
}

export function againCommand(pending: InterruptedChange): string {
  const commit = pending.commit.slice(0, 7);
  switch (pending.op) {
    case 'rollback':
      return `frontendops rollback --to ${commit}`;
    case 'canary-start':
      return `frontendops deploy --commit ${commit} --canary ${pending.percent ?? '<percent>'}`;
    case 'canary-promote':
      return 'frontendops canary promote';
    case 'canary-abort':
      return 'frontendops canary abort';
    case 'migrate':
      return 'frontendops migrate --to atomic';
    default:
      return `frontendops deploy --commit ${commit}`;
  }
}
