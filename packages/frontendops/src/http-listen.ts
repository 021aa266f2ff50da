/**
 * Listening on host:port, said once for every HTTP server of the tool (the MCP server over HTTP, the
 * console, the local edge and its CloudFront API): port 0 is one the OS picks; the URL brackets an
 * IPv6 host; close() ends kept-alive connections too (an SDK's keep-alive sockets would otherwise
 * hold it open).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  port: number;
  /** http://host:port, no trailing slash. */
  origin: string;
  close(): Promise<void>;
}

export async function listen(server: Server, options: { port: number; host: string }): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    origin: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Closing twice is not an error worth failing a shutdown for.
        server.close((error) =>
          error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING'
            ? reject(error)
            : resolve(),
        );
        server.closeAllConnections();
      }),
  };
}
