/**
 * verifyReleaseServed: asks the edge for the site's `/` — as a visitor of the live release, of the
 * canary (by its sticky bucket cookie) or of a preview (by its token) — until the release's own
 * index.html comes back, then fetches every same-site file that page references; bounded. What
 * visitors get is what is checked, through the function and the KeyValueStore as the edge sees them.
 */
import { createHash } from 'node:crypto';
import type { Verification } from './verify.ts';

export interface ReleaseProbe {
  /** sha256 (hex) of the release's index.html. */
  indexSha256: string;
  /** Cookies sent with every request (fo_bucket=<n> for the canary, __Host-fo_preview=<token> for a preview). */
  cookie?: string;
  /** Who is asking, for the detail: "live", "canary", "preview". */
  as: string;
}

export async function verifyReleaseServed(
  siteUrl: string,
  probe: ReleaseProbe,
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<Verification> {
  const url = new URL('/', siteUrl).href;
  const doFetch = options.fetch ?? fetch;
  const headers: Record<string, string> = probe.cookie ? { cookie: probe.cookie } : {};
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let attempts = 0;
  let detail = '';
  for (let wait = 50; ; wait = Math.min(wait * 2, 2000)) {
    attempts++;
    try {
      const response = await doFetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(5000) });
      const body = Buffer.from(await response.arrayBuffer());
      const sha = createHash('sha256').update(body).digest('hex');
      if (response.status === 200 && sha === probe.indexSha256) {
        const paths = referencedPaths(body.toString('utf8'));
        const checked = paths.slice(0, MAX_REFERENCES);
        const missing = await missingReferences(doFetch, url, checked, headers);
        if (missing.length === 0) {
          const which =
            checked.length === paths.length
              ? `every file its page references (${paths.length})`
              : `the first ${checked.length} of the ${paths.length} files its page references`;
          return {
            ok: true,
            url,
            attempts,
            detail: `the edge serves the new release to ${probe.as} visitors, and ${which}`,
          };
        }
        detail = `the page of the new release references ${missing.length} file(s) the edge does not serve (${missing.slice(0, 3).join(', ')})`;
      } else {
        detail =
          response.status === 200
            ? `the edge still serves another index.html to ${probe.as} visitors`
            : `the edge answered HTTP ${response.status}`;
      }
    } catch (error) {
      detail = `the site did not answer (${(error as Error).message})`;
    }
    if (Date.now() + wait > deadline) return { ok: false, url, attempts, detail };
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * Same-site files the site's page ("/") loads: src= of any element and href= of a <link> (stylesheets,
 * preloads, icons), resolved as a browser resolves them: "/assets/app.js", and relative ones
 * ("style.css", "./img/logo.svg") against "/". Links to pages (<a href>) are not files the page needs;
 * another origin ("//cdn…", "https://…"), a fragment and other schemes (mailto:, data:) are not the site's.
 */
export function referencedPaths(html: string): string[] {
  const paths: string[] = [];
  for (const [, tag = '', attributes = ''] of html.matchAll(/<([a-zA-Z][\w-]*)\b([^>]*)>/g)) {
    for (const [, name, ref = ''] of attributes.matchAll(/\b(src|href)="([^"]*)"/g)) {
      if (name === 'href' && tag.toLowerCase() !== 'link') continue;
      if (ref === '' || ref.startsWith('#') || ref.startsWith('//') || /^[a-z][a-z0-9+.-]*:/i.test(ref))
        continue;
      const resolved = new URL(ref, PAGE);
      if (resolved.origin === PAGE_ORIGIN) paths.push(`${resolved.pathname}${resolved.search}`);
    }
  }
  return [...new Set(paths)];
}

const PAGE = 'http://site.invalid/';
const PAGE_ORIGIN = new URL(PAGE).origin;

/** A page's entry script and stylesheets come first; a page preloading thousands of chunks is sampled. */
const MAX_REFERENCES = 64;

async function missingReferences(
  doFetch: typeof fetch,
  base: string,
  paths: readonly string[],
  headers: Record<string, string>,
): Promise<string[]> {
  const missing: string[] = [];
  // A handful at a time: a page references tens of files, not thousands.
  for (let i = 0; i < paths.length; i += 16) {
    const answers = await Promise.all(
      paths.slice(i, i + 16).map(async (path) => {
        const response = await doFetch(new URL(path, base), {
          headers,
          redirect: 'manual',
          signal: AbortSignal.timeout(5000),
        });
        await response.arrayBuffer();
        return { path, ok: response.status === 200 };
      }),
    );
    missing.push(...answers.filter((a) => !a.ok).map((a) => a.path));
  }
  return missing;
}
