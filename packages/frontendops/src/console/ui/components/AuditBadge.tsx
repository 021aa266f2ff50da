import type { AuditStatusView } from '../../types.ts';

/** The audit chain's verification, as a badge; the title says why it failed. */
export function AuditBadge({ audit }: { audit: AuditStatusView | null }) {
  if (!audit) return <span className="badge badge-unknown">audit: …</span>;
  if (audit.ok)
    return (
      <span className="badge badge-ok" title={`head ${audit.headHash ?? 'none'}`}>
        audit verified · {audit.entries} entries
      </span>
    );
  return (
    <span className="badge badge-bad" title={audit.problem?.reason}>
      audit {audit.problem?.kind === 'unfinished' ? 'waiting' : 'BROKEN'}: {audit.problem?.reason}
    </span>
  );
}
