import type { HistoryItem, StatusView } from '../../types.ts';
import type { Asked } from '../App.tsx';
import { duration, shortSha, timeAgo } from '../format.ts';

/**
 * The deploy history as a timeline, newest first; a click opens the details drawer. Every release of
 * it that is not live is one click from coming back: "Roll back to this" (a rollback, which pins) or
 * "Redeploy this" — "Promote this" while the stack is pinned (live for everyone, pin cleared).
 */
export function History(props: {
  stack: string;
  status: StatusView | null;
  items: HistoryItem[];
  error: string | null;
  loaded: boolean;
  busy: boolean;
  onOpen: (deployId: string) => void;
  onAsk: (asked: Asked) => void;
}) {
  const { items, status } = props;
  const liveCommit = status?.live?.commit ?? null;
  const pinned = Boolean(status?.pin);
  return (
    <section className="card" aria-label="History">
      <h2>History</h2>
      {props.error && <p className="error-text">The history cannot be read: {props.error}</p>}
      {props.loaded && !props.error && items.length === 0 && (
        <p className="muted empty">
          Nothing has been deployed to {props.stack} yet. When a build is published (CI publishes every commit
          of the app), deploy it with <strong>Deploy latest</strong> above; every deployment and rollback then
          shows here.
        </p>
      )}
      <ol className="timeline">
        {items.map((item) => {
          const offered =
            !item.live && item.outcome === 'succeeded' && liveCommit !== null && item.commit !== liveCommit;
          return (
            <li key={item.deployId} className={`timeline-item outcome-${item.outcome}`}>
              <button type="button" className="timeline-button" onClick={() => props.onOpen(item.deployId)}>
                <span className="timeline-head">
                  <span className={`chip ${item.kind === 'rollback' ? 'chip-warn' : ''}`}>{item.kind}</span>
                  <code>{shortSha(item.commit)}</code>
                  <span className={`outcome outcome-text-${item.outcome}`}>{item.outcome}</span>
                  {item.live && <span className="chip chip-live">live</span>}
                  {item.tag && <span className="chip">{item.tag}</span>}
                  <span className="muted right">{timeAgo(item.finishedAt)}</span>
                </span>
                <span className="muted">
                  {item.copied} copied · {item.deleted} removed · {duration(item.durationMs)} ·{' '}
                  {item.request.actor} via {item.request.planner}
                </span>
                <span className="request">
                  “{item.request.text}”{item.request.message && <> — {item.request.message}</>}
                </span>
              </button>
              {offered && (
                <div className="timeline-actions">
                  <button
                    type="button"
                    disabled={props.busy}
                    onClick={() => props.onAsk({ action: 'rollback', to: item.deployId })}
                  >
                    Roll back to this
                  </button>
                  <button
                    type="button"
                    disabled={props.busy}
                    onClick={() =>
                      props.onAsk({ action: pinned ? 'promote' : 'redeploy', to: item.deployId })
                    }
                  >
                    {pinned ? 'Promote this' : 'Redeploy this'}
                  </button>
                </div>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
