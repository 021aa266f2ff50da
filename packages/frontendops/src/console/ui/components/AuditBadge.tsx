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
    // What verify could not check does not fail it, but is said (as the CLI's note: lines), not hidden.
    const notes = audit.notes.length;
    return (
      <span
        className={`badge ${notes > 0 ? 'badge-unknown' : 'badge-ok'}`}
        title={[`head ${audit.headHash ?? 'none'}`, ...audit.notes].join('\n')}
      >
        audit verified · {audit.entries} entries
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
