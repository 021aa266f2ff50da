/**
 * The release manager's day at a terminal, through the CLI in process (runCli), against the embedded
 * S3 server, the CloudFront double, a site URL that serves the hosting bucket, and a real git
 * repository: the conventions users know from Netlify, Vercel and the AWS CLI, and pin → promote.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIN_EFFECT } from '../../src/read/pin-words.ts';
import { readAudit } from '../../src/state/audit.ts';
import { PUBLISH_LOG } from '../../src/state/names.ts';
import { type AgentSnapshot, snapshotStackAndRepo } from '../support/agent-env.ts';
import {
  publishAsCi,
  publishFixtureBuilds,
  serveHostingBucket,
  startDeployEnv,
  type TestDeployEnv,
} from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import { startOpenAIDouble } from '../support/openai-double.ts';
import { cli, serveAgentServersInProcess } from '../support/run-cli.ts';

/** A --message whose second line would pass for a row of `history`. */
const FORGED_ROW = 'C2 broke the totals\n2026-12-04 09:00:00  deploy  sophia-dashboard@0000000  succeeded';
const APP = 'sophia-dashboard';
let t: TestDeployEnv;
let repo: TestRepo;
let site: Awaited<ReturnType<typeof serveHostingBucket>> | undefined;
let siteUrl: string;
let outputs: string;
let env: Record<string, string | undefined>;
let C1: string;
let C2: string;
let C3: string;
const opened: string[] = [];
/**
 * The stack and the repository as the cases start from them, made in beforeAll by the steps of the
 * day's cases: nothing deployed; C1 deployed; C2 deployed, then rolled back (pinned to C1); C3
 * committed and published on top; C3 promoted past the pin.
 */
let fresh: AgentSnapshot;
let c1Deployed: AgentSnapshot;
let rolledBack: AgentSnapshot;
let c3Added: AgentSnapshot;
let c3Promoted: AgentSnapshot;
const FIRST_MESSAGE = 'first release of the day';
const C3_SUBJECT = 'dashboard: fix the KPI totals';

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-staging' });
  repo = await createTestRepo();
  // The site as a visitor sees it: whatever the hosting bucket holds (verification reads index.html here).
  site = await serveHostingBucket(t);
  siteUrl = site.url;
  outputs = join(t.tmp, 'staging.json');
  await writeFile(
    outputs,
    JSON.stringify({
      stack: 'dashboard-staging',
      artifactsBucket: t.target.artifactsBucket,
      hostingBucket: t.target.hostingBucket,
      distributionId: t.target.distributionId,
      region: 'us-east-1',
      endpoint: t.s3.endpoint,
      siteUrl,
    }),
  );
  env = {
    ...t.cliEnv(),
    AWS_REGION: 'us-east-1',
    FRONTENDOPS_ACTOR: 'rm-alice',
    FRONTENDOPS_MODEL: undefined,
  };
  C1 = repo.commits.dashboard1;
  C2 = repo.commits.dashboard2;
  await publishFixtureBuilds(t, APP, [C1, C2]);

  const snapshot = () => snapshotStackAndRepo(t.site, repo);
  const step = async (argv: string[]) => {
    const result = await run([...argv, '--stack', outputs]);
    expect(result.code, result.stderr).toBe(0);
  };
  fresh = await snapshot();
  await step(['deploy', '--commit', C1.slice(0, 7), '--message', FIRST_MESSAGE]);
  c1Deployed = await snapshot();
  await step(['deploy', '--commit', C2.slice(0, 7)]);
  await step(['unpin']);
  await step(['rollback', '--message', FORGED_ROW]);
  rolledBack = await snapshot();
  C3 = await addRelease('v3', C3_SUBJECT);
  c3Added = await snapshot();
  await step(['promote', '--message', 'v3 fixes the totals']);
  c3Promoted = await snapshot();
});
afterAll(async () => {
  await site?.close();
  await repo?.cleanup();
  await t?.stop();
});

/** The CLI in this process, in the git repository (deploy tags, "the latest"). */
const run = (argv: string[], extra: Record<string, string> = {}) =>
  cli(argv, { env: { ...env, ...extra }, cwd: repo.dir, opened });

/** A new dashboard commit in the repository, its build published (what CI does). */
async function addRelease(version: string, subject: string): Promise<string> {
  await writeFile(join(repo.dir, 'apps', 'sophia-dashboard', 'index.html'), `<h1>${version}</h1>\n`);
  await repo.git(['commit', '-qam', subject]);
  const sha = (await repo.git(['rev-parse', 'HEAD'])).trim();
  const build = await writeFixtureBuild(join(t.tmp, version), { version });
  await publishAsCi(t.site, { dir: build.dir, app: APP, commit: sha });
  return sha;
}

