/**
 * A change stopped after its switch (live, neither verified nor recorded), finished by the console's
 * next change of the stack: its plan says so, as the CLI's dry run says it (describeFinish), in the
 * API and on the page, and the change's result names it. Before, the plan said "already live,
 * nothing to do" (and the page's Deploy latest was disabled) while a stopped change waited.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CONSOLE_UI_DIR, type ConsoleServer } from '../../src/console/server.ts';
import type { ActionResult, ConsoleEvent, PlanView } from '../../src/console/types.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { describeFinish, describeFinished } from '../../src/engine/describe.ts';
import { capitalise } from '../../src/engine/text.ts';
import { parseTrailers } from '../../src/git/deploy-tag.ts';
import { readPin } from '../../src/state/pin.ts';
import { type FileBrowser, hasChromium, openChromium } from '../support/browser.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { APP, startConsoleEnv, startConsoleOn } from '../support/console-env.ts';
import { openEventStream } from '../support/console-events.ts';
import { signedInPage } from '../support/console-sign-in.ts';
import { requestBy, STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';
import { agentListsDeployTags } from '../support/mcp-infra.ts';
import { stoppingSite } from '../support/stopping-site.ts';

let t: TestDeployEnv;
let repo: TestRepo;
let C1: string;
let C2: string;
let server: ConsoleServer;
let browser: FileBrowser | undefined;
/** The stack as the cases start from it: C1 live (as the environment starts); C2 deployed over it. */
let c1Live: BucketSnapshot;
let c2Live: BucketSnapshot;

beforeAll(async () => {
  const env = await startConsoleEnv();
  ({ t, repo, C1, C2 } = env);
  // The built page: the plan's words are read where a person reads them too.
  server = await startConsoleOn(env, { uiDir: CONSOLE_UI_DIR });
  const snapshot = () => snapshotStack(t.site);
  c1Live = await snapshot();
  await deployArtifact(t.site, { app: APP, commit: C2, request: requestBy('deploy') });
  c2Live = await snapshot();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await repo?.cleanup();
  await t?.stop();
});

const api = (resource: string) => new URL(`/api/stacks/${STACK}/${resource}`, server.url);
const bearer = () => ({ authorization: `Bearer ${server.token}` });

it("a promote that finishes a stopped rollback says so and tags it as that rollback's own run would", async () => {
  await c2Live.restore();
  // Stopped at its deployment record: C1 live again, neither verified nor recorded.
  const stopping = stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
  await expect(rollbackRelease(stopping, { request: requestBy('roll back') })).rejects.toThrow(/stopped/);
  const stopped = (await t.site.records.readPointer())?.value.deployId as string;
  expect(stopped).toMatch(new RegExp(`^${C1.slice(0, 7)}-`));

  const plan = (await (
    await fetch(api(`plan?action=promote&to=${C1}`), { headers: bearer() })
  ).json()) as PlanView;
  expect(plan).toMatchObject({ noop: true, finishes: { deployId: stopped, kind: 'rollback', pins: true } });
  // A promote lifts the pin the rollback sets as it is finished: no "the pin stays".
  expect(plan.description).not.toMatch(/already live|the pin stays/);
  const res = await fetch(api('promote'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify({ deployId: plan.deployId, to: C1 }),
  });
  const result = (await res.json()) as ActionResult;
  expect(res.status, JSON.stringify(result)).toBe(200);
  expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'noop', finishedInterrupted: stopped });
  expect(result.tag).toMatch(/^dashboard-deploy-/);
  const message = await repo.git(['tag', '-l', '--format=%(contents)', String(result.tag)]);
  expect(message.split('\n')[0]).toBe(`Roll back ${APP} from ${C2.slice(0, 7)} to ${C1.slice(0, 7)}`);
  expect(parseTrailers(message)).toMatchObject({
    'Deploy-Id': stopped,
    Kind: 'rollback',
    'Rolled-Back-From': C2,
  });
});

const stoppingAtRecord = () => stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
const planOf = async (query: string) =>
  (await (await fetch(api(`plan?${query}`), { headers: bearer() })).json()) as PlanView;
const post = async (action: string, body: object) => {
  const res = await fetch(api(action), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify(body),
  });
  const result = (await res.json()) as ActionResult;
  expect(res.status, JSON.stringify(result)).toBe(200);
  return result;
};

