/**
 * FrontendOps as a user runs it: `node bin/frontendops.js <command> --stack <outputs.json> …`, a
 * spawned process, start-up included. The stack is a plain outputs file naming the embedded S3
 * server as its endpoint (README "Stacks").
 *
 * Credentials reach the CLI only through the standard AWS SDK chain, as in CI: AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY in its environment, the key the run's embedded server was started with. Its working directory is a scratch directory with no
 * .frontendops/env.json, so the CLI does not detect a local environment (which would hand it the
 * local credentials itself); nothing of the user's AWS configuration or FrontendOps settings is
 * inherited (HOME, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE point into the scratch directory).
 * The CloudFront API double is reached the standard way too: AWS_ENDPOINT_URL_CLOUDFRONT.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Measured, measure } from './proc.ts';
import { APP } from './servers.ts';

export const BIN = fileURLToPath(new URL('../bin/frontendops.js', import.meta.url));

/** The embedded server's key for this run (BenchServers.credentials). */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface StackOutputs {
  stack: string;
  artifactsBucket: string;
  hostingBucket: string;
  region: string;
  endpoint: string;
  distributionId?: string;
}

export interface FrontendOpsCli {
  outputs: StackOutputs;
  /** The stack outputs file to pass as --stack. */
  stackFile: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  run(
    args: string[],
    options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv; onStderr?: (text: string) => void },
  ): Promise<Measured>;
}

/** The one JSON object `deploy --json` / `rollback --json` prints. */
export interface DeploySummaryJson {
  deployId: string;
  outcome: string;
  commit: string;
  copied: number;
  pruned: number;
  invalidation: { paths: string[]; ids: string[] };
  durationMs: number;
  error?: { code: string; message: string };
}

export async function prepareCli(
  dir: string,
  outputs: StackOutputs,
  options: { credentials: Credentials; cdnEndpoint?: string },
): Promise<FrontendOpsCli> {
  await mkdir(join(dir, 'home'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const stackFile = join(dir, `${outputs.stack}.json`);
  await writeFile(stackFile, `${JSON.stringify(outputs, null, 2)}\n`);
  // An explicit config, so no frontendops.config.json of the user's is read: defaults, nothing protected.
  const configFile = join(dir, 'frontendops.config.json');
  await writeFile(configFile, '{ "protected": [] }\n');
  const env = cliEnvironment(dir, configFile, options.credentials, options.cdnEndpoint);
  const cli: FrontendOpsCli = {
    outputs,
    stackFile,
    env,
    cwd: dir,
    run: (args, runOptions = {}) =>
      measure(process.execPath, [BIN, ...args], {
        env: runOptions.env ?? env,
        cwd: dir,
        ...(runOptions.timeoutMs ? { timeoutMs: runOptions.timeoutMs } : {}),
        ...(runOptions.onStderr ? { onStderr: runOptions.onStderr } : {}),
      }),
  };
  return cli;
}

export function cliEnvironment(
  dir: string,
  configFile: string,
  credentials: Credentials,
  cdnEndpoint?: string,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && !name.startsWith('FRONTENDOPS_') && !name.startsWith('NODE_'))
      env[name] = value;
  }
  return {
    ...env,
    HOME: join(dir, 'home'),
    // The file locks FrontendOps takes when the endpoint ignores conditional writes go here.
    TMPDIR: join(dir, 'tmp'),
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_CONFIG_FILE: join(dir, 'home', 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'home', 'aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...(cdnEndpoint ? { AWS_ENDPOINT_URL_CLOUDFRONT: cdnEndpoint } : {}),
    FRONTENDOPS_CONFIG: configFile,
    FRONTENDOPS_ACTOR: 'bench',
  };
}

/** `deploy --commit <sha> --yes --json`: the command line of the benchmark. */
export const deployArgs = (cli: FrontendOpsCli, commit: string) => [
  'deploy',
  '--stack',
  cli.stackFile,
  '--commit',
  commit,
  '--yes',
  '--json',
];

export const rollbackArgs = (cli: FrontendOpsCli) => [
  'rollback',
  '--stack',
  cli.stackFile,
  '--yes',
  '--json',
];

/** The summary a deploy or rollback printed; throws with its stderr when it printed none. */
export function parseSummary(run: Measured, what: string): DeploySummaryJson {
  try {
    return JSON.parse(run.stdout) as DeploySummaryJson;
  } catch {
    throw new Error(
      `frontendops ${what} printed no JSON summary (exit ${run.code}${run.timedOut ? ', timed out' : ''}): ${run.stderr.trim() || run.stdout.trim()}`,
    );
  }
}

/** Runs a deploy or rollback that must succeed; its summary. */
/**
 * Publishes builds to the CLI's stack as CI does (`frontendops publish --stack`): into the artifacts
 * bucket, where a build already there with the same content is kept, and the stack's publish log,
 * which a deploy takes a build only from. Set-up: not measured.
 */
export async function publishWithCli(
  cli: FrontendOpsCli,
  builds: ReadonlyArray<readonly [dir: string, commit: string]>,
): Promise<void> {
  for (const [dir, commit] of builds) {
    const run = await cli.run(['publish', dir, '--app', APP, '--commit', commit, '--stack', cli.stackFile]);
    if (run.code !== 0)
      throw new Error(`publishing ${commit.slice(0, 7)} to ${cli.outputs.stack} failed: ${run.stderr}`);
  }
}

export async function mustSucceed(
  cli: FrontendOpsCli,
  args: string[],
  what: string,
): Promise<{ run: Measured; summary: DeploySummaryJson }> {
  const run = await cli.run(args);
  const summary = parseSummary(run, what);
  if (run.code !== 0 || summary.outcome !== 'succeeded') {
    throw new Error(
      `frontendops ${what} ended ${summary.outcome} (exit ${run.code}): ${summary.error?.message ?? run.stderr.trim()}`,
    );
  }
  return { run, summary };
}
