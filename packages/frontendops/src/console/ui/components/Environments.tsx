import type { StatusView } from '../../types.ts';
import { shortSha, timeAgo } from '../format.ts';

/** Each environment with what is live: commit, tag, when, who, the request that did it, and its pin. */
export function Environments(props: {
  stacks: string[];
  statuses: Record<string, StatusView | string>;
  selected: string;
  onSelect: (stack: string) => void;
}) {
  return (
    <nav className="environments" aria-label="Environments">
      <h2>Environments</h2>
      {props.stacks.map((stack) => {
        const status = props.statuses[stack];
        return (
          <button
            type="button"
            key={stack}
            className={`env-card${stack === props.selected ? ' env-selected' : ''}`}
            aria-pressed={stack === props.selected}
            onClick={() => props.onSelect(stack)}
          >
            <span className="env-name">
              {typeof status === 'object' ? status.stack : stack}
              {typeof status === 'object' && status.protected && (
                <span className="tag-protected">protected</span>
              )}
              {typeof status === 'object' && status.pin && <span className="chip chip-pin">pinned</span>}
            </span>
            <LiveRelease status={status} />
          </button>
        );
      })}
    </nav>
  );
}

function LiveRelease({ status }: { status: StatusView | string | undefined }) {
  if (status === undefined) return <span className="muted">loading…</span>;
  // The reason and what to do are said once, in the main area.
  if (typeof status === 'string') return <span className="error-text">cannot be reached</span>;
  const { live } = status;
  if (!live) return <span className="muted">nothing deployed yet</span>;
  return (
    <span className="live" data-testid={`live-${status.stack}`}>
      <span className="live-line">
        <span className="dot dot-live" aria-hidden="true" /> Live: <code>{shortSha(live.commit)}</code>
        {live.tag && <span className="chip">{live.tag}</span>}
        {live.kind === 'rollback' && <span className="chip chip-warn">rollback</span>}
      </span>
      <span className="muted">
        {timeAgo(live.releasedAt)}
        {live.request && <> · by {live.request.actor}</>}
      </span>
      {live.request && <span className="request">“{live.request.text}”</span>}
      {status.pending && <span className="error-text">an interrupted deploy waits to be finished</span>}
      {status.siteUrl && (
        <a href={status.siteUrl} target="_blank" rel="noreferrer" onClick={(e) => e.stopPropagation()}>
          {status.siteUrl}
        </a>
      )}
    </span>
  );
}
