/**
 * The project's one error class and its one list of codes. `code` is stable: tests, the CLI's exit
 * codes, MCP results, the console's API and deployment records all key on it. The message says what
 * was wrong, what was expected and what to do. Thrown inward, caught once at the CLI / MCP / console
 * boundary, where describeForClient keeps backend detail out of what a client sees.
 */
import { inspect } from 'node:util';
import { logLine } from './engine/text.ts';

export type ErrorCode =
  | 'BAD_INPUT' // the caller's arguments or files are wrong; nothing was changed
  | 'NOT_FOUND' // a named thing (stack, artifact, deployment, commit) does not exist
  | 'CONFLICT' // the request contradicts existing state (e.g. a different build for a published commit, a changed plan)
  | 'LOCKED' // another deploy holds the environment's lock
  | 'PRECONDITION_FAILED' // a conditional write lost a race
  | 'APPROVAL_REQUIRED' // a protected environment needs a human approval first
  | 'DENIED' // refused: by the agent's gate, a person, or an access check
  | 'UNAUTHORIZED' // no or a wrong credential (the console's token, the MCP bearer token)
  | 'PINNED' // the environment is pinned to a release; promote or unpin first
  | 'VERIFY_FAILED' // the CDN did not serve the new release in time
  | 'TAMPERED' // state that does not verify: an audit chain, a record or pointer edited, an object damaged
  | 'INTERRUPTED' // (in records) a deploy stopped before it went live and a later one replaced it
  | 'UPSTREAM' // a backend (S3, CloudFront, GitHub, Pulumi, a model API) failed
  | 'INTERNAL'; // a bug: details in the log, not in the answer

/** Every code, for reading one back from text (codeOf); the compiler holds it to ErrorCode. */
const CODES: Record<ErrorCode, true> = {
  BAD_INPUT: true,
  NOT_FOUND: true,
  CONFLICT: true,
  LOCKED: true,
  PRECONDITION_FAILED: true,
  APPROVAL_REQUIRED: true,
  DENIED: true,
  UNAUTHORIZED: true,
  PINNED: true,
  VERIFY_FAILED: true,
  TAMPERED: true,
  INTERRUPTED: true,
  UPSTREAM: true,
  INTERNAL: true,
};

/**
 * An error as text for a client that reads it back (an MCP tool's error answer: describeToolError
 * writes it, the agent's runbook reads it with codeOf): its code, then its message.
 */
export const codedText = (code: ErrorCode, message: string): string => `${code}: ${message}`;

/** The code and message of codedText's text; null for any other text. */
export function codeOf(text: string): { code: ErrorCode; message: string } | null {
  const match = /^([A-Z_]+): /.exec(text);
  const code = match?.[1];
  return code && Object.hasOwn(CODES, code)
    ? { code: code as ErrorCode, message: text.slice(code.length + 2) }
    : null;
}

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

/** What is wrong, and what to check: the words of a refusal that a reader changing nothing tells too. */
export interface Finding {
  wrong: string;
  check: string;
}

/**
 * A refusal told in parts: what is wrong, what the refusal does about it (`so`: nothing is changed,
 * and why), and what to check. A reader that changes nothing (`audit verify`, of a log it could not
 * read for that reason) tells what is wrong and what to check, in the same words (findingOf).
 */
export const refusalOf = (
  code: ErrorCode,
  { wrong, so, check }: Finding & { so: string },
  details: Record<string, unknown> = {},
) =>
  new FrontendOpsError(code, `${wrong}. ${so} ${check}`, {
    details: { ...details, finding: { wrong, check } },
  });

/** What is wrong and what to check, where `error` is a refusal told in parts (refusalOf). */
export const findingOf = (error: unknown): Finding | undefined =>
  isFrontendOpsError(error) ? (error.details?.finding as Finding | undefined) : undefined;

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new FrontendOpsError('BAD_INPUT', message, details ? { details } : undefined);

/**
 * BAD_INPUT that is the configuration's (a variable, a key file the server reads), not a caller's
 * arguments: an MCP client is told the server's configuration needs fixing, not its call.
 */
export const configurationError = (message: string) =>
  new FrontendOpsError('BAD_INPUT', message, { details: { configuration: true } });

export const isConfigurationError = (error: unknown): boolean =>
  isFrontendOpsError(error, 'BAD_INPUT') && error.details?.configuration === true;

/**
 * Logs an error to the server's stderr (an MCP server's, the console's) for its operator: words, or
 * all of an error (its stack, its cause, what the backend answered) as console.error shows one. A
 * backend's or git's words are anyone's: written by logLine, escaped.
 */
export function logError(prefix: string, error: unknown): void {
  process.stderr.write(logLine(prefix, typeof error === 'string' ? error : inspect(error)));
}

