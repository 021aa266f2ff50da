/**
 * verifyServed: asks the CDN for the site's index.html until it is the new one (sha256 of the body
 * equals the manifest's), within a bounded wait. What users get is what is checked.
 */
import { createHash } from 'node:crypto';

export interface Verification {
  ok: boolean;
  url: string;
  attempts: number;
  detail: string;
}

export async function verifyServed(
  siteUrl: string,
  expectedSha256: string,
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<Verification> {
  const url = new URL('/', siteUrl).href;
  const doFetch = options.fetch ?? fetch;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let attempts = 0;
  let detail = '';
  for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
    attempts++;
    try {
      const response = await doFetch(url, { signal: AbortSignal.timeout(5000) });
      const body = Buffer.from(await response.arrayBuffer());
      const sha = createHash('sha256').update(body).digest('hex');
      if (response.ok && sha === expectedSha256) {
        return {
          ok: true,
          url,
          attempts,
          detail: `the CDN serves the new index.html (${attempts} request(s))`,
        };
      }
      detail = response.ok
        ? 'the CDN still serves another index.html'
        : `the CDN answered HTTP ${response.status}`;
    } catch (error) {
      detail = `the site did not answer (${(error as Error).message})`;
    }
    if (Date.now() + wait > deadline) return { ok: false, url, attempts, detail };
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
