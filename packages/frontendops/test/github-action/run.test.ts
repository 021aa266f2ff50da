/**
 * The GitHub Action's script (`frontendops action`, what action.yml runs), in process: inputs as
 * GitHub hands them over (INPUT_*), GitHub's own files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), the
 * GitHub REST double for the Deployment, its statuses, "the latest" commit and the deploy tag; the
 * embedded S3 server, the CloudFront double and a site URL serving the hosting bucket.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { snapshotBuckets, snapshotStack } from '../support/bucket-snapshot.ts';
import { REPO_ROOT } from '../support/cli.ts';
import {
  type CompositeRun,
  runCompositeAction,
  type StepRun,
  UnmodelledAction,
} from '../support/composite-action.ts';
import { publishAsCi, requestBy, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { createTestRepo, snapshotRepo, type TestRepo } from '../support/git-repo.ts';
import { type GitHubDouble, startGitHubDouble } from '../support/github-double.ts';
import { type OidcDouble, startOidcDouble } from '../support/github-oidc-double.ts';
import { cli } from '../support/run-cli.ts';
import { readSummary } from '../support/summary-markdown.ts';

const STACK = 'dashboard-hosting-prod';
const TOKEN = 'ghs_action0123456789';
let t: TestDeployEnv;
let repo: TestRepo;
let github: GitHubDouble;
let oidc: OidcDouble;
let run = 4242;
let site: Server;
let siteUrl: string;
let outputFile: string;
let summaryFile: string;

/**
 * The stack, its published builds and the repository (head and tags, the deploy tags GitHub's double
 * makes there) as they are now, to put back. The GitHub double's Deployments and requests stay: a case
 * reads those it made.
 */
async function snapshot() {
  const [stack, builds, history] = [
    await snapshotStack(t.site),
    await snapshotBuckets([{ store: t.site.artifacts }]),
    await snapshotRepo(repo),
  ];
  return {
    async restore() {
      await stack.restore();
      await builds.restore();
      await history.restore();
    },
  };
}
/**
 * The stack as the cases start from it: dashboard1 live and the only build; dashboard2 published too;
 * dashboard2 live; rolled back to dashboard1, pinned.
 */
const states = {} as Record<
  'v1Only' | 'v2Published' | 'v2Live' | 'pinned',
  Awaited<ReturnType<typeof snapshot>>
>;

beforeAll(async () => {
  t = await startDeployEnv();
  repo = await createTestRepo();
  oidc = await startOidcDouble();
  github = await startGitHubDouble({
    owner: 'acme',
    repo: 'dashboard',
    repoDir: repo.dir,
    token: TOKEN,
    tokenWithoutDeployments: 'ghs_contents_only',
  });
  site = createServer((req, res) => {
    t.site.hosting.get((req.url ?? '/').slice(1) || 'index.html').then((object) => {
      res.writeHead(object ? 200 : 404);
      res.end(object?.body ?? '');
    });
  });
  await new Promise<void>((done) => site.listen(0, '127.0.0.1', done));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  await writeFile(
    join(t.tmp, 'prod.json'),
    JSON.stringify({
      stack: STACK,
      artifactsBucket: t.target.artifactsBucket,
      hostingBucket: t.target.hostingBucket,
      distributionId: t.target.distributionId,
      region: 'us-east-1',
      endpoint: t.s3.endpoint,
      siteUrl,
    }),
  );
  // As the repository's own configuration names the stack (here through an outputs file).
  await writeFile(
    join(repo.dir, 'frontendops.config.json'),
    JSON.stringify({
      stacks: {
        [STACK]: {
          backend: 'outputs',
          file: join(t.tmp, 'prod.json'),
          // The human approval is the GitHub Environment's reviewers, proven by the job's OIDC token.
          approval: {
            github: {
              repository: 'acme/dashboard',
              environment: STACK,
              actions: ['deploy', 'rollback', 'promote'],
              issuer: oidc.issuer,
            },
          },
        },
      },
      protected: [STACK],
    }),
  );
  const build = await writeFixtureBuild(join(t.tmp, 'v1'), { version: 'v1' });
  await publishAsCi(t.site, {
    dir: build.dir,
    app: 'sophia-dashboard',
    commit: repo.commits.dashboard1,
  });
  await deployArtifact(t.site, {
    app: 'sophia-dashboard',
    commit: repo.commits.dashboard1,
    request: { text: 'first', actor: 'ci', planner: 'cli', at: new Date().toISOString() },
  });
  outputFile = join(t.tmp, 'github-output');
  summaryFile = join(t.tmp, 'step-summary.md');
  states.v1Only = await snapshot();
  const v2 = await writeFixtureBuild(join(t.tmp, 'v2'), { version: 'v2' });
  await publishAsCi(t.site, { dir: v2.dir, app: 'sophia-dashboard', commit: repo.commits.dashboard2 });
  states.v2Published = await snapshot();
  await deployArtifact(t.site, {
    app: 'sophia-dashboard',
    commit: repo.commits.dashboard2,
    request: requestBy('release train 7', 'octo-releaser'),
  });
  states.v2Live = await snapshot();
  await rollbackRelease(t.site, { request: requestBy('roll back to the previous release', 'octo-releaser') });
  states.pinned = await snapshot();
});
afterAll(async () => {
  await new Promise((done) => site?.close(done));
  await github?.close();
  await oidc?.close();
  await repo?.cleanup();
  await t?.stop();
});
beforeEach(async () => {
  await writeFile(outputFile, '');
  await writeFile(summaryFile, '');
});

