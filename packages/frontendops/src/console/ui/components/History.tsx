import type { HistoryItem } from '../../types.ts';
import { duration, shortSha, timeAgo } from '../format.ts';

/** The deploy history as a timeline, newest first; a click opens the details drawer. */
export function History({ items, onOpen }: { items: HistoryItem[]; onOpen: (deployId: string) => void }) {
  return (
    <section className="card" aria-label="History">
      <h2>History</h2>
      {items.length === 0 && <p className="muted">No deployments recorded yet.</p>}
      <ol className="timeline">
        {items.map((item) => (
          <li key={item.deployId} className={`timeline-item outcome-${item.outcome}`}>
            <button type="button" className="timeline-button" onClick={() => onOpen(item.deployId)}>
              <span className="timeline-head">
                <span className={`chip ${item.kind === 'rollback' ? 'chip-warn' : ''}`}>{item.kind}</span>
                <code>{shortSha(item.commit)}</code>
                <span className={`outcome outcome-text-${item.outcome}`}>{item.outcome}</span>
                {item.live && <span className="chip chip-live">live</span>}
                <span className="muted right">{timeAgo(item.finishedAt)}</span>
              </span>
              <span className="muted">
                {item.copied} copied · {item.deleted} pruned · {duration(item.durationMs)} ·{' '}
                {item.request.actor} via {item.request.planner}
              </span>
              <span className="request">“{item.request.text}”</span>
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}
