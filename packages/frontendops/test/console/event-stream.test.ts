/**
 * The page's reader of the server-sent event stream (ui/use-event-stream.ts reads it with fetch(), so
 * it can send the session as a header): the format as EventSource parses it, whatever the chunks.
 */
import { describe, expect, it } from 'vitest';
import { readEventStream } from '../../src/console/ui/use-event-stream.ts';

async function read(chunks: (string | Uint8Array)[]) {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks)
        controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
  const data: string[] = [];
  const retries: number[] = [];
  await readEventStream(body, { onData: (d) => data.push(d), onRetry: (ms) => retries.push(ms) });
  return { data, retries };
}

describe('reading the event stream', () => {
  it('what the console sends: retry, comments, one data line per event', async () => {
    const text = 'retry: 2000\n: connected\n\ndata: {"a":1}\n\n: keep-alive\n\ndata: {"b":2}\n\n';
    expect(await read([text])).toEqual({ data: ['{"a":1}', '{"b":2}'], retries: [2000] });
  });

  it('any split into chunks, CRLF and CR line ends, a character split across chunks', async () => {
    const text =
      'data: {"é":"ü"}\r\n\r\ndata:first\rdata: second\r\rid: 7\nevent: message\nretry: no\ndata\n\n' +
      'event: other\ndata: not a message\n\ndata: last\n\n';
    const bytes = new TextEncoder().encode(text);
    const expected = { data: ['{"é":"ü"}', 'first\nsecond', '', 'last'], retries: [] };
    for (let cut = 1; cut < bytes.length; cut++)
      expect(await read([bytes.slice(0, cut), bytes.slice(cut)]), String(cut)).toEqual(expected);
    expect(await read([...bytes].map((b) => Uint8Array.of(b)))).toEqual(expected);
  });

  it('drops an event the stream ended before finishing', async () => {
    expect(await read(['data: {"a":1}\n\ndata: {"b"'])).toEqual({ data: ['{"a":1}'], retries: [] });
    expect(await read(['data: {"a":1}\n'])).toEqual({ data: [], retries: [] });
  });
});
