/**
 * A stand-in for the Pulumi Cloud REST API on 127.0.0.1 (the real one is not reachable from this machine).
 * It answers the stack export as the REST API reference documents it — `GET /api/stacks/{org}/{project}/
 * {stack}/export` → 200 with an UntypedDeployment; 401 `{code, message}` for a missing or wrong
 * `Authorization: token …`; 404 `{code, message}` for an unknown stack — and records every request.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface PulumiCloudDouble {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** `stacks` maps "org/project/stack" to the UntypedDeployment its export returns. */
export async function startPulumiCloudDouble(options: {
  token: string;
  stacks: Record<string, unknown>;
}): Promise<PulumiCloudDouble> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? '', path, headers: req.headers });
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `token ${options.token}`) {
      return reply(401, { code: 401, message: 'Unauthorized: No credentials provided or are invalid.' });
    }
    const match = /^\/api\/stacks\/([^/]+)\/([^/]+)\/([^/]+)\/export$/.exec(path);
    if (req.method !== 'GET' || !match) return reply(404, { code: 404, message: 'Not Found' });
    const name = match.slice(1, 4).map(decodeURIComponent).join('/');
    const deployment = options.stacks[name];
    if (deployment === undefined) {
      return reply(404, { code: 404, message: `Not Found: Stack '${name}' not found` });
    }
    return reply(200, deployment);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
