import { useState } from 'react';
import { wentLiveForEveryone } from '../../../engine/canary-event.ts';
import { LEFT_OUT_CHECK, leftOutSentence } from '../../../read/history-words.ts';
import type { HistoryItem, PolicyChangeItem, PreviewResult, StatusView } from '../../types.ts';
import type { Asked } from '../actions.ts';
import { newRunId, postJson } from '../api.ts';
import { duration, shortSha, timeAgo, untilWhen } from '../format.ts';

type PreviewState =
  | { state: 'loading' }
  | { state: 'ready'; link: PreviewResult }
  | { state: 'failed'; message: string };

/**
 * The deploy history as a timeline, newest first; a click opens the details drawer. Every release of
 * it that is not live is one click from coming back: "Roll back to this" (a rollback, which pins) or
 * "Redeploy this" — "Promote this" while the stack is pinned (live for everyone, pin cleared). On an
 * atomic stack each release that is not live can be looked at first: "Preview" asks for a signed,
 * expiring link, shown here to whoever asked (status lists open previews without the link).
 */
export function History(props: {
  stack: string;
  status: StatusView | null;
  items: HistoryItem[];
  /** Changes of who approves the stack's changes, newest first: said above the timeline. */
  policyChanges: PolicyChangeItem[];
  /** Rows left out: no audit entry records their deployment record as it reads now. */
  unrecorded: number;
  error: string | null;
  loaded: boolean;
  busy: boolean;
  onOpen: (deployId: string) => void;
  onAsk: (asked: Asked) => void;
}) {
  const { items, status } = props;
  const liveCommit = status?.live?.commit ?? null;
  const pinned = Boolean(status?.pin);
  const atomic = status?.mode === 'atomic';
  const [previews, setPreviews] = useState<Record<string, PreviewState>>({});

  const askPreview = async (deployId: string) => {
    const set = (state: PreviewState) => setPreviews((all) => ({ ...all, [deployId]: state }));
    set({ state: 'loading' });
    try {
      const link = await postJson<PreviewResult>('/api/preview', {
        stack: props.stack,
        deployId,
        runId: newRunId(),
      });
      set({ state: 'ready', link });
    } catch (error) {
      set({ state: 'failed', message: (error as Error).message });
    }
  };

  return (
    <section className="card" aria-label="History">
      <h2>History</h2>
      {props.error && <p className="error-text">The history cannot be read: {props.error}</p>}
      {props.unrecorded > 0 && (
        <p className="error-text" data-testid="history-unrecorded">
          {leftOutSentence(props.unrecorded)} Run <code>{LEFT_OUT_CHECK}</code> to see which.
        </p>
      )}
      {props.loaded && !props.error && items.length === 0 && props.unrecorded === 0 && (
        <p className="muted empty">
          Nothing has been deployed to {props.stack} yet. When a build is published (CI publishes every commit
          of the app), deploy it with <strong>Deploy latest</strong> above; every deployment and rollback then
          shows here.
        </p>
      )}
      {props.policyChanges.length > 0 && (
        <div className="policy-changes">
          {props.policyChanges.map((change) => (
            <p key={change.seq} className="warn-text" data-testid="history-policy-change">
              <span className="muted">{timeAgo(change.at)}:</span> {change.description}
            </p>
          ))}
        </div>
      )}
      <ol className="timeline">
        {items.map((item) => {
          // A canary's start or abort row is no release the stack had live for everyone: nothing to
          // roll back to, redeploy or preview from it (its build has the promote's or a deploy's row).
          const release = wentLiveForEveryone(item);
          const offered =
            release &&
            !item.live &&
            item.outcome === 'succeeded' &&
            liveCommit !== null &&
            item.commit !== liveCommit;
          const previewable = atomic && !item.live && release;
          const preview = previews[item.deployId];
          return (
            <li key={item.deployId} className={`timeline-item outcome-${item.outcome}`}>
              <button type="button" className="timeline-button" onClick={() => props.onOpen(item.deployId)}>
                <span className="timeline-head">
                  <span
                    className={`chip ${item.kind === 'rollback' || item.kind === 'canary-abort' ? 'chip-warn' : ''}`}
                  >
                    {item.kind}
                    {item.kind === 'canary-start' &&
                      item.canary?.percent !== undefined &&
                      ` ${item.canary.percent}%`}
                  </span>
                  <code>{shortSha(item.commit)}</code>
                  <span className={`outcome outcome-text-${item.outcome}`}>{item.outcome}</span>
                  {item.live && <span className="chip chip-live">live</span>}
                  {item.tag && <span className="chip">{item.tag}</span>}
                  <span className="muted right">{timeAgo(item.finishedAt)}</span>
                </span>
                <span className="muted">
                  {item.copied} copied · {item.deleted} removed · {duration(item.durationMs)} ·{' '}
                  {item.request.actor} via {item.request.planner}
                  {item.approvedBy && <> · approved by {item.approvedBy}</>}
                </span>
                <span className="request">
                  “{item.request.text}”{item.request.message && <> — {item.request.message}</>}
                </span>
              </button>
              {(offered || previewable) && (
                <div className="timeline-actions">
                  {offered && (
                    <>
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
                    </>
                  )}
                  {previewable && (
                    <button
                      type="button"
                      disabled={props.busy || preview?.state === 'loading'}
                      title="A signed link that shows this release at the site's address, for a day; visitors keep the live one"
                      onClick={() => void askPreview(item.deployId)}
                    >
                      Preview
                    </button>
                  )}
                </div>
              )}
              {preview && <PreviewLine preview={preview} />}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function PreviewLine({ preview }: { preview: PreviewState }) {
  if (preview.state === 'loading') return <p className="muted">Making a signed preview link…</p>;
  if (preview.state === 'failed') return <p className="error-text">{preview.message}</p>;
  const { link } = preview;
  return (
    <p className="preview-link" role="status" aria-label="Preview link">
      <a href={link.url} target="_blank" rel="noreferrer">
        Open the preview of {link.app}@{shortSha(link.commit)}
      </a>{' '}
      <span className="muted">
        · works until {untilWhen(link.expiresAt)} · only you got this link; visitors keep the live release
      </span>
    </p>
  );
}
