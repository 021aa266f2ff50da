/**
 * Promise.all that waits for every promise before it throws: where each promise is a request, none
 * is left in flight when the caller hears of a failure (and stops, or returns to a long-lived process
 * that goes on with something else). The failure thrown is the first in the order given, not the
 * first in time, so the same state gives the same answer.
 */
export async function settleAll<const T extends readonly unknown[]>(
  values: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(values);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
