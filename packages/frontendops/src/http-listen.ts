/**
 * Listening on host:port, said once for every HTTP server of the tool (the MCP server over HTTP, the
 * console, the local edge and its CloudFront API): port 0 is one the OS picks; the URL brackets an
 * IPv6 host; close() ends kept-alive connections too (an SDK's keep-alive sockets would otherwise
 * hold it open).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { badInput } from './errors.ts';

export interface Listening {
  port: number;
  /** http://host:port, no trailing slash. */
  origin: string;
  close(): Promise<void>;
}

export async function listen(server: Server, options: { port: number; host: string }): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => reject(listenProblem(error, options));
    server.once('error', fail);
    server.listen(options.port, options.host, () => {
      server.off('error', fail);
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

/**
 * Why a server could not listen, when the port or host a person chose is the reason: bad input (what
 * was wrong, what to do), not a failure of the tool. Anything else is returned as it is.
 */
function listenProblem(error: Error, options: { port: number; host: string }): Error {
  const { code, syscall } = error as NodeJS.ErrnoException;
  const where = `port ${options.port} on ${options.host}`;
  if (code === 'EADDRINUSE') {
    return badInput(`${where} is in use: pick another, or 0 for any free one.`);
  }
  if (code === 'EACCES') {
    return badInput(
      `${where} may not be used by this user (ports below 1024 need privileges): pick another, or 0 for any free one.`,
    );
  }
  if (code === 'EADDRNOTAVAIL') {
    return badInput(
      `host ${JSON.stringify(options.host)} is not an address of this machine: pass one of its addresses (127.0.0.1 for this machine only, 0.0.0.0 for every interface).`,
    );
  }
  if (syscall === 'getaddrinfo') {
    return badInput(
      `host ${JSON.stringify(options.host)} could not be resolved: ${code ?? error.message}. Pass an address of this machine or a name that resolves to one (127.0.0.1 for this machine only).`,
    );
  }
  return error;
}
