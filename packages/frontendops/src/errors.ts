/**
 * The project's one error class. `code` is stable (tests, MCP results and the audit log key on it);
 * the message says what was wrong, what was expected and what to do. Thrown inward, caught once at
 * the CLI / MCP boundary, where a user mistake is printed without a stack trace.
 */
export type ErrorCode =
  | 'BAD_INPUT' // the caller's arguments or files are wrong; nothing was changed
  | 'NOT_FOUND' // a named thing (stack, artifact, deployment, commit) does not exist
  | 'CONFLICT' // the request contradicts existing state (e.g. a different build for a published commit)
  | 'LOCKED' // another deploy holds the environment's lock
  | 'PRECONDITION_FAILED' // a conditional write lost a race
  | 'APPROVAL_REQUIRED' // a protected environment needs a human approval first
  | 'DENIED' // the policy gate refused
  | 'VERIFY_FAILED' // the CDN did not serve the new release in time
  | 'TAMPERED' // the audit chain does not verify
  | 'UPSTREAM'; // a backend (S3, CloudFront, GitHub, Pulumi) failed

export class FrontendOpsError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FrontendOpsError';
    this.code = code;
    this.details = options?.details;
  }
}

export const isFrontendOpsError = (error: unknown, code?: ErrorCode): error is FrontendOpsError =>
  error instanceof FrontendOpsError && (code === undefined || error.code === code);

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new FrontendOpsError('BAD_INPUT', message, details ? { details } : undefined);
