/** The small node:http plumbing the local edge and the CloudFront double share. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import { listen } from '../http-listen.ts';

const debug = debuglog('frontendops');

export interface RunningServer {
  /** http://host:port, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

/**
 * Listens on host:port (port 0: one the OS picks). An error in the handler becomes a bare 500: its
 * message may name a bucket, an endpoint or a local path, so it goes to `log` only.
 */
export async function startHttpServer(
  handler: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
  options: { host: string; port: number; log?: (line: string) => void },
): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => debug('%s', line));
  const server: Server = createServer((request, response) => {
    handler(request, response).catch((error: unknown) => {
      log(`${request.method} ${request.url}: internal error: ${(error as Error).stack ?? String(error)}`);
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('Internal error.\n');
    });
  });
  const listening = await listen(server, { port: options.port, host: options.host });
  return { url: listening.origin, close: listening.close };
}

export async function readBody(request: IncomingMessage): Promise<string> {
  return (await readBodyBytes(request)).toString('utf8');
}

/** The body as sent, for checks over its exact bytes (a signature's payload hash). */
export async function readBodyBytes(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
