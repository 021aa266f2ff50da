/** Serves the built UI: files under one directory only, index.html for every other page path. */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join, normalize } from 'node:path';
import mime from 'mime';
import { isInside } from '../inside.ts';
import { decodePathPart } from './http.ts';
import { SESSION_META } from './types.ts';

/**
 * No inline scripts, no third-party origins, no framing: the page only talks to this server. (No
 * sniffing is said by the server for every answer: server.ts.)
 */
export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  // A sign-in address carries its code (?signin=); never send the address on to another site.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

export async function serveStatic(res: ServerResponse, dir: string, pathname: string): Promise<void> {
  const relative = normalize(decodePathPart(pathname)).replace(/^([/\\])+/, '');
  const file = join(dir, relative);
  const body = isInside(dir, file) && relative !== '' ? await readOrNull(file) : null;
  if (body) {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': mime.getType(file) ?? 'application/octet-stream',
      // Vite names assets by content hash; everything else is looked at again each time.
      'cache-control': relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(body);
    return;
  }
  if (relative.startsWith('assets/') || relative.startsWith('api/')) {
    res.writeHead(404, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
    res.end('Not found');
    return;
  }
  return serveIndex(res, dir);
}

/**
 * The page, for every path that is no file. After a sign-in, with its session's id in it (a meta
 * element, SESSION_META) and never stored by any cache: the id is in no address.
 */
export async function serveIndex(
  res: ServerResponse,
  dir: string,
  signedIn?: { session: string },
): Promise<void> {
  const index = await readOrNull(join(dir, 'index.html'));
  res.writeHead(index ? 200 : 503, {
    ...SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': signedIn ? 'no-store' : 'no-cache',
  });
  if (!index) {
    res.end(
      'The console UI is not built. Run `npm run build -w frontendops` (or reinstall frontendops) and reload.',
    );
    return;
  }
  if (!signedIn) {
    res.end(index);
    return;
  }
  // In the head (a page without one puts it there too: a meta before any content opens it).
  const meta = `<meta name="${SESSION_META}" content="${signedIn.session}">`;
  const html = index.toString('utf8');
  res.end(html.includes('</head>') ? html.replace('</head>', `${meta}</head>`) : `${meta}${html}`);
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch {
    return null;
  }
}