describe('CLI conventions', () => {
  it('--version, and examples in the --help of every command', async () => {
    const version = await run(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: '0.2.0\n' });
    const commands = [
      [],
      ['publish'],
      ['deploy'],
      ['rollback'],
      ['promote'],
      ['pin'],
      ['unpin'],
      ['status'],
      ['history'],
      ['audit'],
      ['audit', 'verify'],
      ['approve'],
      ['agent'],
      ['chat'],
      ['console'],
      ['dev'],
      ['mcp'],
      ['mcp', 'infra'],
      ['mcp', 'git'],
      ['action'],
    ];
    for (const command of commands) {
      const help = await run([...command, '--help']);
      expect(help.code, command.join(' ')).toBe(0);
      expect(help.stdout, command.join(' ')).toMatch(/\nExamples:\n {2}\$ \S/);
    }
  });

  it('publish takes the app from the configuration, records --message, and needs the full sha', async () => {
    const dir = join(t.tmp, 'config');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'frontendops.config.json'), JSON.stringify({ app: 'kpi-board' }));
    const build = await writeFixtureBuild(join(t.tmp, 'kpi'), { version: 'kpi' });
    const sha = 'f00dfeed'.repeat(5);
    const published = await cli(
      [
        'publish',
        build.dir,
        '--commit',
        sha,
        '--stack',
        outputs,
        '--json',
        '--message',
        'KPI board, first cut',
      ],
      { env, cwd: dir },
    );
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(published.stdout)).toMatchObject({ app: 'kpi-board', commit: sha, published: true });
    const entry = (await readAudit(t.site.state, `${t.target.statePrefix}${PUBLISH_LOG}`)).at(-1);
    expect(entry).toMatchObject({ type: 'publish', data: { request: { message: 'KPI board, first cut' } } });
    const short = await cli(['publish', build.dir, '--commit', sha.slice(0, 7), '--stack', outputs], {
      env,
      cwd: dir,
    });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/^error: publish needs the full commit sha \(40 lower-case hex/);

    // In a repository, a sha it does not have (a typo) is refused before anything is uploaded.
    const typo = `${C1.slice(0, 39)}${C1.endsWith('0') ? '1' : '0'}`;
    const before = (await t.site.artifacts.list()).length;
    const unknown = await cli(['publish', build.dir, '--commit', typo, '--stack', outputs], {
      env,
      cwd: repo.dir,
    });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      new RegExp(
        `^error: publish: this repository has no commit ${typo}\\. .*Nothing was published\\.$`,
        'm',
      ),
    );
    expect((await t.site.artifacts.list()).length).toBe(before);
  });

  it('deploy --commit <short sha> --message --json --open: the JSON has the site URL and the tag; the site opens; --message is recorded', async () => {
    await fresh.restore();
    const deployed = await run([
      'deploy',
      '--stack',
      outputs,
      '--commit',
      C1.slice(0, 7),
      '--message',
      FIRST_MESSAGE,
      '--json',
      '--open',
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    const json = JSON.parse(deployed.stdout);
    expect(json).toMatchObject({
      commit: C1,
      outcome: 'succeeded',
      siteUrl,
      tag: expect.stringMatching(/^dashboard-deploy-\d{8}-1$/),
      message: 'first release of the day',
      verification: { ok: true },
    });
    expect(opened).toEqual([siteUrl]);
    const record = await t.site.records.readRecord(json.deployId);
    expect(record?.request).toMatchObject({ message: 'first release of the day', actor: 'rm-alice' });
    const audit = (await readAudit(t.site.state, t.target.statePrefix)).find(
      (e) => e.type === 'deploy' && e.data.deployId === json.deployId,
    );
    expect(audit?.data.request).toMatchObject({ message: 'first release of the day' });
  });

  it("progress speaks people's words; --verbose adds the engine's detail", async () => {
    await c1Deployed.restore();
    const plain = await run(['deploy', '--stack', outputs, '--commit', C2.slice(0, 7)]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/^Deploying sophia-dashboard [0-9a-f]{7}: copy \d+ files?/m);
    expect(plain.stderr).toMatch(/^Visitors now get sophia-dashboard@[0-9a-f]{7}\.$/m);
    expect(plain.stderr).toMatch(/^Checked: the CDN serves the new page\.$/m);
    expect(plain.stderr).not.toMatch(/pointer|record:|I\d{13}/);
    expect(plain.stdout).toMatch(/tag: dashboard-deploy-\d{8}-2/);
    await run(['unpin', '--stack', outputs]);
    // Its --message carries a line break, and after it what would pass for a row of `history`.
    const verbose = await run(['rollback', '--stack', outputs, '--verbose', '--message', FORGED_ROW]);
    expect(verbose.stderr).toMatch(/^ {4}pointer: sophia-dashboard@[0-9a-f]{7} is live$/m);
    // What its pin does, in the words every surface says it with (read/pin-words.ts).
    expect(verbose.stdout).toMatch(new RegExp(`^ {2}pinned to [0-9a-f]{7}: ${PIN_EFFECT} `, 'm'));
    expect(verbose.stderr).toMatch(/^ {4}invalidate: \d+ path\(s\), I\d+/m);
  });

  it('history is a table with column headers and the deploy tags', async () => {
    await rolledBack.restore();
    const history = await run(['history', '--stack', outputs]);
    expect(history.code).toBe(0);
    const [header, ...rows] = history.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^FINISHED \(UTC\)\s+KIND\s+RELEASE\s+OUTCOME\s+DEPLOY ID\s+TAG\s+COPIED\/DELETED\s+BY\s+APPROVED BY\s+WHY$/,
    );
    expect(rows[0]).toMatch(
      /rollback\s+sophia-dashboard@[0-9a-f]{7}\s+succeeded\s+[0-9a-f]{7}-[0-9a-f]{10}\s+dashboard-deploy-\d{8}-3/,
    );
    // An unprotected stack: nobody approved, "-".
    expect(rows.at(-1)).toMatch(/dashboard-deploy-\d{8}-1 .* rm-alice\s+-\s+first release of the day$/);
    // A message's line break is shown as \n: one row per deployment, none forged by a message.
    expect(rows).toHaveLength(3);
    expect(rows[0]?.endsWith(FORGED_ROW.replace('\n', '\\n'))).toBe(true);
    const status = await run(['status', '--stack', outputs]);
    expect(status.stdout).toContain(`— ${FORGED_ROW.replace('\n', '\\n')}`);
    expect(status.stdout).not.toMatch(/^2026-12-04 09:00:00/m);
  });

  it('exit codes as documented: 2 for an unknown stack, a refusal or a bad argument; 0 done', async () => {
    const unknown = await run(['status', '--stack', 'no-such-stack']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: Unknown stack "no-such-stack"/);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
    expect((await run(['deploy', '--stack', outputs, '--commit', 'zzz'])).code).toBe(2);
    expect((await run(['deploy', '--stack', outputs, '--bogus'])).code).toBe(2);
    expect((await run(['status', '--stack', outputs])).code).toBe(0);
  });
});

