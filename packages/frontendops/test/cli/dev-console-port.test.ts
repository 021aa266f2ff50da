/**
 * `frontendops dev` restarted serves its console on the port of the last run, as it does the site
 * (kept in .frontendops/console-port), so the console's address open in a browser stays right; when
 * another program holds that port, any free one, said so. Ports come from the OS, never fixed.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrochureRepo, type TestRepo } from '../support/git-repo.ts';
import { serveInProcess } from '../support/run-cli.ts';

let repo: TestRepo;
const env = {
  FRONTENDOPS_ACTOR: 'dev-ada',
  FRONTENDOPS_STACK: undefined,
  FRONTENDOPS_CONFIG: undefined,
  FRONTENDOPS_MODEL: undefined,
};
/** Ready once it serves; group 1: the console's address (without its sign-in code). */
const READY =
  /^(?=[\s\S]*Serving until Ctrl-C)[\s\S]*?^FrontendOps console: (http:\/\/127\.0\.0\.1:\d+\/)\?signin=/m;
const serveDev = () => serveInProcess(['dev'], { cwd: repo.dir, env, ready: READY });
const DEV_TIMEOUT = 300_000;

beforeAll(async () => {
  repo = await createBrochureRepo({ 'index.html': '<!doctype html><h1>Brochure</h1>\n' });
});
afterAll(async () => {
  await repo?.cleanup();
});

describe('frontendops dev restarted', () => {
  it('serves the console on the port of the last run; another free one when that is taken, said so', {
    timeout: DEV_TIMEOUT,
  }, async () => {
    const first = await serveDev();
    expect((await first.stop()).code).toBe(0);
    const port = new URL(first.url).port;
    expect((await readFile(join(repo.dir, '.frontendops', 'console-port'), 'utf8')).trim()).toBe(port);

    const again = await serveDev();
    expect((await again.stop()).code).toBe(0);
    expect(again.url).toBe(first.url);

    // Another program took the port meanwhile: a free one, and the log says the old links are gone.
    const holder = createServer();
    await new Promise<void>((done) => holder.listen(Number(port), '127.0.0.1', done));
    try {
      const moved = await serveDev();
      expect((await moved.stop()).code).toBe(0);
      expect(new URL(moved.url).port).not.toBe(port);
      expect(moved.output).toContain(
        `the console's port of the last run (${port}) is in use: the console is on ${moved.url} now`,
      );
    } finally {
      await new Promise((done) => holder.close(done));
    }
  });
});