/**
 * What a client (an MCP client, a browser) may be told about an error: its code and message for
 * our own errors; for backend failures and bugs a generic sentence, the detail going to the log
 * (backend messages may name buckets, keys, endpoints or local paths).
 */
export function describeForClient(error: unknown, logPrefix: string): { code: ErrorCode; message: string } {
  if (isFrontendOpsError(error) && error.code !== 'UPSTREAM' && error.code !== 'INTERNAL') {
    return { code: error.code, message: error.message };
  }
  logError(`${logPrefix} ${isFrontendOpsError(error) ? 'backend failure' : 'unexpected error'}:`, error);
  if (isFrontendOpsError(error)) {
    const backendCode = upstreamCode(error.cause);
    // What FrontendOps itself also said names no backend. A stopped change the run finished first
    // is said before the words that nothing more was changed (a real change, not "nothing").
    const first = changedFirst(error);
    const said = first ? alsoSaid(error).replace(first.sentence, '').trim() : alsoSaid(error);
    const also = said ? ` ${said}` : '';
    const nothingMore = first
      ? `This call first ${first.changed}. Nothing more was changed by it`
      : 'Nothing more was changed by this call';
    // A rate limit's end (an adapter's own ISO 8601 time, e.g. GitHub's x-ratelimit-reset) names
    // nothing of the backend, and is what the client needs to know.
    const retryAt = error.details?.retryAt;
    if (typeof retryAt === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/.test(retryAt)) {
      return {
        code: 'UPSTREAM',
        message: `A backend's rate limit stopped it${backendCode ? ` (${backendCode})` : ''}: try again after ${retryAt.replace('.000Z', 'Z')}. The details are in the server's log. ${nothingMore}.${also}`,
      };
    }
    return {
      code: 'UPSTREAM',
      message: `The storage, CDN or git backend failed${backendCode ? ` (${backendCode})` : ''}; the details are in the server's log. ${nothingMore}; retrying later may help.${also}`,
    };
  }
  const name = error instanceof Error ? error.name : typeof error;
  return {
    code: 'INTERNAL',
    message: `It failed unexpectedly (${name}). The details are in the server's log; the operator should look there.`,
  };
}

/**
 * A backend's error name or code as it may be said (NoSuchBucket, AccessDeniedException): letters
 * only, so it names no bucket, key, endpoint or path. The one rule for every answer that says one.
 */
export const BACKEND_ERROR_NAME = /^[A-Za-z]{2,60}$/;

/** `value` when it is a backend's error name (BACKEND_ERROR_NAME), else undefined. */
export const backendErrorName = (value: unknown): string | undefined =>
  typeof value === 'string' && BACKEND_ERROR_NAME.test(value) ? value : undefined;

/** The AWS or HTTP error name (NoSuchBucket, AccessDenied): it names no resource. */
function upstreamCode(cause: unknown): string | undefined {
  // Our own error said again with more words (alsoSaying) has it as its cause: the backend's is its.
  if (cause instanceof FrontendOpsError) return upstreamCode(cause.cause);
  const name = backendErrorName((cause as { name?: unknown } | undefined)?.name);
  return name !== 'Error' ? name : undefined;
}

/**
 * Runs `work`, then `cleanup` however the work ended: what every holder of a lock does with its
 * release. When both fail, the work's error is what is thrown: it came first, and it is what the
 * caller acts on (an invalidation that failed, say, rather than the lock's release after it). When
 * it is ours, a copy of it is thrown that says `cleanupName` failed too (alsoFailing), in our own
 * words only: a backend's words stay out, as describeForClient keeps them out of a client's answer.
 * A cleanup that fails alone is thrown as it is.
 */
export async function withCleanup<T>(
  work: () => Promise<T>,
  cleanup: () => Promise<void>,
  cleanupName: string,
): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    try {
      await cleanup();
    } catch (cleanupError) {
      // Our own errors say it; anything else (a bug, an abort) is thrown as it is.
      if (error instanceof FrontendOpsError) throw alsoFailing(error, cleanupName, cleanupError);
    }
    throw error;
  }
  await cleanup();
  return result;
}

/**
 * A copy of `error` (its class, code, details and cause) whose message, and the first line of its
 * stack, end with the sentence saying that `cleanupName` failed too; the cleanup's own error is kept
 * beside it as `suppressed`, for the log. A copy: the same error object may be thrown again (a load
 * that failed, kept for the process), and must not gather a sentence each time.
 */
