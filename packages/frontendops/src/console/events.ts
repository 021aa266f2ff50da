/**
 * Server-sent events: one stream per open console page, every progress event fanned out to all of
 * them (several people may watch one deploy). A comment line every 15 s keeps proxies from closing
 * an idle stream.
 */
import type { ServerResponse } from 'node:http';
import type { ConsoleEvent } from './types.ts';

const HEARTBEAT_MS = 15_000;

export function createEventHub() {
  const clients = new Set<ServerResponse>();
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  return {
    subscribe(res: ServerResponse): void {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write('retry: 2000\n: connected\n\n');
      clients.add(res);
      res.on('close', () => clients.delete(res));
    },
    publish(event: ConsoleEvent): void {
      const line = `data: ${JSON.stringify(event)}\n\n`;
      for (const res of clients) res.write(line);
    },
    close(): void {
      clearInterval(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}

export type EventHub = ReturnType<typeof createEventHub>;
