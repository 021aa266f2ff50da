import type { ConsoleEvent, ProgressEvent } from '../../types.ts';

const COPYING: Record<string, string> = {
  asset: 'Copying hashed assets',
  other: 'Copying other files',
  html: 'Copying HTML, last',
};

/**
 * Live progress of the latest deploy or rollback, in people's words; the engine's own words (plan and
 * deploy ids, the pointer, invalidation ids) one click away.
 */
export function Progress({ events }: { events: ConsoleEvent[] }) {
  const deploys = events.filter((e) => e.source === 'deploy');
  const runId = deploys[deploys.length - 1]?.runId;
  if (!runId) return null;
  const run = deploys.filter((e) => e.runId === runId).map((e) => e.event);
  const copies = new Map<string, { done: number; total: number }>();
  for (const e of run) if (e.type === 'copy') copies.set(e.group, { done: e.done, total: e.total });
  const finished = run.find((e) => e.type === 'done' || e.type === 'error');
  const lines = run.filter(
    (e) => e.type === 'plan' || e.type === 'step' || e.type === 'done' || e.type === 'error',
  );
  return (
    <section className="card progress" aria-label="Progress" aria-live="polite">
      <h2>Progress {finished ? '' : <span className="spinner" title="running" />}</h2>
      {[...copies].map(([group, { done, total }]) => (
        <label key={group} className="bar-row">
          <span>{COPYING[group] ?? `Copying ${group}`}</span>
          <progress max={total} value={done} />
          <span>
            {done}/{total}
          </span>
        </label>
      ))}
      <ol className="steps">
        {lines.map((e, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: events are append-only.
          <li key={i} className={e.type === 'error' ? 'error-text' : e.type === 'done' ? 'ok-text' : ''}>
            {headline(e)}
          </li>
        ))}
      </ol>
      <details className="engine-detail">
        <summary>Engine detail</summary>
        <ol className="steps">
          {run.map((e, i) => {
            const text = detail(e);
            // biome-ignore lint/suspicious/noArrayIndexKey: events are append-only.
            return text ? <li key={i}>{text}</li> : null;
          })}
        </ol>
      </details>
    </section>
  );
}

function headline(e: ProgressEvent): string {
  switch (e.type) {
    case 'plan':
      return e.headline ?? e.plan.description;
    case 'step':
      return e.headline ?? e.detail;
    case 'done':
      if (e.headline) return e.headline;
      return e.outcome === 'noop'
        ? 'Finished: it was already live, nothing changed.'
        : `Finished: ${e.outcome}.`;
    case 'error':
      return e.message;
    default:
      return '';
  }
}

function detail(e: ProgressEvent): string | null {
  switch (e.type) {
    case 'plan':
      return `plan ${e.plan.deployId}: ${e.plan.filesToCopy} to copy, ${e.plan.unchanged} unchanged, ${e.plan.toPrune} to prune, ${e.plan.invalidationPaths.length} path(s) to invalidate`;
    case 'step':
      return `${e.step}: ${e.detail}`;
    case 'error':
      return `${e.code}: ${e.message}`;
    case 'done':
      return `done: ${e.outcome}`;
    default:
      return null;
  }
}