/** What GitHub Actions sets for every step of a new run of the job the cases describe. */
function jobEnv(): NodeJS.ProcessEnv {
  return {
    ...t.cliEnv(),
    AWS_REGION: 'us-east-1',
    FRONTENDOPS_MODEL: undefined,
    GITHUB_ACTOR: 'octo-releaser',
    GITHUB_REPOSITORY: 'acme/dashboard',
    GITHUB_SHA: repo.commits.docs,
    GITHUB_RUN_ID: String(++run),
    GITHUB_RUN_ATTEMPT: '1',
    // The job runs in the environment named after the stack; its OIDC token says so (one use per run).
    ...oidc.job({ repository: 'acme/dashboard', environment: STACK, run_id: String(run) }),
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: github.url,
  };
}

/** What GitHub Actions sets for a step, plus the composite action's INPUT_* mapping. */
function action(inputs: Record<string, string>) {
  return cli(['action'], {
    cwd: repo.dir,
    env: {
      ...jobEnv(),
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      INPUT_GITHUB_TOKEN: TOKEN,
      INPUT_STACK: STACK,
      ...inputs,
    },
  });
}

/** GITHUB_OUTPUT's `name<<delimiter` blocks, read back as GitHub does. */
async function outputs(): Promise<Record<string, string>> {
  const text = await readFile(outputFile, 'utf8');
  const found: Record<string, string> = {};
  for (const match of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm))
    found[match[1] as string] = match[3] as string;
  return found;
}

