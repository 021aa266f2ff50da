import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleServer } from '../../src/console/server.ts';
import type { StatusView } from '../../src/console/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { readPin } from '../../src/state/pin.ts';
import { APP, startConsoleEnv, startConsoleOn } from '../support/console-env.ts';
import { STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let C2: string;
let server: ConsoleServer;

beforeAll(async () => {
  const env = await startConsoleEnv();
  ({ t, repo, C2 } = env);
  server = await startConsoleOn(env);
});
afterAll(async () => {
  await server?.close();
  await repo?.cleanup();
  await t?.stop();
});

const api = (resource: string) => new URL(`/api/stacks/${STACK}/${resource}`, server.url);
const bearer = () => ({ authorization: `Bearer ${server.token}` });
const post = (resource: 'pin' | 'unpin', body: Record<string, unknown>) =>
  fetch(api(resource), {
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

    const late = await post('pin', { deployId: seen });
    const body = (await late.json()) as { error: string; message: string };
    expect(late.status, JSON.stringify(body)).toBe(409);
    expect(body.error).toBe('CONFLICT');
    expect(body.message).toContain(`${seen} is not the live release`);
    // What happened, and what to do about the release live now, not only how to go back.
    expect(body.message).toContain(`${landed.deployId}; it may have gone live since ${seen} was shown`);
    expect(body.message).toContain(`to pin ${landed.deployId}, look at it and pin again`);
    // In the page's words: the person is in the browser, where the history's button goes back.
    expect(body.message).toContain(`"Roll back to this" on ${seen}`);
    expect(body.message).not.toMatch(/frontendops |--to/);
    expect(await readPin(t.site)).toBeNull();

    const now = await post('pin', { deployId: landed.deployId, message: 'hold it' });
    expect(now.status).toBe(200);
    expect((await readPin(t.site))?.deployId).toBe(landed.deployId);
  });

  it('the pin shown was replaced when the unpin arrives: refused, the new pin stays; the pin shown unpins', async () => {
    const bob = { text: 'pin', actor: 'bob', planner: 'cli', at: new Date().toISOString() };
    await pinRelease(t.site, { request: { ...bob, message: 'hold it for the demo' } });
    const shown = (await (await fetch(api('status'), { headers: bearer() })).json()) as StatusView;
    const seen = { deployId: shown.pin?.deployId as string, at: shown.pin?.at as string };
    expect(seen.at).toBeTruthy();

    // Another operator unpins and pins again, for a reason of their own, while the dialog is open.
    await unpinRelease(t.site, { request: { ...bob, actor: 'carol' } });
    await pinRelease(t.site, { request: { ...bob, actor: 'carol', message: 'the CTO froze releases' } });
    const carols = await readPin(t.site);
    expect(carols?.at).not.toBe(seen.at);

    const late = await post('unpin', { pin: seen });
    const body = (await late.json()) as { error: string; message: string };
    expect(late.status, JSON.stringify(body)).toBe(409);
    expect(body.error).toBe('CONFLICT');
    expect(body.message).toContain('not the pin that was shown');
    expect(body.message).toContain('Nothing was unpinned');
    expect(await readPin(t.site)).toEqual(carols);

    const now = await post('unpin', { pin: { deployId: carols?.deployId, at: carols?.at } });
    expect(now.status).toBe(200);
    expect(await readPin(t.site)).toBeNull();
  });
});
