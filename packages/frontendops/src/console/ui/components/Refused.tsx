/** Shown when the API refuses this browser: how to get in, without revealing anything else. */
export function Refused({ message }: { message: string }) {
  return (
    <main className="refused" role="alert">
      <h1>Access refused</h1>
      <p>{message}</p>
      <p>
        The token is printed by <code>frontendops console</code> (and <code>frontendops dev</code>) when it
        starts. Open the address it prints; this tab then stays signed in while it is open (12 hours at most).
      </p>
    </main>
  );
}
