/** A stack the console cannot reach: one message, on the page, saying what to do. */
export function Unreachable(props: { stack: string; message: string; onRetry: () => void }) {
  const local = props.stack === 'local';
  return (
    <section className="card unreachable" role="alert" aria-label="Stack unreachable">
      <h2>{props.stack} cannot be reached</h2>
      <p>{props.message}</p>
      <p className="muted">
        {local
          ? 'Start the local environment (npm start) in this directory, then try again.'
          : 'Check that the stack exists and that this machine may read its outputs and buckets, then try again.'}
      </p>
      <div className="actions">
        <button type="button" onClick={props.onRetry}>
          Try again
        </button>
      </div>
    </section>
  );
}
