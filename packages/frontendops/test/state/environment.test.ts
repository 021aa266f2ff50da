/**
 * Protection follows the target, not the name. The attack: the README's own
 * `pulumi stack output --json > prod.json` makes an outputs file that names no stack, and a stack
 * can be renamed or aliased in a configuration; each used to be a new, unprotected environment
 * with a separate history, writing to the same hosting bucket.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishArtifact } from '../../src/deploy/publish.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/environment.ts';
import { HOSTING, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const COMMITS = ['1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'];
let t: TestDeployEnv;
let env: Record<string, string>;
let named: string;

beforeAll(async () => {
  t = await startDeployEnv();
  for (const [i, commit] of COMMITS.entries()) {
    const build = await writeFixtureBuild(join(t.tmp, `b${i}`), { version: `v${i}` });
    await publishArtifact(t.site.artifacts, { dir: build.dir, app: APP, commit });
  }
  named = await t.writeOutputs({ cdn: true });
  const config = join(t.tmp, 'frontendops.config.json');
  await writeFile(
    config,
    JSON.stringify({
      protected: [STACK],
      stacks: { alias: { backend: 'outputs', file: join(t.tmp, 'alias-outputs.json') } },
    }),
  );
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_CONFIG: config, FRONTENDOPS_ACTOR: 'ada' };
});
afterAll(() => t.stop());

const run = (argv: string[]) => cli(argv, { env, cwd: t.tmp });

/** The same outputs as the named file, as `pulumi stack output --json` writes them: no "stack". */
async function outputsWithout(file: string, changes: Record<string, unknown> = {}) {
  const { stack: _drop, ...outputs } = JSON.parse(await readFile(named, 'utf8'));
  const path = join(t.tmp, file);
  await writeFile(path, JSON.stringify({ ...outputs, ...changes }));
  return path;
}

describe('the environment a hosting bucket belongs to', () => {
  it('is written by the first change: name, state location, protection', async () => {
    const first = await run([
      'deploy',
      '--stack',
      named,
      '--commit',
      COMMITS[0] as string,
      '--yes',
      '--no-tag',
    ]);
    expect(first.code, first.stderr).toBe(0);
    const marker = JSON.parse((await t.site.hosting.get(ENVIRONMENT_MARKER))?.body.toString() ?? '{}');
    expect(marker).toEqual({
      v: 1,
      stack: STACK,
      stateBucket: t.target.stateBucket,
      statePrefix: t.target.statePrefix,
      protected: true,
    });
  });

  it('an outputs file that names no stack is that environment: its name, its one history, protected', async () => {
    const prod = await outputsWithout('prod.json');
    const refused = await run(['deploy', '--stack', prod, '--commit', COMMITS[1] as string, '--no-tag']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/dashboard-hosting-prod is a protected environment/);
    expect(refused.stderr).toMatch(/writes to the hosting bucket of environment dashboard-hosting-prod/);

    const history = await run(['history', '--stack', prod, '--json']);
    expect(JSON.parse(history.stdout)).toMatchObject({
      stack: STACK,
      deployments: [expect.objectContaining({ commit: COMMITS[0] })],
    });
    expect(JSON.parse((await run(['status', '--stack', prod, '--json'])).stdout)).toMatchObject({
      stack: STACK,
      protected: true,
      live: expect.objectContaining({ commit: COMMITS[0] }),
    });
  });

  it('a renamed stack, or an alias in the configuration that does not list it as protected, is the same protected environment', async () => {
    const renamed = await outputsWithout('renamed.json', { stack: 'dashboard-renamed' });
    await outputsWithout('alias-outputs.json', { stack: 'alias' });
    for (const ref of [renamed, 'alias']) {
      const status = JSON.parse((await run(['status', '--stack', ref, '--json'])).stdout);
      expect(status, ref).toMatchObject({ stack: STACK, protected: true });
      const refused = await run(['deploy', '--stack', ref, '--commit', COMMITS[1] as string, '--no-tag']);
      expect(refused.code, ref).toBe(2);
      expect(refused.stderr, ref).toMatch(/APPROVAL_REQUIRED|protected environment/);
    }
    // Approved under another name, the change lands in the one history and chain.
    const approved = await run([
      'deploy',
      '--stack',
      renamed,
      '--commit',
      COMMITS[1] as string,
      '--yes',
      '--no-tag',
    ]);
    expect(approved.code, approved.stderr).toBe(0);
    const history = JSON.parse((await run(['history', '--stack', named, '--json'])).stdout);
    expect(history.deployments.map((d: { commit: string }) => d.commit)).toEqual([COMMITS[1], COMMITS[0]]);
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });

  it('is never pruned, and a deploy never lowers its protection', async () => {
    const local = await outputsWithout('unprotected.json', { stack: 'dashboard-hosting-prod' });
    // A configuration that protects nothing opens the same bucket: still protected.
    const bare = join(t.tmp, 'bare.json');
    await writeFile(bare, JSON.stringify({ protected: [] }));
    const status = await cli(['status', '--stack', local, '--json'], {
      env: { ...env, FRONTENDOPS_CONFIG: bare },
      cwd: t.tmp,
    });
    expect(JSON.parse(status.stdout)).toMatchObject({ stack: STACK, protected: true });
    const keys = (await t.s3.store(HOSTING).list()).map((o) => o.key);
    expect(keys).toContain(ENVIRONMENT_MARKER);
  });
});