it('the plan of a deploy that finishes a stopped deploy says so, as the dry run does, and the page shows it', async () => {
  await c1Live.restore();
  // C1 live: a deploy of the latest build, C2, stops at its record.
  await expect(
    deployArtifact(stoppingAtRecord(), { app: APP, commit: C2, request: requestBy('deploy') }),
  ).rejects.toThrow(/stopped/);
  const stopped = (await t.site.records.readPointer())?.value.deployId as string;
  expect(stopped).toMatch(new RegExp(`^${C2.slice(0, 7)}-`));
  const finishes = { deployId: stopped, kind: 'deploy', app: APP, commit: C2 };

  const plan = await planOf('action=deploy-latest');
  expect(plan).toMatchObject({ noop: true, finishes, description: describeFinish(finishes, STACK) });
  expect(plan.description).not.toMatch(/already live/);

  if (hasChromium) {
    browser ??= await openChromium();
    const page = await signedInPage(browser, server);
    const card = page.getByRole('region', { name: 'Plan' });
    await expect.poll(() => card.textContent()).toContain(describeFinish(finishes, STACK));
    expect(await card.textContent()).not.toMatch(/already live/);
    // What the plan says is to do can be confirmed: the button is not held as "nothing to do".
    await expect.poll(() => page.getByRole('button', { name: 'Deploy latest' }).isEnabled()).toBe(true);
  }

  const events = await openEventStream(new URL(server.url).origin, server.token);
  try {
    const result = await post('deploy-latest', { deployId: plan.deployId });
    expect(result).toMatchObject({ outcome: 'noop', finishedInterrupted: stopped });
    // The progress ends saying what the run did, not "it was already live, nothing changed".
    const done = (event: ConsoleEvent) => event.runId === result.runId && event.event.type === 'done';
    await events.waitFor(done);
    expect(events.events.find(done)?.event).toMatchObject({
      type: 'done',
      outcome: 'noop',
      headline: `${capitalise(describeFinished({ deployId: stopped, kind: 'deploy' }))}.`,
    });
  } finally {
    events.close();
  }
  expect((await t.site.records.readRecord(stopped))?.outcome).toBe('succeeded');
  expect(await planOf('action=deploy-latest')).not.toHaveProperty('finishes');
});

it('a redeploy of another build that first finishes a stopped deploy names it in its result and its end', async () => {
  await c1Live.restore();
  // C1 live: a deploy of C2 stops at its record (C2 live, unrecorded); then C1 is redeployed.
  await expect(
    deployArtifact(stoppingAtRecord(), { app: APP, commit: C2, request: requestBy('deploy') }),
  ).rejects.toThrow(/stopped/);
  const stopped = (await t.site.records.readPointer())?.value.deployId as string;
  const plan = await planOf(`action=redeploy&to=${C1}`);
  expect(plan).toMatchObject({ noop: false, finishesFirst: { deployId: stopped, kind: 'deploy' } });

  const events = await openEventStream(new URL(server.url).origin, server.token);
  try {
    const result = await post('redeploy', { deployId: plan.deployId, to: C1 });
    // What the run did first, as run_sync and the CLI say it: not the redeploy alone.
    expect(result).toMatchObject({ outcome: 'succeeded', commit: C1, finishedFirst: stopped });
    // The deployment it finished gets its own deploy tag, of its build (before, none: only the
    // redeploy's own tag was made).
    const finishedTag = String(result.finishedFirstTag);
    const trailers = parseTrailers(await repo.git(['tag', '-l', '--format=%(contents)', finishedTag]));
    expect(trailers).toMatchObject({ 'Deploy-Id': stopped, Stack: STACK });
    expect((await repo.git(['rev-list', '-n', '1', finishedTag])).trim()).toBe(C2);
    expect(result.tag).not.toBe(finishedTag);
    const done = (event: ConsoleEvent) => event.runId === result.runId && event.event.type === 'done';
    await events.waitFor(done);
    expect(events.events.find(done)?.event).toMatchObject({
      type: 'done',
      outcome: 'succeeded',
      headline: `First ${describeFinished({ deployId: stopped, kind: 'deploy' })}. Finished: succeeded.`,
    });
  } finally {
    events.close();
  }
  expect((await t.site.records.readRecord(stopped))?.outcome).toBe('succeeded');
});

it("a redeploy that finishes a stopped rollback of its build says the rollback's pin stays, planned and done", async () => {
  await c2Live.restore();
  // C2 live and recorded; a rollback to C1 stops at its record, before its pin.
  await expect(rollbackRelease(stoppingAtRecord(), { request: requestBy('roll back') })).rejects.toThrow(
    /stopped/,
  );
  const stopped = (await t.site.records.readPointer())?.value.deployId as string;
  expect(stopped).toMatch(new RegExp(`^${C1.slice(0, 7)}-`));
  const pinWords = `finishing the rollback pins ${STACK} to ${APP}@${C1.slice(0, 7)}, and the pin stays`;

  const plan = await planOf(`action=redeploy&to=${C1}`);
  expect(plan).toMatchObject({ noop: true, finishes: { deployId: stopped, kind: 'rollback', pins: true } });
  expect(plan.description).toContain(pinWords);

  const result = await post('redeploy', { deployId: plan.deployId, to: C1 });
  expect(result).toMatchObject({ outcome: 'noop', finishedInterrupted: stopped, pinned: true });
  expect(await readPin(t.site)).toMatchObject({ cause: 'rollback', commit: C1, deployId: stopped });
});

