import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ConsoleServer } from '../../src/console/server.ts';
import type { ActionResult, PlanView } from '../../src/console/types.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { parseTrailers } from '../../src/git/deploy-tag.ts';
import { APP, startConsoleEnv, startConsoleOn } from '../support/console-env.ts';
import { requestBy, STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import type { TestRepo } from '../support/git-repo.ts';
import { stoppingSite } from '../support/stopping-site.ts';

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

it("a promote that finishes a stopped rollback says so and tags it as that rollback's own run would", async () => {
  await deployArtifact(t.site, { app: APP, commit: C2, request: requestBy('deploy') });
  // Stopped at its deployment record: C1 live again, neither verified nor recorded.
  const stopping = stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
  await expect(rollbackRelease(stopping, { request: requestBy('roll back') })).rejects.toThrow(/stopped/);
  const stopped = (await t.site.records.readPointer())?.value.deployId as string;
  expect(stopped).toMatch(new RegExp(`^${C1.slice(0, 7)}-`));

  const plan = (await (
    await fetch(api(`plan?action=promote&to=${C1}`), { headers: bearer() })
  ).json()) as PlanView;
  expect(plan).toMatchObject({ noop: true });
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
