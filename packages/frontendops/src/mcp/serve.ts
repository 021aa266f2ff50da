/**
 * Serving any FrontendOps MCP server (git, infra): stdio, or Streamable HTTP on loopback behind a
 * bearer token. Both take a factory because the SDK builds one server instance per stdio connection
 * and per HTTP request (stateless serving); tools must therefore keep state in their backends.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostHeaderValidation, toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, type McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio as serveSdkStdio } from '@modelcontextprotocol/server/stdio';
import { logError } from '../errors.ts';
import { listen } from '../http-listen.ts';
import { isLoopbackBind, loopbackHostNames } from '../loopback.ts';
import { assertUsableToken, isAuthorized, MCP_TOKEN_ENV } from './auth.ts';
import { toolCallsSettled } from './tool-result.ts';

export interface ServeHttpOptions {
  /** 0 picks a free port. */
  port: number;
  /** Interface to bind; 127.0.0.1 unless given explicitly. */
  host?: string;
  /** Every request must carry `Authorization: Bearer <token>`. */
  token: string;
  /** URL path of the MCP endpoint; default "/mcp". */
  path?: string;
}

export interface HttpServing {
  /** e.g. http://127.0.0.1:43117/mcp */
  url: string;
  close(): Promise<void>;
}

export interface StdioStreams {
  stdin: NodeJS.ReadableStream;
  stdout: { write(chunk: string): unknown };
  /** Resolves when the server should stop (Ctrl-C, SIGTERM). */
  stopped: Promise<void>;
}

/**
 * Serves over stdin/stdout until the client closes the connection (stdin ends) or `stopped` resolves.
 * Either way the calls in flight are told to stop (the SDK aborts their signal when the connection
 * closes: a change stops at its next safe point) and serving ends once they have: the process never
 * goes on working for a client that is gone, and never leaves mid-write.
 */
export function serveStdio(createServer: () => McpServer, streams: StdioStreams): Promise<void> {
  return new Promise((resolve) => {
    const wire = new StdioServerTransport(
      streams.stdin as ConstructorParameters<typeof StdioServerTransport>[0],
      streams.stdout as ConstructorParameters<typeof StdioServerTransport>[1],
    );
    const servers: McpServer[] = [];
    const handle = serveSdkStdio(
      () => {
        const server = createServer();
        servers.push(server);
        return server;
      },
      {
        transport: wire,
        // stdout is the protocol channel: diagnostics go to stderr only.
        onerror: (error) => logError('[frontendops mcp] stdio error:', error.message),
      },
    );
    const settled = () => Promise.all(servers.map(toolCallsSettled)).then(() => resolve());
    // serveStdio installs its own onclose synchronously; chain ours after it.
    const sdkOnClose = wire.onclose;
    wire.onclose = () => {
      sdkOnClose?.();
      void settled();
    };
    void streams.stopped.then(() => handle.close().then(settled, settled));
  });
}

export async function serveHttp(
  createServer: () => McpServer,
  options: ServeHttpOptions,
): Promise<HttpServing> {
  assertUsableToken(options.token);
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/mcp';
  const mcp = createMcpHandler(() => createServer(), {
    onerror: (error) => logError('[frontendops mcp] http error:', error.message),
  });
  const serveMcp = toNodeHandler(mcp);
  // DNS-rebinding and cross-site guards: on loopback, only a loopback Host name is served (the address
  // it is bound to included), and a browser's Origin must be this server, port included (another
  // local port is another site).
  const checkHost = isLoopbackBind(host) ? hostHeaderValidation(loopbackHostNames(host)) : () => true;
  const server = createHttpServer((req, res) => {
    if (!checkHost(req, res)) return;
    if (!sameOrigin(req)) {
      return sendJson(res, 403, {
        error: 'forbidden_origin',
        error_description: 'This MCP endpoint only answers requests from its own origin.',
      });
    }
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== path) {
      return sendJson(res, 404, { error: 'not_found', error_description: `The MCP endpoint is ${path}.` });
    }
    if (!isAuthorized(headerOf(req, 'authorization'), options.token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="frontendops-mcp"');
      return sendJson(res, 401, {
        error: 'invalid_token',
        error_description: `Send "Authorization: Bearer <token>" with the token from ${MCP_TOKEN_ENV}.`,
      });
    }
    serveMcp(req, res).catch((error: unknown) => {
      logError('[frontendops mcp] request failed:', error);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error' });
      else res.end();
    });
  });

  const listening = await listen(server, { port: options.port, host });
  return {
    url: `${listening.origin}${path}`,
    async close() {
      await mcp.close();
      await listening.close();
    },
  };
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

/** A browser's Origin header, when present, must name this very server: scheme, host and port. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = headerOf(req, 'origin');
  if (origin === undefined) return true;
  const host = headerOf(req, 'host');
  return host !== undefined && origin === `http://${host}`;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