it('Deploy latest while a stopped rollback of another build waits: its plan says the finish first and the refusal, and the dialog shows both', async () => {
  await c2Live.restore();
  // C2 live and recorded; a rollback to C1 stops at its record, before its pin. The latest build is C2.
  await expect(rollbackRelease(stoppingAtRecord(), { request: requestBy('roll back') })).rejects.toThrow(
    /stopped/,
  );
  const stopped = (await t.site.records.readPointer())?.value.deployId as string;
  expect(stopped).toMatch(new RegExp(`^${C1.slice(0, 7)}-`));
  const first = { deployId: stopped, kind: 'rollback', app: APP, commit: C1, pins: true as const };
  const pinnedTo = `This stack is pinned to ${APP}@${C1.slice(0, 7)} (${stopped})`;

  // The run finishes the rollback (which pins C1), then refuses the deploy: its plan says both, the
  // refusal in the page's words (the buttons, not CLI commands). Before, it planned the deploy alone.
  const plan = await planOf('action=deploy-latest');
  expect(plan).toMatchObject({
    commit: C2,
    noop: false,
    finishesFirst: first,
    refusedBy: { code: 'PINNED' },
  });
  expect(plan.description.startsWith(`first ${describeFinish(first, STACK)}; then `)).toBe(true);
  const refusal = plan.refusedBy?.message ?? '';
  expect(refusal.startsWith(pinnedTo)).toBe(true);
  expect(refusal).toContain(`(This run would first ${describeFinish(first, STACK)}.)`);
  expect(refusal).not.toMatch(/frontendops /);
  // The run changes something (the finish) before it is refused: not "so nothing was changed".
  expect(refusal).toContain(', so nothing more was changed. ');

  if (hasChromium) {
    browser ??= await openChromium();
    const page = await signedInPage(browser, server);
    const card = page.getByRole('region', { name: 'Plan' });
    await expect.poll(() => card.textContent()).toContain(refusal);
    await page.getByRole('button', { name: 'Deploy latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deploy the latest build?' });
    await expect.poll(() => dialog.textContent()).toContain(refusal);
    expect(await dialog.textContent()).toContain(plan.description);
    await page.context().close();
  }

  // As planned: the run finishes the rollback, then is refused, saying so.
  const res = await fetch(api('deploy-latest'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify({ deployId: plan.deployId }),
  });
  const refused = (await res.json()) as { error: string; message: string };
  expect(refused.error, JSON.stringify(refused)).toBe('PINNED');
  expect(refused.message.startsWith(pinnedTo)).toBe(true);
  expect(refused.message).toContain('(This run finished the interrupted rollback');
  expect(refused.message).toContain(', so nothing more was changed. ');
  expect(await readPin(t.site)).toMatchObject({ cause: 'rollback', commit: C1, deployId: stopped });
});

it('a plan changed by a stopped rollback it finished: the answer says the finish, and its new plan is the plan now', async () => {
  await c2Live.restore();
  // Redeploy C1 is planned from C2 live; then a rollback to C1 stops at its record, before its pin.
  const shown = await planOf(`action=redeploy&to=${C1}`);
  expect(shown).toMatchObject({ noop: false, commit: C1 });
  await expect(rollbackRelease(stoppingAtRecord(), { request: requestBy('roll back') })).rejects.toThrow(
    /stopped/,
  );
  const stopped = (await t.site.records.readPointer())?.value.deployId as string;
  // The run finishes the rollback (which pins C1), then finds its plan changed: it says both, and
  // shows the plan as the plan of the action says it now (the same fields, finish and refusal
  // included). Before, the answer said the plan changed as if the run had done nothing.
  const res = await fetch(api('redeploy'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify({ deployId: shown.deployId, to: C1 }),
  });
  const changed = (await res.json()) as { error: string; message: string; plan: PlanView };
  expect(res.status, JSON.stringify(changed)).toBe(409);
  expect(changed.error).toBe('PLAN_CHANGED');
  expect(changed.message).toContain(
    `(This run finished the interrupted rollback ${stopped}, which had made it live`,
  );
  expect(await readPin(t.site)).toMatchObject({ cause: 'rollback', commit: C1, deployId: stopped });
  expect(changed.plan).toEqual(await planOf(`action=redeploy&to=${C1}`));
});

it('words naming the hosting bucket reach no console tag: list_deploy_tags answers the agent without it', async () => {
  await c1Live.restore();
  const bucket = t.target.hostingBucket;
  // A deploy of C2 asked in words naming the bucket stops at its record; the console's redeploy of
  // C1, its message naming the bucket too, finishes it first and tags both.
  await expect(
    deployArtifact(stoppingAtRecord(), { app: APP, commit: C2, request: requestBy(`ship to ${bucket}`) }),
  ).rejects.toThrow(/stopped/);
  const plan = await planOf(`action=redeploy&to=${C1}`);
  const result = await post('redeploy', { deployId: plan.deployId, to: C1, message: `back on ${bucket}` });
  expect(result.finishedFirstTag).toMatch(/^dashboard-deploy-/);
  expect(result.tag).toMatch(/^dashboard-deploy-/);
  const listed = await agentListsDeployTags(repo.dir);
  // Before: both tags carried the bucket's name (the stored words, the operator's message).
  expect(listed).toContain(String(result.finishedFirstTag));
  expect(listed).toContain(String(result.tag));
  expect(listed).toContain('ship to [hidden]');
  expect(listed).toContain('back on [hidden]');
  expect(listed).not.toContain(bucket);
});
