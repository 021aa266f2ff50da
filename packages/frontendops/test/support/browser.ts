/** Debian's Chromium, driven by playwright-core (no browser download): headless, loopback only. */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A test file's view of the worker's Chromium: the contexts it opens, closed by close(). */
export interface FileBrowser {
  newContext: Browser['newContext'];
  /** Closes every context this file opened; the browser stays for the worker's next file. */
  close(): Promise<void>;
}

let shared: Promise<Browser> | undefined;

/**
 * Chromium for a test file, from one browser process per worker: a launch costs over a second of
 * CPU, and a worker runs its files one after another (isolate: false). Each context has cookies,
 * storage and routes of its own, and a file's close() closes all of its contexts, so nothing one
 * file did reaches the next. The browser ends with the worker: Playwright talks to it over a pipe,
 * and closes it as the worker exits.
 */
export async function openChromium(): Promise<FileBrowser> {
  if (!shared) {
    const launching = launchChromium();
    shared = launching;
    launching.then(
      (browser) =>
        browser.on('disconnected', () => {
          if (shared === launching) shared = undefined;
        }),
      () => {
        if (shared === launching) shared = undefined;
      },
    );
  }
  const browser = await shared;
  const contexts: BrowserContext[] = [];
  return {
    async newContext(options) {
      const context = await browser.newContext(options);
      contexts.push(context);
      return context;
    },
    async close() {
      await Promise.all(contexts.splice(0).map((context) => context.close()));
    },
  };
}