describe('frontendops action', () => {
  it('publish: uploads the build for GITHUB_SHA, sets the commit output, writes a summary, reports no Deployment', async () => {
    await states.v1Only.restore();
    const before = github.deployments.length;
    const build = await writeFixtureBuild(join(t.tmp, 'v2'), { version: 'v2' });
    const ran = await action({
      INPUT_COMMAND: 'publish',
      INPUT_DIRECTORY: build.dir,
      GITHUB_SHA: repo.commits.dashboard2,
    });
    expect(ran.code, ran.stderr).toBe(0);
    expect(await outputs()).toMatchObject({
      commit: repo.commits.dashboard2,
      outcome: 'published',
      'deploy-id': '',
    });
    expect(await readFile(summaryFile, 'utf8')).toMatch(
      /^### ✅ FrontendOps publish: `dashboard-hosting-prod`/,
    );
    expect(github.deployments.length).toBe(before);
  });

  it('deploy: the latest build, approved by the job’s Environment; outputs, summary, tag, and a GitHub Deployment with the site URL', async () => {
    await states.v2Published.restore();
    const [before, requestsBefore] = [github.deployments.length, github.requests.length];
    const ran = await action({ INPUT_COMMAND: 'deploy', INPUT_MESSAGE: 'release train 7' });
    const requests = github.requests.slice(requestsBefore);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toMatch(
      /^frontendops deploy --yes --stack=dashboard-hosting-prod --json --message='release train 7'$/m,
    );
    const out = await outputs();
    expect(out).toMatchObject({
      'site-url': siteUrl,
      'deploy-id': expect.stringMatching(/^[0-9a-f]{7}-[0-9a-f]{10}$/),
      tag: expect.stringMatching(/^dashboard-deploy-\d{8}-1$/),
      commit: repo.commits.dashboard2,
      outcome: 'succeeded',
    });
    // The deploy tag was made on GitHub (the token and repository of the run).
    expect(requests.some((r) => r.method === 'POST' && r.path.endsWith('/git/refs'))).toBe(true);
    const summary = await readFile(summaryFile, 'utf8');
    expect(summary).toContain('### ✅ FrontendOps deploy: `dashboard-hosting-prod`');
    expect(summary).toContain(`| Deploy tag | \`${out.tag}\` |`);
    expect(summary).toContain(`| Site | \`${siteUrl}\` |`);
    expect(summary).toContain('| Why | `release train 7` |');
    // The Deployment names the commit that went live (the latest build), not the workflow's own
    // (GITHUB_SHA): it is made once the run says which, so it has no in-progress status.
    expect(github.deployments.slice(before)).toEqual([
      expect.objectContaining({
        ref: repo.commits.dashboard2,
        environment: STACK,
        statuses: [
          expect.objectContaining({
            state: 'success',
            environment_url: siteUrl,
            log_url: `https://github.com/acme/dashboard/actions/runs/${run}`,
          }),
        ],
      }),
    ]);
    const created = requests.find(
      (r) => r.method === 'POST' && r.path === '/repos/acme/dashboard/deployments',
    );
    expect(created).toMatchObject({
      authorization: `token ${TOKEN}`,
      body: { auto_merge: false, required_contexts: [], environment: STACK },
    });
  });

  it('agent: the words as the request; a rollback pins and reports its deploy id and tag', async () => {
    await states.v2Live.restore();
    const requestsBefore = github.requests.length;
    const ran = await action({ INPUT_COMMAND: 'agent', INPUT_REQUEST: 'roll back to the previous release' });
    expect(ran.code, ran.stderr).toBe(0);
    const out = await outputs();
    expect(out).toMatchObject({ commit: repo.commits.dashboard1, outcome: 'succeeded', 'site-url': siteUrl });
    expect(out.tag).toMatch(/^dashboard-deploy-/);
    // In Actions the agent's git server is the run's GitHub repository: the tag outlives the runner.
    expect(
      github.requests
        .slice(requestsBefore)
        .filter((r) => r.method === 'POST' && r.path.endsWith('/git/refs')),
    ).toEqual([expect.objectContaining({ body: expect.objectContaining({ ref: `refs/tags/${out.tag}` }) })]);
    expect(await readFile(summaryFile, 'utf8')).toMatch(
      /```text\nRolled back dashboard-hosting-prod[\s\S]*now pinned/,
    );
    expect(github.deployments.at(-1)).toMatchObject({ ref: repo.commits.dashboard1 });
    expect(github.deployments.at(-1)?.statuses.map((s) => s.state)).toEqual(['success']);
  });

  it('attack: agent in a job approved to deploy only, on a stack that trusts clients: its --yes rolls back nothing', async () => {
    // The stack's owners trust their clients' answers (the console's button, an operator's terminal
    // agent), and the job's environment approves deploys only. The job's agent answering the
    // server's question itself would be a rollback its reviewers never approved.
    const config = join(repo.dir, 'frontendops.config.json');
    const configured = await readFile(config, 'utf8');
    const trusting = JSON.parse(configured);
    trusting.stacks[STACK].approval = {
      ...trusting.stacks[STACK].approval,
      github: { ...trusting.stacks[STACK].approval.github, actions: ['deploy'] },
      trustElicitation: true,
    };
    await writeFile(config, JSON.stringify(trusting));
    try {
      await states.v2Live.restore();
      const index = async () => (await t.site.hosting.get('index.html'))?.body.toString('utf8');
      const before = await index();
      const ran = await action({
        INPUT_COMMAND: 'agent',
        INPUT_REQUEST: 'roll back to the previous release',
      });
      expect(ran.code, ran.stderr).toBe(2);
      expect(ran.stdout).toMatch(
        /in a GitHub Actions job, an MCP client's answer is no approval of dashboard-hosting-prod's changes: the "dashboard-hosting-prod" environment's reviewers approve them, for deploy \(approval\.github\.actions\)/,
      );
      expect((await t.site.records.readPointer())?.value.commit).toBe(repo.commits.dashboard2);
      expect(await index()).toBe(before);
    } finally {
      await writeFile(config, configured);
    }
  });

  it('a refused deploy (the stack is pinned) fails the step with the reason in the log, the summary and the Deployment', async () => {
    await states.pinned.restore();
    const ran = await action({ INPUT_COMMAND: 'deploy' });
    expect(ran.code).toBe(2);
    // The reason itself, not "exit code 2": the CLI prints its error as JSON under --json.
    // Exit 2 is a refusal (nothing changed), said as one: a workflow can branch on outcome == 'refused'.
    expect(ran.stdout).toMatch(
      /^::error title=FrontendOps deploy refused::dashboard-hosting-prod is pinned to /m,
    );
    expect(ran.stderr).toMatch(/dashboard-hosting-prod is pinned/);
    const summary = await readFile(summaryFile, 'utf8');
    expect(summary).toMatch(/^### ❌ FrontendOps deploy/);
    expect(summary).toContain('| Outcome | `refused` |');
    const last = github.deployments.at(-1);
    expect(last?.statuses.map((s) => s.state)).toEqual(['failure']);
    expect(JSON.stringify(last?.statuses.at(-1))).toMatch(/refused: .*is pinned/);
    expect(await outputs()).toMatchObject({ 'site-url': '', outcome: 'refused' });
  });

  it('promote: the latest for everyone, the pin cleared', async () => {
    await states.pinned.restore();
    const ran = await action({ INPUT_COMMAND: 'promote', INPUT_MESSAGE: 'v2 is fine after all' });
    expect(ran.code, ran.stderr).toBe(0);
    expect(await outputs()).toMatchObject({ commit: repo.commits.dashboard2, outcome: 'succeeded' });
    // Recorded as the Action's change, not as one typed at a terminal: status says who and how.
    const live = await t.site.records.readPointer();
    const record = await t.site.records.readRecord(live?.value.deployId ?? '');
    expect(record?.request).toMatchObject({ actor: 'octo-releaser', planner: 'github-action' });
    const status = await cli(['status', '--stack', STACK], {
      cwd: repo.dir,
      env: { ...t.cliEnv(), AWS_REGION: 'us-east-1' },
    });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/by octo-releaser via github-action: "promote /);
    expect(status.stdout).not.toMatch(/via cli/);
  });

  it('bad inputs are one clear error, exit 2, nothing reported', async () => {
    const before = github.deployments.length;
    const unknown = await action({ INPUT_COMMAND: 'destroy' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^error: The action's "command" input is "destroy": expected publish, deploy, promote, agent\.$/m,
    );
    const noDir = await action({ INPUT_COMMAND: 'publish' });
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/needs the "directory" input/);
    // Shown on the run's page as well, as one annotation.
    expect(noDir.stdout).toMatch(
      /^::error title=FrontendOps input refused::command: publish needs the "directory" input/m,
    );
    expect(github.deployments.length).toBe(before);
  });

  it('a refused input writes a short job summary: what was refused, what to do, the value as text', async () => {
    const ran = await action({
      INPUT_COMMAND: 'deploy',
      INPUT_STACK: 'x',
      INPUT_APP: '[web](https://evil.example) <img src=x>\n# h',
    });
    expect(ran.code).toBe(2);
    const summary = await readFile(summaryFile, 'utf8');
    expect(summary).toMatch(/^### ❌ FrontendOps input refused$/m);
    const { markup, shown } = readSummary(summary);
    expect(shown.join('\n')).toMatch(
      /The action's "app" input is "\[web\]\(https:\/\/evil\.example\) <img src=x>\\n# h"/,
    );
    expect(shown.join('\n')).toMatch(/Nothing ran.*with:.*run the job again/);
    expect(markup.join('\n')).not.toMatch(/evil|<img|# h/);
    expect(await outputs()).toMatchObject({ outcome: 'refused' });
  });

  it('a token without the deployments permission is a warning, not a failed deploy', async () => {
    await states.v2Live.restore();
    const ran = await action({ INPUT_COMMAND: 'deploy', INPUT_GITHUB_TOKEN: 'ghs_contents_only' });
    expect(ran.stdout).toMatch(
      /^::warning title=FrontendOps::Could not create a GitHub Deployment \(HTTP 403: Resource not accessible by integration\).*deployments: write/m,
    );
    expect(ran.code, ran.stderr).toBe(0);
  });
});

/**
 * Every line the runner reads from the step (stdout and stderr; it splits at CR, LF and CRLF) that is
 * a workflow command: `::name …::` after leading whitespace, or the older `##[name …]` anywhere in a
 * line. Only the action's own annotations may be there.
 */
function workflowCommands(ran: { stdout: string; stderr: string }): string[] {
  const lines = `${ran.stdout}\n${ran.stderr}`.split(/\r\n|\r|\n/);
  return lines.filter((line) => /^\s*::/.test(line) || line.includes('##['));
}
const ours = /^::(?:error title=FrontendOps \w+ (?:failed|refused)|warning title=FrontendOps)::/;

describe('frontendops action: text from the inputs never becomes a workflow command', () => {
  it('a message with newlines and workflow commands is shown escaped, on one line', async () => {
    const ran = await action({
      INPUT_COMMAND: 'deploy',
      INPUT_MESSAGE:
        'fix\n::set-output name=site-url::https://evil.example\n::stop-commands::x\n  ::error::indented\nsee ##[set-output name=tag]evil',
    });
    expect(workflowCommands(ran).filter((line) => !ours.test(line))).toEqual([]);
    expect(ran.stderr).toContain(
      "--message=$'fix\\n::set-output name=site-url::https://evil.example\\n::stop-commands::x\\n",
    );
    expect((await outputs())['site-url']).not.toContain('evil');
  });

  it('a commit message as the message is text in the job summary: no link, image, HTML or heading', async () => {
    await states.v2Published.restore();
    const message =
      '# Fix ![tracker](https://evil.example/p.png) [docs](https://evil.example) <img src=x> `a``b` | c';
    const ran = await action({ INPUT_COMMAND: 'deploy', INPUT_MESSAGE: message });
    expect(ran.code, ran.stderr).toBe(0);
    const { markup, shown } = readSummary(await readFile(summaryFile, 'utf8'));
    expect(shown).toContain(`| Why | ${message} |`);
    expect(markup.join('\n')).not.toMatch(/evil|<img|Fix|`/);
  });

  it('a stack, command or app input with a line break is refused: exit 2, the value escaped, nothing run', async () => {
    const before = github.deployments.length;
    const cases: Array<Record<string, string>> = [
      { INPUT_STACK: 'prod\n::error::injected' },
      { INPUT_COMMAND: 'destroy\n::error::injected' },
      { INPUT_COMMAND: 'deploy', INPUT_APP: 'web\r::error::injected' },
    ];
    for (const inputs of cases) {
      const ran = await action(inputs);
      expect(ran.code, ran.stderr).toBe(2);
      // Only the action's own annotation, the value in it escaped onto its one line.
      expect(
        workflowCommands(ran).filter((line) => !ours.test(line)),
        JSON.stringify(inputs),
      ).toEqual([]);
      expect(workflowCommands(ran)).toHaveLength(1);
      expect(ran.stderr).toMatch(/^error: The action's "(stack|command|app)" input /m);
      expect(ran.stderr).toMatch(/::error::injected/);
    }
    expect(github.deployments.length).toBe(before);
  });

  it('an error the CLI reports about an input cannot start a workflow command', async () => {
    const ran = await action({ INPUT_COMMAND: 'deploy', INPUT_STACK: 'nope##[error]injected' });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/nope/);
    expect(workflowCommands(ran).filter((line) => !ours.test(line))).toEqual([]);
  });
});

describe('frontendops action: no input is read as an option', () => {
  it('a commit input that is no commit sha is refused (exit 2), before anything runs', async () => {
    const before = github.deployments.length;
    for (const commit of ['-C/tmp/evil', '--dry-run', 'main; rm -rf', 'HEAD']) {
      const ran = await action({ INPUT_COMMAND: 'promote', INPUT_COMMIT: commit });
      expect(ran.code, ran.stderr).toBe(2);
      expect(ran.stderr).toMatch(
        /^error: The action's "commit" input is ".*": expected a commit sha \(7 to 64 lower-case hex characters/m,
      );
      expect(ran.stderr).not.toMatch(/^frontendops promote/m);
    }
    expect(github.deployments.length).toBe(before);
  });

  it('a full commit sha given: the Deployment names it from the start, in progress while the run goes', async () => {
    await states.v2Live.restore();
    const ran = await action({ INPUT_COMMAND: 'deploy', INPUT_COMMIT: repo.commits.dashboard2 });
    expect(ran.code, ran.stderr).toBe(0);
    expect(github.deployments.at(-1)).toMatchObject({ ref: repo.commits.dashboard2 });
    expect(github.deployments.at(-1)?.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
  });

  it('a message with command: agent is refused (exit 2), never shown as recorded', async () => {
    const before = github.deployments.length;
    const ran = await action({
      INPUT_COMMAND: 'agent',
      INPUT_REQUEST: "what's live?",
      INPUT_MESSAGE: 'daily check',
    });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/The action's "message" input is not used with command: agent/);
    expect(github.deployments.length).toBe(before);
  });

  it('promote takes the commit after "--"; a message or stack that starts with "-" stays a value', async () => {
    await states.v2Live.restore();
    const short = repo.commits.dashboard2.slice(0, 7);
    const ran = await action({ INPUT_COMMAND: 'promote', INPUT_COMMIT: short, INPUT_MESSAGE: '-C/tmp/evil' });
    expect(ran.stderr).toMatch(new RegExp(`^frontendops promote .* -- ${short}$`, 'm'));
    expect(ran.stderr).not.toMatch(/is not a directory/);
    expect(ran.code, ran.stderr).toBe(0);
  });
});

/**
 * action.yml itself, its steps run as GitHub's runner runs a composite action
 * (test/support/composite-action.ts): the inputs through its `${{ inputs.* }}` into the step's
 * environment, its script in bash from the action's folder, the outputs it declares read back from
 * the steps' GITHUB_OUTPUT.
 */
describe('action.yml, run as the runner runs it', () => {
  /** A workflow step `uses: ./` with these `with:` inputs, in the job the other cases describe. */
  function uses(inputs: Record<string, string>, source?: string) {
    return runCompositeAction({
      actionPath: REPO_ROOT,
      ...(source === undefined ? {} : { source }),
      with: { stack: STACK, ...inputs },
      workspace: repo.dir,
      githubToken: TOKEN,
      env: { ...jobEnv(), FRONTENDOPS_DEBUG: '', GITHUB_TOKEN: undefined },
    });
  }
  const step = (ran: CompositeRun) => ran.steps.find((s) => s.id === 'frontendops') as StepRun;
  const live = async () => {
    const pointer = await t.site.records.readPointer();
    return t.site.records.readRecord(pointer?.value.deployId ?? '');
  };

  it('a deploy that succeeds: the outputs it declares, the summary, the Deployment', async () => {
    await states.v2Published.restore();
    const before = github.deployments.length;
    const ran = await uses({ command: 'deploy', message: 'release train 8' });
    expect(ran.code, JSON.stringify(ran.steps)).toBe(0);
    expect(ran.steps.map((s) => [s.name.split('\n')[0], s.code])).toEqual([
      ["Install FrontendOps (only when this action's checkout is not built)", 0],
      ['FrontendOps deploy (dashboard-hosting-prod)', 0],
    ]);
    expect(ran.outputs).toEqual({
      'site-url': siteUrl,
      'deploy-id': expect.stringMatching(/^[0-9a-f]{7}-[0-9a-f]{10}$/),
      tag: expect.stringMatching(/^dashboard-deploy-\d{8}-\d+$/),
      commit: repo.commits.dashboard2,
      outcome: 'succeeded',
    });
    expect(step(ran).stderr).toMatch(
      /^frontendops deploy --yes --stack=dashboard-hosting-prod --json --message='release train 8'$/m,
    );
    expect(ran.summary).toContain('### ✅ FrontendOps deploy: `dashboard-hosting-prod`');
    expect(ran.summary).toContain(`| Deploy tag | \`${ran.outputs.tag}\` |`);
    expect((await live())?.request).toMatchObject({
      message: 'release train 8',
      actor: 'octo-releaser',
      planner: 'github-action',
    });
    expect(github.deployments.slice(before)).toEqual([
      expect.objectContaining({
        ref: repo.commits.dashboard2,
        statuses: [expect.objectContaining({ state: 'success', environment_url: siteUrl })],
      }),
    ]);
  });

  /** Shell text that, if a shell ever ran it, would leave a file at `marker`. */
  const attacks = (marker: string) => [
    `$(touch ${marker}-1)`,
    `\`touch ${marker}-2\``,
    `"; touch ${marker}-3; echo "`,
    `'; touch ${marker}-4; echo '`,
  ];
  const left = async (marker: string) =>
    (await readdir(dirname(marker))).filter((name) => name.startsWith(basename(marker)));

  it('a message with shell syntax, quotes and newlines is never run: it is recorded as it was', async () => {
    await states.v2Published.restore();
    const marker = join(t.tmp, 'message-ran');
    const message = `why: ${attacks(marker).join('\nand ')}\n$HOME \${PATH} \\ done`;
    const ran = await uses({ command: 'deploy', message });
    expect(ran.code, step(ran).stderr).toBe(0);
    expect(await left(marker)).toEqual([]);
    expect((await live())?.request.message).toBe(message);
    expect(ran.outputs.outcome).toBe('succeeded');
  });

  it('a stack, commit or app with shell syntax is refused clearly, never run: the step fails, nothing changes', async () => {
    await states.v2Live.restore();
    const before = await live();
    const marker = join(t.tmp, 'input-ran');
    const value = attacks(marker).join(' ');
    for (const name of ['stack', 'commit', 'app']) {
      const ran = await uses({ command: 'deploy', [name]: value });
      expect(ran.code, name).toBe(2);
      expect(step(ran).stderr, name).toMatch(/^error: /m);
      expect(step(ran).stderr, name).not.toMatch(/\n\s+at /);
      // Exit 2, as README says: the workflow can branch on it, whoever refused (the action or the CLI).
      expect(ran.outputs, name).toMatchObject({ outcome: 'refused', 'site-url': '', 'deploy-id': '' });
      // And the run's page says so: the job summary heads with the refusal.
      expect(ran.summary, name).toMatch(/^### ❌ FrontendOps /);
    }
    expect(await left(marker)).toEqual([]);
    expect((await live())?.deployId).toBe(before?.deployId);
  });

  it('a deploy that fails fails the step: exit 2, the reason, outcome refused, no site-url', async () => {
    await states.pinned.restore();
    const ran = await uses({ command: 'deploy' });
    expect(ran.code).toBe(2);
    expect(ran.steps.map((s) => s.code)).toEqual([0, 2]);
    expect(step(ran).stdout).toMatch(
      /^::error title=FrontendOps deploy refused::dashboard-hosting-prod is pinned/m,
    );
    expect(ran.outputs).toMatchObject({ 'site-url': '', 'deploy-id': '', outcome: 'refused' });
    expect(ran.summary).toMatch(/^### ❌ FrontendOps deploy/);
  });

  it('the check can fail: an input spliced into the script runs, and an expression it cannot model is refused', async () => {
    const source = await readFile(join(REPO_ROOT, 'action.yml'), 'utf8');
    const marker = join(t.tmp, 'spliced-ran');
    // The step's script with the message spliced in, as `run: … "\${{ inputs.message }}"` would.
    const spliced = source.replace(
      'run: node "$GITHUB_ACTION_PATH/packages/frontendops/bin/frontendops.js" action',
      `run: echo "\${{ inputs.message }}" >/dev/null`,
    );
    expect(spliced).not.toBe(source);
    await uses({ command: 'deploy', message: `$(touch ${marker}-1)` }, spliced);
    expect(await left(marker)).toEqual([`${basename(marker)}-1`]);
    for (const [edit, what] of [
      [`\${{ inputs.stack }}`, `\${{ github.event.inputs.stack }}`],
      [`\${{ inputs.stack }}`, `\${{ format('{0}', inputs.stack) }}`],
      ['      shell: bash\n      working', '      if: always()\n      shell: bash\n      working'],
      ['using: composite', 'using: node24'],
    ] as const) {
      const edited = source.replace(edit, what);
      expect(edited, what).not.toBe(source);
      await expect(uses({ command: 'deploy' }, edited), what).rejects.toThrow(UnmodelledAction);
    }
  });
});
