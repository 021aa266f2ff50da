/**
 * A browser-like client (cookies, redirects, Sec-Fetch-Mode) and a concurrent prober for the local
 * edge in atomic mode: the prober loads pages over and over while releases are switched and counts
 * every page that was broken — a failed request, a page without its release marker, or a release's
 * page that got another release's own asset (old HTML must get old assets, new HTML new ones).
 */
import { request as httpRequest } from 'node:http';

const BROWSER = { 'sec-fetch-mode': 'navigate', accept: 'text/html' };

/** The release a page says it is (`<meta name="release" content="…">`). */
export const releaseOf = (html: string) => /<meta name="release" content="([^"]+)">/.exec(html)?.[1];

export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(
    private readonly base: string,
    private readonly options: { keepsCookies?: boolean; navigates?: boolean } = {},
  ) {}

  /** GET as a browser navigation: follows redirects (at most 5), keeping cookies if it does. */
  async navigate(path: string) {
    let url = path;
    const hops: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const response = await this.get(url, this.options.navigates === false ? {} : BROWSER);
      hops.push(response.status);
      if (response.status !== 302 || !response.location) return { hops, url, body: response.body };
      url = response.location;
    }
    return { hops, url, body: '' };
  }

  /** node:http, not fetch: fetch replaces Sec-Fetch-Mode with its own "cors". */
  async get(path: string, headers: Record<string, string> = { 'sec-fetch-mode': 'no-cors' }) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await get(`${this.base}${path}`, { ...headers, ...(cookie ? { cookie } : {}) });
    if (this.options.keepsCookies !== false) {
      for (const line of response.setCookies) {
        const [pair = '', ...attributes] = line.split(';');
        const [name = '', value = ''] = pair.split('=');
        if (attributes.some((a) => a.trim() === 'Max-Age=0')) this.cookies.delete(name.trim());
        else this.cookies.set(name.trim(), value.trim());
      }
    }
    return response;
  }
}

export function get(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; location?: string; setCookies: string[]; body: string }>(
    (resolve, reject) => {
      const req = httpRequest(url, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ...(res.headers.location ? { location: res.headers.location } : {}),
            setCookies: res.headers['set-cookie'] ?? [],
            body,
          }),
        );
      });
      req.on('error', reject);
      req.end();
    },
  );
}

export class Probe {
  pages = 0;
  fetches = 0;
  readonly broken: string[] = [];
  readonly releasesSeen = new Set<string>();
  private stopped = false;
  private waiters: { at: number; resolve: () => void }[] = [];

  stop() {
    this.stopped = true;
  }

  /** Resolves when `count` more pages have been probed (the probers pace the switcher, no sleeping). */
  pagesAfterNow(count: number): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ at: this.pages + count, resolve }));
  }

  async run(browser: Browser) {
    const paths = ['/', '/accounts', '/quality', '/index.html'];
    for (let i = 0; !this.stopped; i += 1) {
      const path = paths[i % paths.length] as string;
      const page = await browser.navigate(path);
      this.fetches += page.hops.length;
      const release = releaseOf(page.body);
      if (page.hops.at(-1) !== 200 || !release) {
        this.broken.push(`${path}: ${page.hops.join('→')} ${page.body.slice(0, 80)}`);
        continue;
      }
      this.releasesSeen.add(release);
      const references = [...page.body.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1] as string);
      const answers = await Promise.all(
        references.map(async (ref) => {
          const response = await browser.get(ref);
          return { ref, status: response.status, body: response.body };
        }),
      );
      this.fetches += answers.length;
      for (const { ref, status, body } of answers) {
        if (status !== 200)
          this.broken.push(`${release} page: ${ref} answered ${status} ${body.slice(0, 200)}`);
        // Old HTML with old assets, new with new: a release's own assets carry its id.
        else if (/\/assets\/(app|style)-/.test(ref) && !body.includes(release)) {
          this.broken.push(`${release} page got ${ref} of another release`);
        }
      }
      this.pages += 1;
      for (const w of this.waiters.filter((w) => w.at <= this.pages)) w.resolve();
      this.waiters = this.waiters.filter((w) => w.at > this.pages);
    }
    for (const w of this.waiters) w.resolve();
  }
}
