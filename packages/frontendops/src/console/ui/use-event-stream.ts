/**
 * The server-sent event stream (`/api/events`): the latest progress events of every run. Read with
 * fetch(), not EventSource: EventSource cannot send a header, and the API wants the session as
 * `Authorization: Bearer …` (api.ts), never in an address. The stream is parsed as EventSource would
 * (readEventStream; `retry:` sets the delay) and opened again after that delay whenever it ends or
 * fails while the page still wants it — except when the server refuses the session (401/403), which
 * trying again would not change.
 */
import { createParser } from 'eventsource-parser';
import { useEffect, useState } from 'react';
import type { ConsoleEvent } from '../types.ts';
import { authHeaders, visible } from './api.ts';

const KEEP = 300;
/** Until the server says otherwise (`retry:`). */
const RECONNECT_MS = 2000;

export function useEventStream(enabled: boolean, onFinished: () => void): ConsoleEvent[] {
  const [events, setEvents] = useState<ConsoleEvent[]>([]);
  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    const { signal } = controller;
    let delay = RECONNECT_MS;
    const onData = (data: string) => {
      let event: ConsoleEvent;
      try {
        // Its strings as the page shows them: control and format characters visible (api.ts).
        event = visible(JSON.parse(data) as ConsoleEvent);
      } catch {
        return;
      }
      setEvents((all) => [...all.slice(-KEEP + 1), event]);
      if (event.event.type === 'done' || event.event.type === 'error') onFinished();
    };
    void (async () => {
      while (!signal.aborted) {
        try {
          const response = await fetch('/api/events', {
            credentials: 'omit',
            cache: 'no-store',
            headers: { accept: 'text/event-stream', ...authHeaders() },
            signal,
          });
          if (response.status === 401 || response.status === 403) return;
          if (
            response.ok &&
            response.body &&
            /^text\/event-stream\b/.test(response.headers.get('content-type') ?? '')
          )
            await readEventStream(response.body, {
              onData,
              onRetry: (ms) => {
                delay = ms;
              },
            });
          else await response.body?.cancel();
        } catch {
          // The network, the server going away, or the page closing the stream (aborted).
        }
        if (signal.aborted) return;
        await wait(delay, signal);
      }
    })();
    return () => controller.abort();
  }, [enabled, onFinished]);
  return events;
}

export interface EventStreamHandlers {
  /** One event's data (its `data:` lines joined by "\n"). */
  onData(data: string): void;
  /** The server's `retry:` (milliseconds). */
  onRetry(ms: number): void;
}

/**
 * Reads a text/event-stream body to its end, as EventSource would for `onmessage` (the parsing is
 * eventsource-parser's, which the MCP and AI SDK clients use too): an event not ended by a blank line
 * is dropped, a named one (`event: <name>`) is not a message, `id:` is not used.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  handlers: EventStreamHandlers,
): Promise<void> {
  const parser = createParser({
    // Only unnamed events (EventSource's "message"): the console sends no other kind.
    onEvent: (event) => {
      if (event.event === undefined || event.event === 'message') handlers.onData(event.data);
    },
    onRetry: (ms) => handlers.onRetry(ms),
  });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.releaseLock();
  }
}

/** Resolves after `ms`, or at once when the page stops wanting the stream. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