describe('pin, promote and unpin at the terminal', () => {
  it('a rollback pinned the stack: status says so; a deploy is refused (exit 2) naming the pin and both ways forward', async () => {
    await rolledBack.restore();
    const status = await run(['status', '--stack', outputs]);
    expect(status.stdout).toMatch(
      /PINNED to [0-9a-f]{7} \([0-9a-f]{7}-[0-9a-f]{10}\) by rm-alice when rolling back/,
    );
    expect(status.stdout).toMatch(/frontendops promote \[<commit>\]` or `frontendops unpin`/);
    await addRelease('v3', C3_SUBJECT);
    const refused = await run(['deploy', '--stack', outputs]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: dashboard-staging is pinned to sophia-dashboard@[0-9a-f]{7}/m);
    expect(refused.stderr).toMatch(/frontendops promote[\s\S]*frontendops unpin/);
    expect((await t.site.records.readPointer())?.value.commit).toBe(C1);
  });

  it('deploy --dry-run shows what is in the release: commits with subject and author, files by kind, the CDN refresh, and the pin', async () => {
    await c3Added.restore();
    const dry = await run(['deploy', '--stack', outputs, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/Commits this release adds \(2\):/);
    expect(dry.stdout).toContain(`${C3.slice(0, 7)} ${C3_SUBJECT} — Ada Release`);
    expect(dry.stdout).toContain(`${C2.slice(0, 7)} dashboard: add App — Ada Release`);
    expect(dry.stdout).toMatch(
      /Files: HTML: 1 changed · hashed assets: 2 added, 2 removed · other files: no change/,
    );
    expect(dry.stdout).toMatch(/The CDN refreshes 2 paths \(\/, \/index\.html\)/);
    // The refusal its run gives, in the refusal's words.
    expect(dry.stdout).toMatch(/note: a deploy would be refused \(PINNED\): dashboard-staging is pinned to /);
    // A dry run says what it would do, never that it is deploying.
    expect(dry.stderr).not.toMatch(/Deploying|Rolling back/);
  });

  it('promote (the latest): live for everyone, the pin cleared, a deploy tag, the audit says who and why', async () => {
    await c3Added.restore();
    const promoted = await run(['promote', '--stack', outputs, '--message', 'v3 fixes the totals', '--json']);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(JSON.parse(promoted.stdout)).toMatchObject({
      commit: C3,
      outcome: 'succeeded',
      siteUrl,
      tag: expect.stringMatching(/^dashboard-deploy-/),
      unpinned: { commit: C1, by: 'rm-alice' },
      message: 'v3 fixes the totals',
    });
    expect((await run(['status', '--stack', outputs])).stdout).not.toMatch(/PINNED/);
    const entries = await readAudit(t.site.state, t.target.statePrefix);
    expect(entries.at(-1)).toMatchObject({
      type: 'unpin',
      data: { via: 'promote', by: 'rm-alice', reason: 'v3 fixes the totals' },
    });
  });

  it('pin --message, unpin, and unpin again; rollback --to <short sha>; promote <short sha>', async () => {
    await c3Promoted.restore();
    const pinned = await run(['pin', '--stack', outputs, '--message', 'freeze for the audit']);
    expect(pinned.stdout).toMatch(
      /^Pinned dashboard-staging to sophia-dashboard@[0-9a-f]{7} .*"freeze for the audit"/,
    );
    // Pinned again with another reason: nothing changes, and it says the reason was not taken.
    const repinned = await run(['pin', '--stack', outputs, '--message', 'a second reason']);
    expect(repinned.stdout).toMatch(
      /is already pinned to .*"freeze for the audit"; nothing changed \(--message was not recorded/,
    );
    const unpinned = await run(['unpin', '--stack', outputs, '--message', 'audit done']);
    expect(unpinned.stdout).toMatch(
      /^Unpinned dashboard-staging \(it was pinned to sophia-dashboard@[0-9a-f]{7} by rm-alice\)\. Deploys go through again; what is live did not change\.$/m,
    );
    expect((await run(['unpin', '--stack', outputs])).stdout).toMatch(
      /^dashboard-staging was not pinned; nothing changed\.$/m,
    );
    // A rollback's dry run says it would pin, as the console's dialog does.
    const wouldBack = await run(['rollback', '--stack', outputs, '--to', C2.slice(0, 7), '--dry-run']);
    expect(wouldBack.stdout).toMatch(
      /note: a rollback pins dashboard-staging to the release it goes back to: deploys of other releases are refused until someone promotes a release or unpins\./,
    );
    expect(wouldBack.stderr).not.toMatch(/Rolling back/);
    // And its --json names that pin as the run's does (`pinned`), its fields known before it is set.
    const wouldBackJson = JSON.parse(
      (await run(['rollback', '--stack', outputs, '--to', C2.slice(0, 7), '--dry-run', '--json'])).stdout,
    );
    expect(wouldBackJson).toMatchObject({
      dryRun: true,
      commit: C2,
      pinned: { commit: C2, cause: 'rollback', deployId: wouldBackJson.deployId },
    });
    expect(wouldBackJson.pinned).not.toHaveProperty('at');
    const back = await run(['rollback', '--stack', outputs, '--to', C2.slice(0, 7), '--json']);
    expect(JSON.parse(back.stdout)).toMatchObject({ commit: C2, pinned: { commit: C2 } });
    // The promote's own dry run says it is a promote, going past the pin: not "a deploy would be refused".
    const planned = await run(['promote', C3.slice(0, 7), '--stack', outputs, '--dry-run']);
    expect(planned.stdout).toMatch(
      /^dry run: promote sophia-dashboard@[0-9a-f]{7} → dashboard-staging would copy/m,
    );
    expect(planned.stdout).toMatch(/this promote goes past it and lifts the pin/);
    expect(planned.stdout).not.toMatch(/a deploy would be refused/);
    const again = await run(['promote', C3.slice(0, 7), '--stack', outputs, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ commit: C3, unpinned: { commit: C2 } });

    // The deploy tags `history` shows name a release too (it was "No deployment or commit … is known").
    const tagOfC2 = (await repo.git(['tag', '--points-at', C2, '-l', 'dashboard-deploy-*'])).split(
      '\n',
    )[0] as string;
    expect(tagOfC2).toMatch(/^dashboard-deploy-\d{8}-\d+$/);
    const byTag = await run(['rollback', '--stack', outputs, '--to', tagOfC2, '--json']);
    expect(JSON.parse(byTag.stdout)).toMatchObject({ commit: C2, pinned: { commit: C2 } });
    const unknown = await cli(['rollback', '--stack', outputs, '--to', 'dashboard-deploy-19990101-1'], {
      cwd: repo.dir,
      env,
    });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^error: "dashboard-deploy-19990101-1" is not a release rollback --to can take: .*, and the repository has no such tag/m,
    );
    // promote takes the tag too (the commit it points at); a name that is none of them is said to be not a release.
    const tagOfC3 = (await repo.git(['tag', '--points-at', C3, '-l', 'dashboard-deploy-*'])).split(
      '\n',
    )[0] as string;
    expect(tagOfC3).toMatch(/^dashboard-deploy-\d{8}-\d+$/);
    const promotedByTag = await run(['promote', tagOfC3, '--stack', outputs, '--json']);
    expect(promotedByTag.code, promotedByTag.stderr).toBe(0);
    expect(JSON.parse(promotedByTag.stdout)).toMatchObject({ commit: C3, unpinned: { commit: C2 } });
    await run(['rollback', '--stack', outputs, '--to', C2.slice(0, 7), '--json']);
    const notRelease = await run(['promote', 'dashboard-deploy-19990101-1', '--stack', outputs]);
    expect(notRelease.code).toBe(2);
    expect(notRelease.stderr).toMatch(
      /^error: "dashboard-deploy-19990101-1" is not a release promote can take: expected a deploy id as `frontendops history` shows it \(e\.g\. 3f2c1a9-0123456789\), a commit sha .* or a tag of the git repository .*, and the repository has no such tag\. Nothing was changed\./m,
    );
    expect(notRelease.stderr).not.toMatch(/not a commit sha|\n\s+at /);
    expect((await t.site.records.readPointer())?.value.commit).toBe(C2);
    await run(['promote', C3.slice(0, 7), '--stack', outputs, '--json']);

    // A rollback on a stack pinned on purpose replaces that pin, and says whose it was and why.
    await run(['pin', '--stack', outputs, '--message', 'launch freeze']);
    const replacing = await run(['rollback', '--stack', outputs, '--to', C2.slice(0, 7)]);
    expect(replacing.code, replacing.stderr).toBe(0);
    expect(replacing.stdout).toMatch(
      /this pin replaces the pin \S+ set on sophia-dashboard@[0-9a-f]{7} \(\S+\) at \S+: "launch freeze"/,
    );
    expect((await run(['status', '--stack', outputs])).stdout).toMatch(/replacing the pin .*"launch freeze"/);
    await run(['promote', C3.slice(0, 7), '--stack', outputs, '--json']);
  });

  it('promote and rollback --to refuse HEAD and a branch, which move: a deploy id, a sha or a tag is a release', async () => {
    const before = (await t.site.records.readPointer())?.value.deployId;
    const branch = (await repo.git(['branch', '--show-current'])).trim();
    for (const name of ['HEAD', 'HEAD~1', branch]) {
      for (const [command, argv] of [
        ['promote', ['promote', name]],
        ['rollback --to', ['rollback', '--to', name]],
      ] as const) {
        const refused = await run([...argv, '--stack', outputs, '--yes']);
        expect(refused.code, refused.stderr).toBe(2);
        expect(refused.stderr).toMatch(
          new RegExp(
            `^error: "${name.replace(/[~^]/g, '\\$&')}" is not a release ${command} can take: expected a deploy id as \`frontendops history\` shows it .*, a commit sha .*, or a tag of the git repository \\(a deploy tag, a release tag; not a branch or HEAD, which move\\), and the repository has no such tag\\. Nothing was changed\\.`,
            'm',
          ),
        );
        expect(refused.stderr).not.toMatch(/\n\s+at /);
      }
    }
    expect((await t.site.records.readPointer())?.value.deployId).toBe(before);
  });

  it('promote on a protected stack needs --yes or the prompt, as a deploy does', async () => {
    // The day's end: C3 live, so a promote of C1 is a change to approve (the outputs file names this
    // environment's hosting bucket: its history is the day's).
    await c3Promoted.restore();
    const prod = await t.writeOutputs({ stack: 'dashboard-hosting-prod', cdn: true });
    const refused = await run(['promote', C1.slice(0, 7), '--stack', prod]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /protected environment \(the configuration lists it under "protected"\): "promote \(and clear the pin\): deploy sophia-dashboard@/,
    );
    const approved = await run(['promote', C1.slice(0, 7), '--stack', prod, '--yes', '--json']);
    expect(approved.code, approved.stderr).toBe(0);
  });
});

