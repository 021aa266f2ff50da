import type { StatusView } from '../../types.ts';
import { shortSha, timeAgo, untilWhen } from '../format.ts';

/**
 * Each environment with what is live: commit, tag, when, who, the request that did it, and its pin;
 * how its releases switch (atomic: one key write; in place: files synced), and on atomic stacks the
 * canary's share of visitors and the preview links still open (what and until when, never the link).
 */
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
              {typeof status === 'object' && <ModeChip mode={status.mode} />}
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
  if (!live) {
    return (
      <span className="live">
        <span className="muted">nothing deployed yet</span>
        <Recorded status={status} />
      </span>
    );
  }
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
      <Recorded status={status} />
      <Served status={status} />
      {status.pending && (
        <span className="error-text">
          an interrupted {status.pending.op ?? 'deploy'} waits to be finished
        </span>
      )}
      <Canary status={status} />
      <Previews status={status} />
      {status.siteUrl && (
        <a href={status.siteUrl} target="_blank" rel="noreferrer" onClick={(e) => e.stopPropagation()}>
          {status.siteUrl}
        </a>
      )}
    </span>
  );
}

function ModeChip({ mode }: { mode: StatusView['mode'] }) {
  return mode === 'atomic' ? (
    <span
      className="chip chip-mode"
      title="Each release is switched by one key write at the edge; nothing is invalidated"
    >
      atomic releases
    </span>
  ) : (
    <span
      className="chip chip-mode"
      title="Each deploy syncs the files into the bucket and refreshes the CDN"
    >
      in place
    </span>
  );
}

/**
 * A live pointer or live record the audit log does not bind (changed outside FrontendOps, or written
 * by a change that stopped): said, the whole story in the title.
 */
function Recorded({ status }: { status: StatusView }) {
  const { recorded } = status;
  if (recorded.state === 'as-recorded') return null;
  const words = {
    'changed-outside': 'Not what the audit log records (changed outside FrontendOps)',
    unfinished: 'Not recorded yet: an interrupted change wrote it',
    unknown: 'Not checked against the audit log',
  }[recorded.state];
  return (
    <span
      className={recorded.state === 'changed-outside' ? 'error-text' : undefined}
      data-testid={`recorded-${status.stack}`}
      title={recorded.note ?? undefined}
    >
      {words}
    </span>
  );
}

/**
 * Atomic stacks whose CDN release store names something else than the record (changed outside
 * FrontendOps): what visitors get instead, the whole story in the title.
 */
function Served({ status }: { status: StatusView }) {
  const { served } = status;
  if (served?.state !== 'changed-outside') return null;
  const release = (r: { releaseId: string; commit: string | null }) =>
    r.commit ? shortSha(r.commit) : `release ${r.releaseId}`;
  return (
    <span className="error-text" data-testid={`served-${status.stack}`} title={served.note ?? undefined}>
      Not what visitors get: the CDN serves{' '}
      {served.live ? <code>{release(served.live)}</code> : 'the bucket root'}
      {served.canary && (
        <>
          {' '}
          and <code>{release(served.canary)}</code> to {served.canary.percent}%
        </>
      )}{' '}
      (changed outside FrontendOps)
    </span>
  );
}

/** "Canary: sophia-dashboard@abc1234 gets 10% of visitors since 5 min ago, by alice", with a bar. */
function Canary({ status }: { status: StatusView }) {
  const { canary } = status;
  if (!canary) return null;
  return (
    <span className="canary-line" data-testid={`canary-${status.stack}`}>
      <span>
        <span className="dot dot-canary" aria-hidden="true" /> Canary:{' '}
        <code>
          {canary.app}@{shortSha(canary.commit)}
        </code>{' '}
        gets {canary.percent}% of visitors since {timeAgo(canary.startedAt)}, by {canary.by}
      </span>
      <span className="share" aria-hidden="true">
        <span className="share-canary" style={{ width: `${canary.percent}%` }} />
      </span>
      <span className="muted">
        {canary.percent}% on {shortSha(canary.commit)} · {100 - canary.percent}% on the live release
      </span>
    </span>
  );
}

/** Preview links still open: what, until when, who asked. The links went only to whoever asked. */
function Previews({ status }: { status: StatusView }) {
  if (status.mode !== 'atomic' || status.previews.length === 0) return null;
  return (
    <span className="previews" data-testid={`previews-${status.stack}`}>
      <span className="muted">Open preview links:</span>
      {status.previews.map((preview) => (
        <span key={`${preview.commit}-${preview.expiresAt}`} className="preview-item">
          <code>
            {preview.app}@{shortSha(preview.commit)}
          </code>{' '}
          until {untilWhen(preview.expiresAt)}, by {preview.by}
        </span>
      ))}
    </span>
  );
}
