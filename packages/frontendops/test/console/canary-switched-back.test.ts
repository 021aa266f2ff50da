/**
 * A canary's promote the CDN does not serve is recorded as failed and switched back to the release
 * live before it, as a deploy is (atomic-apply.ts switchBackAfterFailure). The console's deploy
 * answer names the switch back (rolledBackTo, console/switched-back.test.ts); its canary answer did
 * not, so a person reading it could not tell which release was live. Now it carries rolledBackTo, and
 * its last progress event says the sentence every surface says (switch-back-words.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type { CanaryResult, ConsoleEvent } from '../../src/console/types.ts';
import { ReleaseActions } from '../../src/console/ui/components/ReleaseActions.tsx';
import { readCanaryStatus, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { switchedBack } from '../../src/deploy/switch-back-words.ts';
import { RELEASES_KEY_PREFIX } from '../../src/engine/manifest.ts';
import { capitalise } from '../../src/engine/text.ts';
import { APP, type AtomicEnv, heldAtSwitch, request, startAtomicEnv } from '../support/atomic-env.ts';
import { openEventStream } from '../support/console-events.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
let t: AtomicEnv;
let server: ConsoleServer;

beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'canary-switched-back' });
  await t.publishVersions([V1, V2]);
  await deployArtifact(t.site, { app: APP, commit: V1, request: request('v1') });
  await startCanary(t.site, { app: APP, commit: V2, weightPercent: 10, request: request('v2 on 10%') });
  // The promote's key write waits until the canary's files are gone from the hosting bucket (deleted
  // outside FrontendOps between its check and its switch): the edge then does not serve it.
  const canary = (await readCanaryStatus(t.site)).canary;
  if (!canary) throw new Error('the canary did not start');
  const held = heldAtSwitch(t.store());
  void held.reached.then(async () => {
    const prefix = `${RELEASES_KEY_PREFIX}${canary.releaseId}/`;
    await t.site.hosting.delete((await t.site.hosting.list(prefix)).map((o) => o.key));
    held.release();
  });
  const site = await t.open({ releases: held.store });
  const uiDir = join(t.tmp, 'ui');
  await mkdir(uiDir, { recursive: true });
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  server = await startConsole({
    config: await loadConfig(t.tmp),
    stacks: [t.target.stack],
    openSite: async () => site,
    uiDir,
    actor: 'tester (console)',
    // Four tries at the edge (0, 50, 150, 350 ms): the switch back is served at its first.
    verifyTimeoutMs: 400,
  });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await t?.stop();
});

it('a canary promote the CDN does not serve: the answer and the last progress event say it was switched back', async () => {
  const canary = (await readCanaryStatus(t.site)).canary;
  const stream = await openEventStream(new URL(server.url).origin, server.token);
  try {
    const runId = 'run-canary-switched-back';
    const res = await fetch(new URL('/api/canary/promote', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
      body: JSON.stringify({ stack: t.target.stack, deployId: canary?.deployId, runId }),
    });
    const result = (await res.json()) as CanaryResult;
    expect(res.status, JSON.stringify(result)).toBe(200);
    const live = (await t.site.records.readPointer())?.value;
    expect(live?.commit).toBe(V1);
    expect(live?.deployId).not.toBe(canary?.deployId);
    expect(result, JSON.stringify(result)).toMatchObject({
      action: 'canary-promote',
      outcome: 'failed',
      error: { code: 'VERIFY_FAILED' },
      rolledBackTo: live?.deployId,
      tag: null,
    });
    const done = (event: ConsoleEvent) =>
      event.source === 'deploy' && event.runId === runId && event.event.type === 'done';
    await stream.waitFor(done);
    expect(stream.events.find(done)?.event).toMatchObject({
      type: 'done',
      outcome: 'failed',
      headline: `Finished: failed; ${switchedBack(String(live?.deployId))}.`,
    });
  } finally {
    stream.close();
  }
});

it("the page's result line says it too, not that everyone gets the canary", () => {
  const result: CanaryResult = {
    runId: 'r',
    stack: 'prod',
    action: 'canary-promote',
    deployId: 'b2b2b2b-0123456789',
    app: APP,
    commit: V2,
    outcome: 'failed',
    percent: null,
    copied: 0,
    pruned: 0,
    verification: { ok: false, detail: 'the edge answered HTTP 404' },
    durationMs: 1,
    error: { code: 'VERIFY_FAILED', message: 'The edge did not serve the release in time.' },
    tag: null,
    rolledBackTo: 'a1a1a1a-0123456789',
  };
  const html = renderToStaticMarkup(
    createElement(ReleaseActions, {
      status: null,
      plan: null,
      planError: null,
      outcome: { kind: 'canary', action: 'canary-promote', result },
      busy: false,
      onAsk: () => undefined,
    }),
  );
  expect(html).toContain(`${capitalise(switchedBack('a1a1a1a-0123456789'))}.`);
  expect(html).not.toContain('everyone gets');
});
