/**
 * What the agent says a release holds, against someone who can force-push (as the CLI's plan and the
 * console's dialog say it: read/release-commits-rewritten.test.ts): the branch rebuilt on an older
 * commit leaves out a commit of the live release (a fix), with a harmless-looking one on top. The
 * agent's plan, which a person reads before saying "do it", must name the commit that leaves too.
 * Real servers in-process (agent-env.ts), real git; `git fast-import` is the force-push.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentClients } from '../../src/agent/types.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { type AgentTestEnv, APP, runbookRequests, startAgentTestEnv } from '../support/agent-env.ts';
import { publishAsCi, requestBy } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { fastImport } from '../support/git-repo.ts';

let e: AgentTestEnv;
let clients: AgentClients;
/** The rewritten branch's new commit: on dashboard1, so dashboard2 (live) is not in its history. */
let rewritten: string;

beforeAll(async () => {
  e = await startAgentTestEnv();
  clients = await e.connect();
  await deployArtifact(e.t.site, {
    app: APP,
    commit: e.repo.commits.dashboard2,
    request: requestBy('deploy the latest dashboard'),
  });
  const subject = 'dashboard: tidy the header';
  const text = 'tidy';
  await fastImport(
    e.repo.dir,
    `commit refs/heads/rewritten\ncommitter Eve Pusher <eve@example.test> 1764100000 +0000\ndata ${subject.length}\n${subject}\n` +
      `from ${e.repo.commits.dashboard1}\nM 100644 inline apps/${APP}/header.txt\ndata ${text.length}\n${text}\n\n`,
  );
  rewritten = (await e.repo.git(['rev-parse', 'rewritten'])).trim();
  const build = await writeFixtureBuild(join(e.t.tmp, 'build-rewritten'), { version: 'rewritten' });
  await publishAsCi(e.t.site, { dir: build.dir, app: APP, commit: rewritten });
});
afterAll(async () => {
  await e?.stop();
});

describe("the agent's plan of a build whose history leaves out a commit of the live release", () => {
  it('names the commit that leaves, beside the one it adds', async () => {
    const plan = await runbookRequests(
      e,
      clients,
    )(`what would change if I deployed ${rewritten.slice(0, 7)}?`);
    expect(plan.outcome, plan.message).toBe('planned');
    expect(plan.message).toMatch(
      /Commits this release adds \(1\):\n {2}[0-9a-f]{7} dashboard: tidy the header — Eve Pusher/,
    );
    expect(plan.message).toMatch(
      /Commits of the live release this one does not have \(1\):\n {2}[0-9a-f]{7} dashboard: add App/,
    );
  });
});
