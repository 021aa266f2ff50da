import type { AuditStatusView } from '../../types.ts';

export type AuditState =
  | { state: 'loading' }
  | { state: 'checked'; audit: AuditStatusView }
  | { state: 'failed'; message: string };

/** The audit chain's verification, as a badge: checking, verified, broken (why), or not checked (why). */
export function AuditBadge({ state }: { state: AuditState }) {
  if (state.state === 'loading') return <span className="badge badge-unknown">audit: checking…</span>;
  if (state.state === 'failed') {
    return (
      <span className="badge badge-unknown" title={state.message}>
        audit: not checked — {state.message}
      </span>
    );
  }
  const { audit } = state;
  if (audit.ok) {
    // What verify could not check, and deployments no deploy tag anchors, do not fail it, but are
    // said (as the CLI's note: lines), each as what it is, not hidden.
    const notes = audit.notes.length;
    const untagged = audit.untagged?.deployments.length ?? 0;
    return (
      <span
        className={`badge ${notes + untagged > 0 ? 'badge-unknown' : 'badge-ok'}`}
        title={[
          `head ${audit.headHash ?? 'none'}`,
          ...(audit.untagged ? [audit.untagged.note] : []),
          ...audit.notes,
        ].join('\n')}
      >
        audit verified · {audit.entries} entries
        {untagged > 0 ? ` · ${untagged} deployment${untagged === 1 ? '' : 's'} with no deploy tag` : ''}
        {notes > 0 ? ` · ${notes} not checked` : ''}
      </span>
    );
  }
  return (
    <span className="badge badge-bad" title={audit.problem?.reason}>
      audit {audit.problem?.kind === 'unfinished' ? 'waiting' : 'BROKEN'}: {audit.problem?.reason}
    </span>
  );
}
