/**
 * `rollback --to` looks for the release it names among the stack's newest 200 releases: the rows of
 * canaries started and aborted are no release, and do not count toward them.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import type { DeploymentRecord, RequestInfo } from '../../src/state/records.ts';
import { writeCanaryRows } from '../support/canary-rows.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const request: RequestInfo = { text: 'deploy', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
const commits = ['e1e1e1e1e1e1e1', 'e2e2e2e2e2e2e2', 'e3e3e3e3e3e3e3', 'e4e4e4e4e4e4e4'] as const;
let t: TestDeployEnv;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'rollback-past-canary-rows' });
  for (const [i, commit] of commits.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `b${i}`), { version: `v${i}` });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
    await deployArtifact(t.site, { app: APP, commit, request });
  }
});
afterAll(() => t?.stop());

describe('rollback --to past the rows of canaries', () => {
  it('finds a release older than 200 canary rows, and rolls back to it', async () => {
    const live = (await t.site.records.readPointer())?.value;
    // The first release is no longer retained by the live pointer: only the history has it.
    expect(live?.releases.map((r) => r.commit)).not.toContain(commits[0]);
    const record = (await t.site.records.readRecord(live?.deployId as string)) as DeploymentRecord;
    // A hundred canaries started and aborted since (200 rows, the shape the atomic apply writes them
    // in): as many rows as a rollback used to read, none of them a release.
    const from = Date.now();
    await writeCanaryRows(t.site, record, 200, (i) => new Date(from + i).toISOString());
    const back = await rollbackRelease(t.site, { to: commits[0].slice(0, 7), request });
    expect([back.outcome, back.commit]).toEqual(['succeeded', commits[0]]);
  });
});
