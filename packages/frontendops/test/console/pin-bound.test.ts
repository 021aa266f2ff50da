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
let C1: string;
let C2: string;
let server: ConsoleServer;

beforeAll(async () => {
  const env = await startConsoleEnv();
  ({ t, repo, C1, C2 } = env);
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

/** A promote as the page sends it: the plan's deploy id and the pin its dialog showed (null: none). */
const promote = (body: { deployId: string; to?: string; pin: { deployId: string; at: string } | null }) =>
  fetch(api('promote'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify(body),
  });
const promotePlan = async (to?: string) => {
  const planned = await fetch(
    `${api('plan')}?${new URLSearchParams({ action: 'promote', ...(to ? { to } : {}) })}`,
    {
      headers: bearer(),
    },
  );
  const plan = (await planned.json()) as {
    deployId: string;
    noop: boolean;
    pin: { deployId: string; at: string } | null;
  };
  expect(planned.status, JSON.stringify(plan)).toBe(200);
  return plan;
};
const carol = () => ({ text: 'pin', actor: 'carol', planner: 'cli', at: new Date().toISOString() });
/** The live release, with nothing pinned (whatever the cases before left). */
const liveUnpinned = async () => {
  await unpinRelease(t.site, { request: carol() });
  return ((await (await fetch(api('status'), { headers: bearer() })).json()) as StatusView).live;
};

describe('attack: the console lifts a pin the person did not see', () => {
  it('a promote of the live release planned with no pin arrives after someone pinned: refused with the new plan, the pin stays', async () => {
    const live = await liveUnpinned();
    const plan = await promotePlan(live?.deployId);
    expect(plan.noop).toBe(true);
    expect(plan.pin).toBeNull();

    // Another operator freezes releases while the dialog is open.
    await pinRelease(t.site, { request: { ...carol(), message: 'the CTO froze releases' } });
    const carols = await readPin(t.site);
    expect(carols).not.toBeNull();

    const late = await promote({ deployId: plan.deployId, to: live?.deployId ?? '', pin: null });
    const body = (await late.json()) as { error: string; message: string; plan?: { pin: unknown } };
    expect(late.status, JSON.stringify(body)).toBe(409);
    expect(body.error).toBe('PLAN_CHANGED');
    expect(body.message).toContain(`pinned to ${APP}@`);
    expect(body.message).toContain('the CTO froze releases');
    expect(body.message).toContain('Nothing was changed');
    expect(body.plan?.pin).toMatchObject({ deployId: carols?.deployId, at: carols?.at });
    expect(await readPin(t.site)).toEqual(carols);

    // The new plan, showing her pin, confirmed: it goes.
    const now = await promote({
      deployId: plan.deployId,
      ...(live ? { to: live.deployId } : {}),
      pin: { deployId: carols?.deployId ?? '', at: carols?.at ?? '' },
    });
    expect(now.status).toBe(200);
    expect(((await now.json()) as { unpinned: boolean }).unpinned).toBe(true);
    expect(await readPin(t.site)).toBeNull();
  });

  it('a promote of another release planned with no pin arrives after someone pinned: refused, nothing goes live, the pin stays', async () => {
    const live = await liveUnpinned();
    const older = live?.commit === C1 ? C2 : C1;
    const plan = await promotePlan(older);
    expect(plan.noop).toBe(false);
    expect(plan.pin).toBeNull();

    await pinRelease(t.site, { request: { ...carol(), message: 'incident 42: keep what is live' } });
    const carols = await readPin(t.site);

    const late = await promote({ deployId: plan.deployId, to: older, pin: null });
    const body = (await late.json()) as { error: string; message: string };
    expect(late.status, JSON.stringify(body)).toBe(409);
    expect(body.error).toBe('PLAN_CHANGED');
    expect(body.message).toContain('incident 42');
    expect(await readPin(t.site)).toEqual(carols);
    const after = (await (await fetch(api('status'), { headers: bearer() })).json()) as StatusView;
    expect(after.live?.deployId).toBe(live?.deployId);
  });
});
