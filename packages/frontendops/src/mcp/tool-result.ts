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
  StandardSchemaWithJSON,
} from '@modelcontextprotocol/server';
import { ZodError, type ZodObject } from 'zod';
import { annotationsOf, TOOLS, type ToolArgs, type ToolName, type ToolOutput } from '../contract/tools.ts';
import { clip } from '../engine/text.ts';
import { codedText, describeForClient, isConfigurationError } from '../errors.ts';

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

/**
 * An `isError` result for a thrown error: FrontendOpsError and zod failures explain themselves
 * (`tool`: the tool whose arguments a zod failure is about, named in the next step).
 */
export function toolFailure(error: unknown, tool?: string): CallToolResult {
  return { content: [{ type: 'text', text: describeToolError(error, tool) }], isError: true };
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
      inputSchema: checkedByTheTool(contract.input),
      outputSchema: contract.output,
      annotations: annotationsOf(contract),
    },
    // The arguments are parsed here, against contract.input: a wrong one is answered in our words.
    ((args: unknown, ctx: ServerContext) =>
      tracked(
        server,
        wrap(async () => {
          const parsed = contract.input.safeParse(args);
          if (!parsed.success) return toolFailure(parsed.error, name);
          return handler(parsed.data as ToolArgs<N>, ctx);
        }),
      )) as never,
  );
}

/**
 * `schema` as the SDK takes an input schema (Standard Schema, with its JSON Schema for tools/list),
 * except that every value passes the SDK's own check: the SDK answers a wrong argument with its
 * words ("Input validation error: …", no code, no next step), so the tool parses its arguments
 * itself (registerContractTool) and says which argument, what was expected, and to call again.
 */
function checkedByTheTool(schema: ZodObject): StandardSchemaWithJSON {
  const zod = schema['~standard'];
  return {
    '~standard': {
      version: 1,
      vendor: 'frontendops',
      validate: (value: unknown) => ({ value }),
      jsonSchema: zod.jsonSchema,
    },
  } as StandardSchemaWithJSON;
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

export function describeToolError(error: unknown, tool?: string): string {
  if (error instanceof ZodError) return describeArgumentIssues(error, tool);
  const { code, message } = describeForClient(error, '[frontendops mcp]');
  if (code !== 'BAD_INPUT') return codedText(code, message);
  // A message that already says what was left as it was is not told "Nothing was changed" twice.
  const said = /\bnothing (?:was|is) (?:changed|created|written|done)\b/i.test(message);
  // The server's configuration (its receipt key, say) is wrong, not the call: the arguments were fine.
  const what = isConfigurationError(error)
    ? "the server's configuration (the arguments were fine)"
    : 'the arguments';
  return codedText(
    code,
    `${message} ${said ? 'Fix' : 'Nothing was changed; fix'} ${what} and call the tool again.`,
  );
}

/**
 * Which arguments are wrong and what each expected, then the next step: call the tool again with
 * them fixed (and without an argument it does not take).
 */
function describeArgumentIssues(error: ZodError, name?: string): string {
  const tool = name ?? 'the tool';
  const quoted = (name: PropertyKey) => `"${clip(String(name), 40)}"`;
  const wrong = new Set<string>();
  const extra = new Set<string>();
  const issues = error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map(quoted);
      for (const key of keys) extra.add(key);
      return `${keys.join(', ')} ${keys.length === 1 ? 'is not an argument' : 'are not arguments'} of ${tool}: expected only the arguments its input schema lists`;
    }
    if (issue.path.length === 0) return `the arguments: ${issue.message}`;
    const argument = quoted(issue.path.map(String).join('.'));
    wrong.add(argument);
    return `the argument ${argument}: ${issue.message}`;
  });
  const steps = [
    ...(wrong.size ? [`with ${[...wrong].join(' and ')} fixed`] : []),
    ...(extra.size ? [`without ${[...extra].join(' and ')}`] : []),
  ];
  return `BAD_INPUT: Invalid arguments${name ? ` for ${name}` : ''} — ${issues.join('; ')}. Nothing was changed; call ${tool} again ${steps.join(' and ') || 'with the arguments fixed'}.`;
}
