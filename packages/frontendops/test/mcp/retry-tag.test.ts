/**
 * invalidate_cdn asked again for a deployment it finished (its answer lost), after another deployment
 * moved the audit chain on, then create_deploy_tag with that answer's receipt, as the agent retries:
 * the same tag. Before, the answer named the chain's head as it was then, another deployment's entry,
 * so the retry made a second tag of the deployment with another Audit-Head; the two disagreed, and
 * the history named neither beside it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { readDeployTags } from '../../src/read/tags.ts';
import { type CliTagEnv, startCliTagEnv } from '../support/cli-tag-env.ts';
import { connectInfra, deployThroughTools, type InfraClient, infraServerOn } from '../support/mcp-infra.ts';

let s: CliTagEnv;
let infra: InfraClient;
let git: InfraClient;
beforeAll(async () => {
  s = await startCliTagEnv('retry-tag');
  infra = await connectInfra(infraServerOn(s.t.site));
  git = await connectInfra(
    createGitServer({ host: createLocalGit({ repoDir: s.repo.dir }), defaultPath: 'apps/sophia-dashboard' }),
    { name: 'test' },
  );
});
afterAll(async () => {
  await infra?.close();
  await git?.close();
  await s?.stop();
});

it('invalidate_cdn asked again after another deployment answers its own head: the retry makes no second tag', async () => {
  const target = await infra.call('get_deploy_target', { commit: s.repo.commits.dashboard1 });
  const sync = await infra.call('run_sync', { handle: target.structured.handle });
  const deployId = String(sync.structured.deployId);
  const tagWith = async (answer: Record<string, unknown>) => {
    const made = await git.call('create_deploy_tag', {
      deployId,
      commit: answer.commit,
      artifactDigest: answer.artifactDigest,
      request: 'Deploy the latest dashboard',
      auditHead: answer.auditHead,
      receipt: answer.receipt,
    });
    expect(made.isError, made.text).toBe(false);
    return made.structured;
  };
  const done = await infra.call('invalidate_cdn', { deployId });
  expect(done.isError, done.text).toBe(false);
  const first = await tagWith(done.structured);
  expect(first.created).toBe(true);

  // Another deployment appends its entries after this one's.
  await deployThroughTools(infra, s.repo.commits.dashboard2);

  const again = await infra.call('invalidate_cdn', { deployId });
  expect(again.isError, again.text).toBe(false);
  expect(again.structured.auditHead).toEqual(done.structured.auditHead);
  const retried = await tagWith(again.structured);
  expect(retried).toMatchObject({ created: false, name: first.name });
  expect(await s.tags()).toEqual([first.name]);
  // The history names it beside the deployment.
  const tags = await readDeployTags(createLocalGit({ repoDir: s.repo.dir }));
  expect(tags.get(deployId)?.name).toBe(first.name);
  const verified = await s.run(['audit', 'verify', '--stack', s.outputs, '--repo', s.repo.dir]);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
});
