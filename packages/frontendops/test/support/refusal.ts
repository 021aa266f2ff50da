/** The error a promise rejects with: a test of a refusal fails, saying so, when it goes through. */
export async function refusal(run: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await run;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a refusal, but it went through');
}
