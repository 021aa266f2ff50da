/**
 * Attack: a pin swapped between "confirm" and "apply". The page shows the live release and asks the
 * person to pin it; another deploy lands before the POST arrives. The pin must hold the release the
 * person saw, or nothing: the confirmation names it (its deploy id), and a pin of a release that is
 * no longer live is refused, CONFLICT, nothing pinned.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { loadConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type { StatusView } from '../../src/console/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readPin } from '../../src/state/pin.ts';
import { APP, startConsoleEnv } from '../support/console-env.ts';
import { STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let C2: string;
let server: ConsoleServer;

beforeAll(async () => {
  ({ t, repo, C2 } = await startConsoleEnv());
  const uiDir = join(t.tmp, 'ui');
  await mkdir(uiDir, { recursive: true });
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  server = await startConsole({
    config: await loadConfig(t.tmp),
    stacks: [STACK],
    openSite: async () => t.site,
    git: createLocalGit({ repoDir: repo.dir }),
    uiDir,
    actor: 'ada (console)',
  });
});
afterAll(async () => {
  await server?.close();
  await repo?.cleanup();
  await t?.stop();
});

const api = (resource: string) => new URL(`/api/stacks/${STACK}/${resource}`, server.url);
const bearer = () => ({ authorization: `Bearer ${server.token}` });
const pin = (body: Record<string, unknown>) =>
  fetch(api('pin'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify(body),
  });

describe('attack: the console pins a release the person did not see', () => {
  it('the release shown is no longer live when the pin arrives: refused, nothing pinned; the live one shown pins', async () => {
    const shown = (await (await fetch(api('status'), { headers: bearer() })).json()) as StatusView;
    const seen = shown.live?.deployId as string;
    expect(seen).toMatch(/^[0-9a-f]{7}-/);

    // Another operator deploys meanwhile.
    const landed = await deployArtifact(t.site, {
      app: APP,
      commit: C2,
      request: { text: 'deploy', actor: 'bob', planner: 'cli', at: new Date().toISOString() },
    });
    expect(landed.outcome).toBe('succeeded');

    const late = await pin({ deployId: seen });
    const body = (await late.json()) as { error: string; message: string };
    expect(late.status, JSON.stringify(body)).toBe(409);
    expect(body.error).toBe('CONFLICT');
    expect(body.message).toContain(`${seen} is not the live release`);
    expect(await readPin(t.site)).toBeNull();

    const now = await pin({ deployId: landed.deployId, message: 'hold it' });
    expect(now.status).toBe(200);
    expect((await readPin(t.site))?.deployId).toBe(landed.deployId);
  });
});
