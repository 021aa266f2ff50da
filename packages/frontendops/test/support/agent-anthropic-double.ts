/**
 * A local stand-in for the Anthropic Messages API (POST /v1/messages), which this machine cannot
 * reach. It answers as Anthropic's reference documents streaming: `message_start`, per content block
 * `content_block_start` / `content_block_delta` (`text_delta`, or `input_json_delta` for tool_use) /
 * `content_block_stop`, then `message_delta` with the stop_reason and `message_stop`. It checks the
 * `x-api-key` header and records every request body. Replies are scripted per turn.
 */
import { createServer, type ServerResponse } from 'node:http';
import { listen } from '../../src/http-listen.ts';
import { readBody } from '../../src/local/edge-http.ts';

export type AnthropicTurn = { text: string } | { toolUse: { name: string; input: Record<string, unknown> } };

export interface MessagesRequest {
  model: string;
  system?: unknown;
  messages: Array<{ role: string; content: unknown }>;
  tools?: Array<{ name: string; description?: string; input_schema?: unknown }>;
  stream?: boolean;
  max_tokens?: number;
}

export interface AnthropicDouble {
  /** API root to give a client, e.g. http://127.0.0.1:43117/v1 */
  baseURL: string;
  bodies: string[];
  requests: MessagesRequest[];
  close(): Promise<void>;
}

export async function startAnthropicDouble(options: {
  apiKey: string;
  script: (request: MessagesRequest, n: number) => AnthropicTurn;
}): Promise<AnthropicDouble> {
  const bodies: string[] = [];
  const requests: MessagesRequest[] = [];

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/v1/messages') {
      return sendError(res, 404, 'not_found_error', 'Not found');
    }
    if (req.headers['x-api-key'] !== options.apiKey) {
      return sendError(res, 401, 'authentication_error', 'invalid x-api-key');
    }
    bodies.push(body);
    const request = JSON.parse(body) as MessagesRequest;
    requests.push(request);
    const turn = options.script(request, requests.length - 1);
    const id = `msg_${requests.length}`;
    const stopReason = 'toolUse' in turn ? 'tool_use' : 'end_turn';

    if (!request.stream) {
      const content =
        'toolUse' in turn
          ? [
              {
                type: 'tool_use',
                id: `toolu_${requests.length}`,
                name: turn.toolUse.name,
                input: turn.toolUse.input,
              },
            ]
          : [{ type: 'text', text: turn.text }];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model: request.model,
          content,
          stop_reason: stopReason,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 10 },
        }),
      );
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (event: string, data: Record<string, unknown>) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
    send('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        content: [],
        model: request.model,
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: Math.ceil(body.length / 4), output_tokens: 1 },
      },
    });
    if ('toolUse' in turn) {
      send('content_block_start', {
        index: 0,
        content_block: {
          type: 'tool_use',
          id: `toolu_${requests.length}`,
          name: turn.toolUse.name,
          input: {},
        },
      });
      for (const piece of JSON.stringify(turn.toolUse.input).match(/.{1,10}/gs) ?? []) {
        send('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: piece } });
      }
    } else {
      send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      for (const piece of turn.text.match(/.{1,12}/gs) ?? []) {
        send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } });
      }
    }
    send('content_block_stop', { index: 0 });
    send('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: 12 },
    });
    send('message_stop', {});
    res.end();
  });

  const listening = await listen(server, { port: 0, host: '127.0.0.1' });
  return { baseURL: `${listening.origin}/v1`, bodies, requests, close: listening.close };
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type, message } }));
}
