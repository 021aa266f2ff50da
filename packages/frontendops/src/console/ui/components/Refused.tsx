import { sessionLifetime } from '../format.ts';

/** Shown when the API refuses this browser: how to get in, without revealing anything else. */
export function Refused({ message }: { message: string }) {
  return (
    <main className="refused" role="alert">
      <h1>Access refused</h1>
      <p>{message}</p>
      <p>
        <code>frontendops console</code> (and <code>npm start</code>) prints a sign-in address when it starts,
        and a new one when one is refused. Open that address: it signs this tab in, until the tab closes,
        signs out, or {sessionLifetime()} pass.
      </p>
    </main>
  );
}
