import { expect } from 'vitest';
import { FrontendOpsError } from '../../src/errors.ts';
import type { S3RequestRecord } from '../../src/local/s3-server.ts';

/** The error a promise rejects with: a test of a refusal fails, saying so, when it goes through. */
export async function refusal(run: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await run;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a refusal, but it went through');
}

/** The FrontendOpsError a promise rejects with: the test fails if it resolves, or rejects with anything else. */
export async function opsRefusal(run: Promise<unknown>): Promise<FrontendOpsError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrontendOpsError);
  return error as FrontendOpsError;
}

/**
 * The writes (`METHOD key`) the stack's S3 server finished since `mark`, the deploy lock's own objects
 * left out: what a refusal that changes nothing must leave empty.
 */
export async function writesSince(
  t: { requestsSince(mark: number): Promise<S3RequestRecord[]> },
  mark: number,
): Promise<string[]> {
  return (await t.requestsSince(mark))
    .filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && !r.key.includes('/locks/'))
    .map((r) => `${r.method} ${r.key}`);
}
