import type { ConsoleEvent } from '../../types.ts';

/** Live progress of the latest deploy or rollback: copy groups as bars, then each step. */
export function Progress({ events }: { events: ConsoleEvent[] }) {
  const deploys = events.filter((e) => e.source === 'deploy');
  const runId = deploys[deploys.length - 1]?.runId;
  if (!runId) return null;
  const run = deploys.filter((e) => e.runId === runId).map((e) => e.event);
  const copies = new Map<string, { done: number; total: number }>();
  for (const e of run) if (e.type === 'copy') copies.set(e.group, { done: e.done, total: e.total });
  const finished = run.find((e) => e.type === 'done' || e.type === 'error');
  return (
    <section className="card progress" aria-label="Progress" aria-live="polite">
      <h2>Progress {finished ? '' : <span className="spinner" title="running" />}</h2>
      {[...copies].map(([group, { done, total }]) => (
        <label key={group} className="bar-row">
          <span>copy {group}</span>
          <progress max={total} value={done} />
          <span>
            {done}/{total}
          </span>
        </label>
      ))}
      <ol className="steps">
        {run.map((e, i) =>
          e.type === 'step' ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: events are append-only.
            <li key={i}>
              <strong>{e.step}</strong> {e.detail}
            </li>
          ) : e.type === 'done' ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: events are append-only.
            <li key={i} className="ok-text">
              finished: {e.outcome}
            </li>
          ) : e.type === 'error' ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: events are append-only.
            <li key={i} className="error-text">
              {e.message}
            </li>
          ) : null,
        )}
      </ol>
    </section>
  );
}
