/**
 * A point a test holds a change at: `reached` resolves once the change arrives there (`arrive()`,
 * which then waits), and the change goes on once the test calls `release()`.
 */
export function heldPoint(): { reached: Promise<void>; release: () => void; arrive: () => Promise<void> } {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let reach = () => {};
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  return {
    reached,
    release,
    arrive: async () => {
      reach();
      await released;
    },
  };
}