describe('model configuration errors are one clear line', () => {
  it.each([
    ['openai:gpt-4.1', {}, /OPENAI_API_KEY, which is not set: set OPENAI_API_KEY to your OpenAI API key/],
    ['openai:gpt-4.1', { OPENAI_API_KEY: '' }, /OPENAI_API_KEY, which is empty/],
    ['anthropic:claude-sonnet-4-5', { ANTHROPIC_API_KEY: ' ' }, /ANTHROPIC_API_KEY, which is empty/],
    ['gpt-4.1', {}, /is not a model: expected provider:model/],
    // A name the audit log cannot record as the planner: its request went unrecorded.
    ['openai: gpt 4', { OPENAI_API_KEY: 'sk-x' }, /names no model I can record: .*no spaces/],
    [
      'openai-compatible:llama3.1',
      {},
      /needs FRONTENDOPS_MODEL_BASE_URL, the server's OpenAI-compatible API root, e\.g\. http:\/\/127\.0\.0\.1:11434/,
    ],
    [
      'openai-compatible:llama3.1',
      { FRONTENDOPS_MODEL_BASE_URL: 'not a url' },
      /^error: FRONTENDOPS_MODEL_BASE_URL is not an http\(s\) address/,
    ],
  ])('FRONTENDOPS_MODEL=%s %o', async (model, keys, message) => {
    const saved = {
      OPENAI_API_KEY: process.env.OPENAI_API_KEY,
      ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY,
    };
    delete process.env.OPENAI_API_KEY;
    delete process.env.ANTHROPIC_API_KEY;
    try {
      const started = Date.now();
      const ran = await cli(['agent', "what's live?", '--stack', outputs], {
        env: { ...env, FRONTENDOPS_MODEL: model, ...keys },
        cwd: repo.dir,
      });
      expect(ran.code).toBe(2);
      expect(ran.stdout).toBe('');
      expect(ran.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(ran.stderr).toMatch(message);
      expect(ran.stderr).toMatch(/^error: FRONTENDOPS_MODEL/);
      expect(ran.stderr).not.toMatch(/redacted/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      Object.assign(process.env, saved);
    }
  });

  it('a key the model API refuses is asked once (no retries) and said in one sentence', async () => {
    const double = await startOpenAIDouble({ apiKey: 'sk-right', script: () => ({ text: 'hi' }) });
    let attempts = 0;
    const counting = createServer((req, res) => {
      attempts++;
      const target = new URL(req.url ?? '/', double.baseURL);
      req.pipe(
        httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        }),
      );
    });
    await new Promise<void>((done) => counting.listen(0, '127.0.0.1', done));
    // What is shown is the agent's side of the model API: its MCP servers run in this process (the
    // servers as child processes over stdio: test/cli/agent.test.ts).
    const servers = await serveAgentServersInProcess({
      outputs,
      repoDir: repo.dir,
      infraEnv: { ...t.cliEnv(), AWS_REGION: 'us-east-1' },
      dir: t.tmp,
    });
    try {
      const base = `http://127.0.0.1:${(counting.address() as AddressInfo).port}/v1`;
      const ran = await run(
        ['agent', 'tell me a joke', '--stack', outputs, '--json', '--config', servers.config],
        {
          FRONTENDOPS_MODEL: 'openai:gpt-test',
          OPENAI_API_KEY: 'sk-wrong',
          FRONTENDOPS_MODEL_BASE_URL: base,
        },
      );
      const result = JSON.parse(ran.stdout);
      expect(result.outcome).toBe('failed');
      expect(result.message).toMatch(
        /^The model failed: the model API refused the key \(HTTP 401: Incorrect API key provided\.\)/,
      );
      expect(result.message.split('\n')).toHaveLength(1);
      expect(attempts).toBe(1);
      expect(ran.stderr).not.toMatch(/AI_RetryError|\n\s+at /);
    } finally {
      await servers.stop();
      await new Promise((done) => counting.close(done));
      await double.close();
    }
  });
});
