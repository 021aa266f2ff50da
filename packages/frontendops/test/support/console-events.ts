/** Reads a console's `/api/events` as a browser's EventSource would, collecting the parsed messages. */
import type { ConsoleEvent } from '../../src/console/types.ts';

export interface EventStream {
  events: ConsoleEvent[];
  /** Resolves once an event matches (woken by each message; bounded by timeoutMs). */
  waitFor(match: (event: ConsoleEvent) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export async function openEventStream(origin: string, token: string): Promise<EventStream> {
  const controller = new AbortController();
  const res = await fetch(`${origin}/api/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  if (!/text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
    controller.abort();
    throw new Error(`/api/events answered ${res.status} ${res.headers.get('content-type')}`);
  }
  const events: ConsoleEvent[] = [];
  const waiters: (() => void)[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of block.split('\n'))
            if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)) as ConsoleEvent);
          for (const wake of waiters.splice(0)) wake();
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by close()
    }
    for (const wake of waiters.splice(0)) wake();
  })();
  return {
    events,
    async waitFor(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!events.some(match)) {
        if (Date.now() > deadline)
          throw new Error(`no matching event in ${timeoutMs} ms: ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          // Wakes at the deadline at the latest, so a silent stream still ends the wait.
          setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1).unref();
        });
      }
    },
    close: () => controller.abort(),
  };
}
