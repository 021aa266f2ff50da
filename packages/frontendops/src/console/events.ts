/**
 * Server-sent events: one stream per open console page, every progress event fanned out to all of
 * them (several people may watch one deploy). A comment line every 15 s keeps proxies from closing
 * an idle stream. A stream lasts only as long as the access that opened it: one long response would
 * otherwise outlive its session, and carry every later event to whoever holds the connection.
 */
import type { ServerResponse } from 'node:http';
import type { ConsoleEvent } from './types.ts';

const HEARTBEAT_MS = 15_000;

export function createEventHub() {
  /** Each stream, with whether the access that opened it still holds (a session ends). */
  const clients = new Map<ServerResponse, () => boolean>();
  /** Writes to each stream whose access still holds; ends the others, unwritten. */
  const send = (text: string) => {
    for (const [res, live] of clients) {
      if (!live()) {
        clients.delete(res);
        res.end();
      } else if (text) res.write(text);
    }
  };
  const heartbeat = setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();

  return {
    /** `live`: whether the access that opened it still holds, asked before each write. */
    subscribe(res: ServerResponse, live: () => boolean): void {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write('retry: 2000\n: connected\n\n');
      clients.set(res, live);
      res.on('close', () => clients.delete(res));
    },
    publish(event: ConsoleEvent): void {
      send(`data: ${JSON.stringify(event)}\n\n`);
    },
    /** Ends, now, each stream whose access no longer holds (a session signed out). */
    sweep(): void {
      send('');
    },
    close(): void {
      clearInterval(heartbeat);
      for (const res of clients.keys()) res.end();
      clients.clear();
    },
  };
}

export type EventHub = ReturnType<typeof createEventHub>;