function alsoFailing(error: FrontendOpsError, cleanupName: string, cleanupError: unknown): FrontendOpsError {
  const sentence = alsoFailed(cleanupName, cleanupError);
  const message = `${error.message} ${sentence}`;
  const descriptors = Object.getOwnPropertyDescriptors(error);
  const { stack } = error;
  return Object.create(Object.getPrototypeOf(error), {
    ...descriptors,
    message: { value: message, writable: true, enumerable: false, configurable: true },
    ...(typeof stack === 'string' && stack.startsWith(`${error.name}: ${error.message}`)
      ? {
          stack: {
            value: `${error.name}: ${message}${stack.slice(error.name.length + 2 + error.message.length)}`,
            writable: true,
            enumerable: false,
            configurable: true,
          },
        }
      : {}),
    suppressed: { value: cleanupError, writable: true, enumerable: true, configurable: true },
    [ALSO_SAID]: { value: [alsoSaid(error), sentence].filter(Boolean).join(' '), configurable: true },
  });
}

const ALSO_SAID = Symbol('also said');

/**
 * A copy of `error` (its code, details, and it as the cause) whose message ends with `sentence`,
 * kept as what it also said (alsoSaid): a message rebuilt in other words from its details (the
 * console's) still says it.
 */
export function alsoSaying(
  error: FrontendOpsError,
  sentence: string,
  /**
   * Said by a run that changed something before it (`sentence` says what): its "nothing was
   * changed" becomes "nothing more was changed" (nothingMore). `changed`, what it did ("finished the
   * interrupted …"), for the words that rebuild it (describeForClient); true: its dry run's run would.
   */
  afterChanging?: { changed: string | true },
): FrontendOpsError {
  const message = afterChanging ? nothingMore(error.message) : error.message;
  const said = new FrontendOpsError(error.code, `${message} ${sentence}`, {
    cause: error,
    ...(error.details ? { details: error.details } : {}),
  });
  Object.defineProperty(said, ALSO_SAID, {
    value: [alsoSaid(error), sentence].filter(Boolean).join(' '),
    configurable: true,
  });
  if (afterChanging)
    Object.defineProperty(said, CHANGED_FIRST, { value: { ...afterChanging, sentence }, configurable: true });
  return said;
}

const CHANGED_FIRST = Symbol('changed first');

/**
 * A refusal's "nothing was changed" (or written), as a run says it that changed something before
 * (a stopped change it finished first): "nothing more was changed". Only the refusal's own words:
 * what it quotes (a pin's reason, a request's message, in "…") is someone's text, kept as written.
 */
export const nothingMore = (words: string): string =>
  words.replace(/"[^"]*"|\b([Nn])othing was (changed|written)\b/g, (found, n?: string, done?: string) =>
    n ? `${n}othing more was ${done}` : found,
  );

/** Whether `error` is said after its run (or its dry run's run) changed something first (alsoSaying). */
export const saidAfterChanging = (error: FrontendOpsError): boolean => CHANGED_FIRST in error;

/** What `error`'s run changed before it (alsoSaying's `changed`), with the sentence that says it. */
const changedFirst = (error: FrontendOpsError): { changed: string; sentence: string } | null => {
  const first = (
    error as unknown as Record<symbol, { changed: string | true; sentence: string } | undefined>
  )[CHANGED_FIRST];
  return first && first.changed !== true ? { changed: first.changed, sentence: first.sentence } : null;
};

/**
 * The sentences withCleanup added to an error's message ("Letting the lock go failed too: …"), or
 * '': what a message rebuilt in other words from the error's details must still say.
 */
export const alsoSaid = (error: FrontendOpsError): string =>
  ((error as unknown as Record<symbol, unknown>)[ALSO_SAID] as string | undefined) ?? '';

function alsoFailed(cleanupName: string, error: unknown): string {
  if (isFrontendOpsError(error) && error.code !== 'UPSTREAM' && error.code !== 'INTERNAL') {
    return `${cleanupName} failed too: ${error.message}`;
  }
  if (isFrontendOpsError(error)) {
    const backendCode = upstreamCode(error.cause);
    return `${cleanupName} failed too, on a backend error${backendCode ? ` (${backendCode})` : ''}.`;
  }
  return `${cleanupName} failed too, unexpectedly (${error instanceof Error ? error.name : typeof error}).`;
}

/** What a lock's holder does last, as an error names it. */
export const LETTING_THE_LOCK_GO = 'Letting the lock go';

/**
 * Runs `work` holding `lock` (a HeldLock of ports.ts; only its release is used here, so this leaf
 * module depends on no port), then lets it go (withCleanup: the work's error is the one thrown).
 */
export const holding = <T>(lock: { release(): Promise<void> }, work: () => Promise<T>): Promise<T> =>
  withCleanup(work, () => lock.release(), LETTING_THE_LOCK_GO);
