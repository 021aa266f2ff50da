/**
 * The console on an atomic stack: a change confirmed after another one stopped past its switch. The
 * run finishes and records the stopped one first (settleAtomic), then finds its plan changed and
 * stops: its answer says that finish, as an in-place run's does (finished-stopped.test.ts), and the
 * new plan is the plan now.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { loadConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type { PlanView } from '../../src/console/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import type { Site } from '../../src/site.ts';
import { APP, type AtomicEnv, request, startAtomicEnv, storedAtomicPending } from '../support/atomic-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const STACK = 'dashboard-atomic';
let t: AtomicEnv;
let repo: TestRepo;
let server: ConsoleServer;
let C1: string;
let C2: string;

beforeAll(async () => {
  t = await startAtomicEnv();
  repo = await createTestRepo();
  C1 = repo.commits.dashboard1;
  C2 = repo.commits.dashboard2;
  await t.publish(C1, 'v1');
  await t.publish(C2, 'v2');
  for (const commit of [C1, C2])
    await deployArtifact(t.site, { app: APP, commit, request: request('deploy') });
  const uiDir = join(t.tmp, 'ui');
  await mkdir(uiDir, { recursive: true });
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  server = await startConsole({
    config: await loadConfig(t.tmp),
    stacks: [STACK],
    openSite: async () => t.site,
    git: createLocalGit({ repoDir: repo.dir }),
    uiDir,
    actor: 'tester (console)',
  });
}, 180_000);
afterAll(async () => {
  await server?.close();
  await repo?.cleanup();
  await t?.stop();
});

const api = (resource: string) => new URL(`/api/stacks/${STACK}/${resource}`, server.url);
const bearer = () => ({ authorization: `Bearer ${server.token}` });
const planOf = async (query: string) =>
  (await (await fetch(api(`plan?${query}`), { headers: bearer() })).json()) as PlanView;

it('a plan changed by a stopped deploy its run finished: the answer says the finish, and its new plan is the plan now', async () => {
  // V2 live (put back if a case before left V1 live: the cases run in any order): the rollback
  // shown goes back to V1. Then a deploy of V1 stops at its record, after its switch: V1 live,
  // neither verified nor recorded.
  if ((await t.site.records.readPointer())?.value.commit !== C2)
    await deployArtifact(t.site, { app: APP, commit: C2, request: request('deploy') });
  const shown = await planOf('action=rollback');
  expect(shown).toMatchObject({ noop: false, commit: C1 });
  const stopping = stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
  await expect(
    deployArtifact(stopping, { app: APP, commit: C1, request: request('ship v1') }),
  ).rejects.toThrow(/stopped/);
  const pending = await storedAtomicPending(t.site);
  expect(pending).toMatchObject({ op: 'deploy', switched: true });
  const stopped = pending.plan.deployId;

  // The run finishes that deploy, then its rollback goes back to V2: another plan. It says both.
  // Before, the answer said the plan changed as if the run had done nothing.
  const res = await fetch(api('rollback'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify({ deployId: shown.deployId }),
  });
  const changed = (await res.json()) as { error: string; message: string; plan: PlanView };
  expect(res.status, JSON.stringify(changed)).toBe(409);
  expect(changed.error).toBe('PLAN_CHANGED');
  expect(changed.message).toContain(
    `(This run finished the interrupted deployment ${stopped}, which had made it live; recorded now.)`,
  );
  expect(await t.site.records.readRecord(stopped)).toMatchObject({ outcome: 'succeeded' });
  expect(changed.plan).toEqual(await planOf('action=rollback'));
  expect(changed.plan).toMatchObject({ commit: C2 });
});

it('a plan changed by a stopped deploy its run finished, and the new plan cannot be read: the error still says the finish', async () => {
  // Reads fail once the run has let its deploy lock go: the new dry run then throws.
  let broken = false;
  const unreadable = new FrontendOpsError('UPSTREAM', 'The state bucket cannot be read.');
  const site: Site = {
    ...t.site,
    state: {
      ...t.site.state,
      get: async (...args) => {
        if (broken) throw unreadable;
        return t.site.state.get(...args);
      },
    },
    locker: {
      acquire: async (name, options) => {
        const held = await t.site.locker.acquire(name, options);
        return {
          ...held,
          release: async () => {
            await held.release();
            if (name.startsWith('deploy-')) broken = true;
          },
        };
      },
    },
  };
  const console2 = await startConsole({
    config: await loadConfig(t.tmp),
    stacks: [STACK],
    openSite: async () => site,
    git: createLocalGit({ repoDir: repo.dir }),
    uiDir: join(t.tmp, 'ui'),
    actor: 'tester (console)',
  });
  try {
    const url = (resource: string) => new URL(`/api/stacks/${STACK}/${resource}`, console2.url);
    const auth = { authorization: `Bearer ${console2.token}` };
    const shown = (await (await fetch(url('plan?action=rollback'), { headers: auth })).json()) as PlanView;
    const stopping = stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
    await expect(
      deployArtifact(stopping, { app: APP, commit: shown.commit, request: request('ship it') }),
    ).rejects.toThrow(/stopped/);
    const stopped = (await storedAtomicPending(t.site)).plan.deployId;

    const res = await fetch(url('rollback'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ deployId: shown.deployId }),
    });
    const failed = (await res.json()) as { error: string; message: string };
    broken = false;
    // Before, the dry run's error alone (in the console's words): the finish the run did was not said.
    expect(failed.error, JSON.stringify(failed)).toBe('UPSTREAM');
    expect(failed.message).toContain(
      `(This run finished the interrupted deployment ${stopped}, which had made it live; recorded now.)`,
    );
    expect(await t.site.records.readRecord(stopped)).toMatchObject({ outcome: 'succeeded' });
  } finally {
    await console2.close();
  }
});

it('a promote planned with nothing pinned meets a pin set since: PLAN_CHANGED with the new plan, nothing switched, the pin kept', async () => {
  const { pinRelease, unpinRelease } = await import('../../src/deploy/pin.ts');
  const { readPin } = await import('../../src/state/pin.ts');
  await unpinRelease(t.site, { request: request('unpin') });
  const live = (await t.site.records.readPointer())?.value;
  const other = live?.commit === C1 ? C2 : C1;
  const plan = await planOf(`action=promote&to=${other}`);
  expect(plan.pin).toBeNull();
  await pinRelease(t.site, {
    request: { ...request('pin'), actor: 'carol', message: 'hold for the incident' },
  });
  const carols = await readPin(t.site);
  try {
    const late = await fetch(api('promote'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer() },
      body: JSON.stringify({ deployId: plan.deployId, to: other, pin: null }),
    });
    const body = (await late.json()) as { error: string; message: string; plan?: PlanView };
    expect(late.status, JSON.stringify(body)).toBe(409);
    expect(body.error).toBe('PLAN_CHANGED');
    expect(body.message).toContain('hold for the incident');
    expect(body.plan?.pin).toMatchObject({ at: carols?.at });
    expect((await t.site.records.readPointer())?.value.deployId).toBe(live?.deployId);
    expect(await readPin(t.site)).toEqual(carols);
  } finally {
    await unpinRelease(t.site, { request: request('unpin') });
  }
});
