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
import { describeForClient } from '../errors.ts';

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
    ((args: ToolArgs<N>, ctx: ServerContext) => wrap(() => handler(args, ctx))) as never,
  );
}

export function describeToolError(error: unknown): string {
  if (error instanceof ZodError) {
    const issues = error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`,
    );
    return `BAD_INPUT: Invalid arguments — ${issues.join('; ')}. Nothing was changed; fix the arguments and call the tool again.`;
  }
  const { code, message } = describeForClient(error, '[frontendops mcp]');
  return `${code}: ${message}${code === 'BAD_INPUT' ? ' Nothing was changed; fix the arguments and call the tool again.' : ''}`;
}
