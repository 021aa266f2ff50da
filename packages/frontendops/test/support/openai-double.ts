/**
 * A local stand-in for the OpenAI Chat Completions API (POST /v1/chat/completions), for the one API
 * this machine cannot reach. It answers as OpenAI's API reference documents: a `chat.completion`
 * object, or with `stream: true` server-sent events of `chat.completion.chunk` objects (role first,
 * content or tool_calls deltas with an index, a last chunk with finish_reason, an optional usage
 * chunk with empty choices, then `data: [DONE]`). Replies are scripted per turn; every request body
 * is recorded, so a test can read the model's whole transcript.
 */
import { createServer, type ServerResponse } from 'node:http';
import { listen } from '../../src/http-listen.ts';
import { readBody } from '../../src/local/edge-http.ts';

export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown> | string;
}

export type Turn = { text: string } | { toolCalls: ScriptedToolCall[]; text?: string };

export interface ChatRequest {
  model: string;
  messages: Array<{ role: string; content?: unknown; tool_calls?: unknown; tool_call_id?: string }>;
  tools?: Array<{ type: string; function: { name: string; description?: string; parameters?: unknown } }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
}

export interface OpenAIDouble {
  /** API root to give a client, e.g. http://127.0.0.1:43117/v1 */
  baseURL: string;
  /** Raw bodies of every request received, in order: the model's entire transcript. */
  bodies: string[];
  requests: ChatRequest[];
  close(): Promise<void>;
}

export interface OpenAIDoubleOptions {
  /** The next assistant turn for a request (n = how many chat requests came before it). */
  script: (request: ChatRequest, n: number) => Turn;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

export async function startOpenAIDouble(options: OpenAIDoubleOptions): Promise<OpenAIDouble> {
  const bodies: string[] = [];
  const requests: ChatRequest[] = [];
  let callIds = 0;

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/v1/chat/completions') {
      return sendError(
        res,
        404,
        `Unknown request URL: ${req.method} ${req.url}.`,
        'invalid_request_error',
        null,
      );
    }
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    }
    bodies.push(body);
    let request: ChatRequest;
    try {
      request = JSON.parse(body) as ChatRequest;
    } catch {
      return sendError(
        res,
        400,
        'We could not parse the JSON body of your request.',
        'invalid_request_error',
        null,
      );
    }
    requests.push(request);
    const turn = options.script(request, requests.length - 1);
    const toolCalls =
      'toolCalls' in turn
        ? turn.toolCalls.map((c) => ({
            id: `call_${++callIds}`,
            type: 'function' as const,
            function: {
              name: c.name,
              arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
            },
          }))
        : [];
    const text = turn.text ?? null;
    const finish = toolCalls.length ? 'tool_calls' : 'stop';
    const usage = { prompt_tokens: Math.ceil(body.length / 4), completion_tokens: 10, total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const base = { id: `chatcmpl-${requests.length}`, created: 1_764_000_000, model: request.model };

    if (!request.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: text,
                ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
              },
              finish_reason: finish,
              logprobs: null,
            },
          ],
          usage,
        }),
      );
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`,
      );
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
    if (text) {
      for (const piece of text.match(/.{1,12}/gs) ?? []) {
        chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]);
      }
    }
    toolCalls.forEach((call, index) => {
      chunk([
        {
          index: 0,
          delta: {
            tool_calls: [
              { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } },
            ],
          },
          finish_reason: null,
        },
      ]);
      for (const piece of call.function.arguments.match(/.{1,20}/gs) ?? []) {
        chunk([
          {
            index: 0,
            delta: { tool_calls: [{ index, function: { arguments: piece } }] },
            finish_reason: null,
          },
        ]);
      }
    });
    chunk([{ index: 0, delta: {}, finish_reason: finish }]);
    if (request.stream_options?.include_usage) chunk([], { usage });
    res.write('data: [DONE]\n\n');
    res.end();
  });

  const listening = await listen(server, { port: 0, host: '127.0.0.1' });
  return { baseURL: `${listening.origin}/v1`, bodies, requests, close: listening.close };
}

/** The text of the tool messages in a request (what the model was given as tool results). */
export function toolMessages(request: ChatRequest): string[] {
  return request.messages
    .filter((m) => m.role === 'tool')
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)));
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type, param: null, code } }));
}
