/**
 * How every FrontendOps tool answers: `structuredContent` (checked against the contract's output
 * schema) plus one text block for clients that only read text; failures become `isError: true`
 * results that say what was wrong and what to do — never a stack trace, never an unexpected error's
 * raw message (it could name a bucket, an endpoint or a local path; that goes to the server's stderr).
 */
import type {
  CallToolResult,
  InputRequiredResult,
  McpServer,
  ServerContext,
} from '@modelcontextprotocol/server';
import { ZodError } from 'zod';
import { annotationsOf, TOOLS, type ToolArgs, type ToolName, type ToolOutput } from '../contract/tools.ts';
import { describeForClient, isConfigurationError } from '../errors.ts';

export type ToolAnswer = CallToolResult | InputRequiredResult;

/** A successful result: a one-line summary for people and models, then the same data as JSON. */
export function toolSuccess<N extends ToolName>(
  _name: N,
  data: ToolOutput<N>,
  summary: string,
): CallToolResult {
  return {
    content: [{ type: 'text', text: `${summary}\n\n${JSON.stringify(data, null, 2)}` }],
    structuredContent: data as Record<string, unknown>,
  };
}

/** An `isError` result for a thrown error: FrontendOpsError and zod failures explain themselves. */
export function toolFailure(error: unknown): CallToolResult {
  return { content: [{ type: 'text', text: describeToolError(error) }], isError: true };
}

/**
 * Registers one tool of the contract: its title, description, schemas and annotations come from
 * contract/tools.ts; `wrap` turns what the handler throws into an isError result (and scrubs).
 */
export function registerContractTool<N extends ToolName>(
  server: McpServer,
  name: N,
  handler: (args: ToolArgs<N>, ctx: ServerContext) => Promise<ToolAnswer>,
  wrap: (run: () => Promise<ToolAnswer>) => Promise<ToolAnswer>,
): void {
  const contract = TOOLS[name];
  server.registerTool(
    name,
    {
      title: contract.title,
      description: contract.description,
      inputSchema: contract.input,
      outputSchema: contract.output,
      annotations: annotationsOf(contract),
    },
    // The SDK validated the arguments against contract.input before calling.
    ((args: ToolArgs<N>, ctx: ServerContext) =>
      tracked(
        server,
        wrap(() => handler(args, ctx)),
      )) as never,
  );
}

/** Tool calls each server instance is still running (registerContractTool counts them). */
const running = new WeakMap<McpServer, Set<Promise<unknown>>>();

function tracked<T>(server: McpServer, call: Promise<T>): Promise<T> {
  const calls = running.get(server) ?? new Set<Promise<unknown>>();
  running.set(server, calls);
  const settled: Promise<void> = call.then(
    () => void calls.delete(settled),
    () => void calls.delete(settled),
  );
  calls.add(settled);
  return call;
}

/**
 * Resolves once the server instance runs no tool call: serving ends only then, so a change whose
 * client went away reaches its safe stop, lets its lock go and keeps its record before the process
 * goes (the stop itself comes from the call's signal, which the SDK aborts when the connection closes).
 */
export async function toolCallsSettled(server: McpServer): Promise<void> {
  for (let calls = running.get(server); calls?.size; calls = running.get(server)) {
    await Promise.allSettled([...calls]);
  }
}

export function describeToolError(error: unknown): string {
  if (error instanceof ZodError) {
    const issues = error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`,
    );
    return `BAD_INPUT: Invalid arguments — ${issues.join('; ')}. Nothing was changed; fix the arguments and call the tool again.`;
  }
  const { code, message } = describeForClient(error, '[frontendops mcp]');
  if (code !== 'BAD_INPUT') return `${code}: ${message}`;
  // A message that already says what was left as it was is not told "Nothing was changed" twice.
  const said = /\bnothing (?:was|is) (?:changed|created|written|done)\b/i.test(message);
  // The server's configuration (its receipt key, say) is wrong, not the call: the arguments were fine.
  const what = isConfigurationError(error)
    ? "the server's configuration (the arguments were fine)"
    : 'the arguments';
  return `${code}: ${message} ${said ? 'Fix' : 'Nothing was changed; fix'} ${what} and call the tool again.`;
}
