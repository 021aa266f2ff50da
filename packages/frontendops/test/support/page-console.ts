/**
 * The console as the browser tests drive it: on the stack startConsoleEnv makes, reading the test
 * repository, serving its built page, acting for a release manager, with the worker's Chromium.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { loadConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { type FileBrowser, openChromium } from './browser.ts';
import { type ConsoleTestEnv, startConsoleEnv } from './console-env.ts';
import { STACK } from './deploy-env.ts';

export interface PageConsole extends ConsoleTestEnv {
  server: ConsoleServer;
  browser: FileBrowser;
  /**
   * A page in a context of its own (cookies, storage and routes) at the console's origin, not yet
   * navigated; `prepare` runs on the context before the page opens (an init script, say).
   */
  openPage(prepare?: (context: BrowserContext) => Promise<unknown>): Promise<Page>;
}

/**
 * That console for the tests of the calling describe: started before them, closed after them (the
 * pages they opened, the console, the stack and the repository). The console, from the returned
 * function, once started.
 */
export function pageConsoleFor(): () => PageConsole {
  let env: ConsoleTestEnv | undefined;
  let server: ConsoleServer | undefined;
  let browser: FileBrowser | undefined;
  beforeAll(async () => {
    env = await startConsoleEnv();
    const { t, repo } = env;
    server = await startConsole({
      config: await loadConfig(t.tmp),
      stacks: [STACK],
      openSite: async () => t.site,
      git: createLocalGit({ repoDir: repo.dir }),
      actor: 'release-manager (console)',
    });
    browser = await openChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await env?.t.stop();
    await env?.repo.cleanup();
  });
  return () => {
    if (!env || !server || !browser)
      throw new Error('the console starts in beforeAll: ask for it inside a test');
    const started = { ...env, server, browser };
    return {
      ...started,
      async openPage(prepare) {
        const context = await started.browser.newContext({ baseURL: new URL(started.server.url).origin });
        await prepare?.(context);
        return context.newPage();
      },
    };
  };
}
