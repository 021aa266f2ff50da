import { useEffect, useState } from 'react';
import type { DeploymentDetails } from '../../types.ts';
import { getJson, stackPath } from '../api.ts';
import { duration, plural } from '../format.ts';

/** One deployment in full: files copied and pruned, invalidation, verification, duration, audit entry. */
export function DetailsDrawer(props: { stack: string; deployId: string; onClose: () => void }) {
  const [details, setDetails] = useState<DeploymentDetails | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setDetails(null);
    getJson<DeploymentDetails>(
      stackPath(props.stack, `deployments/${encodeURIComponent(props.deployId)}`),
    ).then(setDetails, (e: unknown) => setError((e as Error).message));
  }, [props.stack, props.deployId]);

  return (
    <aside className="drawer" aria-label="Deployment details">
      <header className="drawer-head">
        <h2>Deployment {props.deployId}</h2>
        <button type="button" onClick={props.onClose} aria-label="Close details">
          ×
        </button>
      </header>
      {error && <p className="error-text">{error}</p>}
      {!details && !error && <p className="muted">loading…</p>}
      {details && (
        <dl className="facts">
          <dt>Kind / outcome</dt>
          <dd>
            {details.kind} · {details.outcome}
            {details.error && <span className="error-text"> — {details.error.message}</span>}
          </dd>
          <dt>Commit</dt>
          <dd>
            <code>{details.commit}</code>
            {details.fromCommit && (
              <>
                {' '}
                (was <code>{details.fromCommit.slice(0, 7)}</code>)
              </>
            )}
          </dd>
          <dt>Tag</dt>
          <dd>{details.tag ?? <span className="muted">none known</span>}</dd>
          <dt>Request</dt>
          <dd>
            “{details.request.text}” — {details.request.actor} via {details.request.planner},{' '}
            {details.request.at}
          </dd>
          <dt>Duration</dt>
          <dd>
            {duration(details.durationMs)} ({details.startedAt} → {details.finishedAt})
          </dd>
          <dt>Artifact</dt>
          <dd>
            <code>{details.artifactDigest}</code>
          </dd>
          <dt>Copied ({details.copiedFiles.length})</dt>
          <dd>
            <FileList files={details.copiedFiles} /> {plural(details.unchanged, 'file')} unchanged
          </dd>
          <dt>Pruned ({details.deletedFiles.length})</dt>
          <dd>
            <FileList files={details.deletedFiles} />
          </dd>
          <dt>Invalidation</dt>
          <dd>
            {details.invalidation ? (
              <>
                {details.invalidation.ids.join(', ')}: <FileList files={details.invalidation.paths} />
              </>
            ) : (
              <span className="muted">none</span>
            )}
          </dd>
          <dt>Verification</dt>
          <dd>
            {details.verification ? (
              <span className={details.verification.ok ? 'ok-text' : 'error-text'}>
                {details.verification.ok ? 'served' : 'failed'}: {details.verification.detail}
              </span>
            ) : (
              <span className="muted">not checked (no site URL)</span>
            )}
          </dd>
          <dt>Audit entry</dt>
          <dd>
            {details.audit ? (
              <>
                #{details.audit.seq} ({details.audit.type}, {details.audit.at})<br />
                <code className="hash">{details.audit.hash}</code>
              </>
            ) : (
              <span className="error-text">not in the audit log as shown: written or changed around it</span>
            )}
          </dd>
        </dl>
      )}
    </aside>
  );
}

function FileList({ files }: { files: string[] }) {
  if (files.length === 0) return <span className="muted">none</span>;
  return (
    <ul className="files">
      {files.map((f) => (
        <li key={f}>
          <code>{f}</code>
        </li>
      ))}
    </ul>
  );
}
