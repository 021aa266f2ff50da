/**
 * A stand-in for the CDN in front of a test's site, on a free loopback port: it answers every request
 * with what `current()` reads at that moment (the hosting bucket's `index.html`), or, while `frozen`
 * is set, with that stale copy: the CDN not serving a new release, so a change's verification fails.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StaleCdn {
  /** The site's URL, for the stack's outputs (`siteUrl`). */
  url: string;
  /** What it answers while set, instead of what `current()` reads. */
  frozen: Buffer | string | null;
  stop(): Promise<void>;
}

export async function startStaleCdn(
  current: () => Promise<Buffer | string | null | undefined>,
): Promise<StaleCdn> {
  const server = createServer(async (_req, res) => {
    const body = cdn.frozen ?? (await current()) ?? '';
    res.writeHead(200, { 'content-type': 'text/html' }).end(body);
  });
  const cdn: StaleCdn = {
    url: '',
    frozen: null,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cdn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return cdn;
}
