/**
 * How every FrontendOps tool answers: `structuredContent` (checked against the tool's outputSchema)
 * plus one text block for clients that only read text; failures become `isError: true` results that
 * say what was wrong and what to do — never a stack trace, never an unexpected error's raw message
 * (it could name a bucket or endpoint; that goes to the server's stderr instead).
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { ZodError } from 'zod';
import { isFrontendOpsError } from '../errors.ts';

/** A successful result: a one-line summary for people and models, then the same data as JSON. */
export function toolSuccess<T extends Record<string, unknown>>(data: T, summary: string): CallToolResult {
  return {
    content: [{ type: 'text', text: `${summary}\n\n${JSON.stringify(data, null, 2)}` }],
    structuredContent: data,
  };
}

/** An `isError` result for a thrown error: FrontendOpsError and zod failures explain themselves. */
export function toolFailure(error: unknown): CallToolResult {
  return { content: [{ type: 'text', text: describeToolError(error) }], isError: true };
}

/**
 * Wraps a tool handler so anything it throws becomes a `toolFailure` result. Use it on every handler:
 * `server.registerTool('x', config, safeTool(async (args) => toolSuccess(…)))`.
 */
export function safeTool<Args extends unknown[]>(
  handler: (...args: Args) => Promise<CallToolResult>,
): (...args: Args) => Promise<CallToolResult> {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      return toolFailure(error);
    }
  };
}

export function describeToolError(error: unknown): string {
  if (isFrontendOpsError(error)) {
    return `${error.code}: ${error.message}${NEXT_STEP[error.code] ? ` ${NEXT_STEP[error.code]}` : ''}`;
  }
  if (error instanceof ZodError) {
    const issues = error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`,
    );
    return `BAD_INPUT: Invalid arguments — ${issues.join('; ')}. Nothing was changed; fix the arguments and call the tool again.`;
  }
  // Unknown failures may carry backend details (hosts, bucket names): keep them in the server's log.
  console.error('[frontendops mcp] unexpected tool error:', error);
  const name = error instanceof Error ? error.name : typeof error;
  return `INTERNAL: The tool failed unexpectedly (${name}). Details are in the server's log; the operator should look there. Retrying may help if the cause was temporary.`;
}

// What to do next, for codes whose message alone may not say it.
const NEXT_STEP: Partial<Record<string, string>> = {
  BAD_INPUT: 'Nothing was changed; fix the arguments and call the tool again.',
  UPSTREAM: 'The backend failed; retrying later may help.',
};
