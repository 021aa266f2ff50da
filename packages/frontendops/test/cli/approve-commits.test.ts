/**
 * `frontendops approve` shows the commits the change brings, between the live commit and the new
 * one, with the same "what is in a release" lines the dry run prints: from the repository it runs
 * in, or the one `--repo` (or `--github`) names when the person approves from elsewhere.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApproverKey } from '../../src/approval/keys.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { publishFixtureBuilds, STACK } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import {
  APP,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
} from '../support/mcp-infra.ts';
import { cli } from '../support/run-cli.ts';

let f: InfraFixture;
let c: InfraClient;
let repo: TestRepo;
let key: string;
let approvers: Record<string, string>;

beforeAll(async () => {
  f = await startInfraFixture();
  repo = await createTestRepo();
  key = join(f.t.tmp, 'ada.pem');
  approvers = { Ada: await createApproverKey(key, undefined) };
  await publishFixtureBuilds(f.t, APP, [repo.commits.dashboard1, repo.commits.dashboard2]);
  await deployArtifact(f.t.site, {
    app: APP,
    commit: repo.commits.dashboard1,
    request: { text: 'first', actor: 'ci', planner: 'cli', at: new Date().toISOString() },
  });
  c = await connectInfra(f.server({ config: f.config([STACK], { approvers }) }));
});
afterAll(async () => {
  await c?.close();
  await repo?.cleanup();
  await f?.t.stop();
});

async function approve(deployId: string, extra: string[]) {
  const outputs = await f.t.writeOutputs();
  const config = join(f.t.tmp, `approve-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(config, JSON.stringify({ protected: [STACK], approval: { approvers } }));
  try {
    // Run from a directory that is no repository: the person's own, not the app's.
    return await cli(['approve', deployId, '--stack', outputs, '--key', key, '--yes', ...extra], {
      env: { FRONTENDOPS_CONFIG: config, ...f.t.cliEnv() },
      cwd: f.t.tmp,
    });
  } finally {
    await rm(config, { force: true });
  }
}

describe('frontendops approve: the commits the change brings', () => {
  it('--repo names the repository: the commits since the live one are shown before signing', async () => {
    const target = await c.call('get_deploy_target', { commit: repo.commits.dashboard2 });
    const deployId = target.structured.deployId as string;
    expect((await c.call('run_sync', { handle: target.structured.handle })).text).toMatch(
      /APPROVAL_REQUIRED/,
    );

    // A --repo that is no repository is refused before anything is signed.
    const refused = await approve(deployId, ['--repo', f.t.tmp]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/is not a git repository/);
    expect(refused.stdout).not.toMatch(/Approved by/);

    const approved = await approve(deployId, ['--repo', repo.dir]);
    expect(approved.code, approved.stderr).toBe(0);
    // The one commit touching the app between the live release and this one (the infra commit between
    // them touches another directory), as the dry run lists it: sha, subject, author.
    expect(approved.stderr).toMatch(/^ {2}Commits this release adds \(1\):$/m);
    expect(approved.stderr).toMatch(
      new RegExp(`^ {4}${repo.commits.dashboard2.slice(0, 7)} dashboard: add App — .+, 2026-11-23$`, 'm'),
    );
    expect(approved.stderr).not.toContain('no git repository to ask');
    expect(approved.stderr).toMatch(/^ {2}Files: HTML: /m);
    expect(approved.stdout).toMatch(/^Approved by Ada: /m);
  });
});
