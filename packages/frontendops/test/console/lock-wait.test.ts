/**
 * A wait for another's deploy lock is said as it begins, once per request: the console keeps its
 * stack open for every request, and a second request waiting for the same holder is told too.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { takeDeployLock } from '../../src/deploy/deploy-lock.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { readPin } from '../../src/state/pin.ts';
import { startConsoleEnv } from '../support/console-env.ts';
import { STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let site: Site;
let server: ConsoleServer;
const said: string[] = [];

beforeAll(async () => {
  ({ t, repo } = await startConsoleEnv());
  const uiDir = join(t.tmp, 'ui');
  await mkdir(uiDir, { recursive: true });
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  // One site for every request, as the console opens its stacks, its notes to the operator.
  site = await connectSite(t.target, {
    access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint },
    onNotice: (notice) => said.push(notice),
  });
  server = await startConsole({
    config: await loadConfig(t.tmp),
    stacks: [STACK],
    openSite: async () => site,
    uiDir,
    actor: 'ada (console)',
  });
});
afterAll(async () => {
  await server?.close();
  site?.close();
  await repo?.cleanup();
  await t?.stop();
});

const pin = () =>
  fetch(new URL(`/api/stacks/${STACK}/pin`, server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
    body: JSON.stringify({ message: 'hold it' }),
  });

describe('a console request waiting for the deploy lock', () => {
  it('is told, once for each request, though the console keeps the stack open', async () => {
    const waits = () =>
      said.filter((notice) => / is locked by bob .*; waiting up to 10s for it\.$/.test(notice));
    const held = await takeDeployLock(t.site, {
      request: { text: 'deploy', actor: 'bob', planner: 'cli', at: new Date().toISOString() },
    });
    const requests: Promise<Response>[] = [];
    try {
      requests.push(pin());
      await vi.waitFor(() => expect(waits()).toHaveLength(1), { timeout: 8000 });
      // Another request, while the same holder holds on: told as the first was.
      requests.push(pin());
      await vi.waitFor(() => expect(waits()).toHaveLength(2), { timeout: 8000 });
    } finally {
      await held.release();
      await Promise.allSettled(requests);
    }
    const answers = await Promise.all(requests);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(await readPin(t.site)).not.toBeNull();
    // Each said once: neither request repeats its own.
    expect(waits()).toHaveLength(2);
  });
});
