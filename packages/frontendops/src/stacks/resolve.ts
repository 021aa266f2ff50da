/**
 * `--stack <ref>` → where its outputs come from. In order: a path to a JSON outputs file; `local`,
 * the embedded environment running in this directory; a stack named in frontendops.config.json.
 * Anything else is NOT_FOUND — a stack is never created.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Config, StackConfig } from '../config.ts';
import { CONFIG_FILE } from '../config.ts';
import { resolveDeployTarget } from '../engine/target.ts';
import type { DeployTarget } from '../engine/types.ts';
import { badInput, FrontendOpsError } from '../errors.ts';
import type { SiteAccess, StackSource } from '../ports.ts';
import { configuredBackend, isStateBackendUrl } from './backend-url.ts';
import { createLocalStackSource, LOCAL_STACK } from './local.ts';
import { findLocalEnv } from './local-env-file.ts';
import { createOutputsFileSource, isOutputsFileRef, readOutputsFileStack } from './outputs-file.ts';
import { createPulumiCliSource } from './pulumi-cli.ts';
import { createPulumiCloudSource, PULUMI_CLOUD_URL } from './pulumi-cloud.ts';
import { createPulumiStateSource } from './pulumi-state.ts';

export interface ResolveOptions {
  config: Config;
  cwd: string;
  /** Where `env:NAME` backends are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedStack {
  /** The environment name (config key, outputs file stack, or `local`). */
  stack: string;
  /** Reads this stack's outputs: call `source.readOutputs(backendStack)`. */
  source: StackSource;
  /** The stack's name inside its backend (differs from `stack` when config sets "stack"). */
  backendStack: string;
  /** false for an outputs file that does not say which stack it describes. */
  named: boolean;
}

export async function resolveStackSource(ref: string, options: ResolveOptions): Promise<ResolvedStack> {
  const trimmed = ref.trim();
  if (trimmed === '')
    throw badInput('The stack reference is empty; pass a stack name or a path to an outputs JSON file.');
  if (isOutputsFileRef(trimmed)) {
    const file = resolve(options.cwd, trimmed);
    const kind = await kindOf(file);
    if (kind === 'file') {
      const { stack, named } = await readOutputsFileStack(file);
      return { stack, source: createOutputsFileSource(file), backendStack: stack, named };
    }
    if (kind === 'directory') {
      throw badInput(
        `${file} is a directory, not a stack outputs file. Nothing was done. Pass the outputs JSON file itself (e.g. ${resolve(file, 'outputs.json')}), or a stack name.`,
      );
    }
    if (/\.json$/i.test(trimmed))
      throw new FrontendOpsError('NOT_FOUND', `The stack outputs file ${file} does not exist.`);
  }
  if (trimmed === LOCAL_STACK) {
    return {
      stack: LOCAL_STACK,
      source: createLocalStackSource(options.cwd),
      backendStack: LOCAL_STACK,
      named: true,
    };
  }
  const configured = Object.hasOwn(options.config.stacks, trimmed)
    ? options.config.stacks[trimmed]
    : undefined;
  if (configured) {
    return {
      stack: trimmed,
      source: createSource(trimmed, configured, options.cwd, options.env ?? process.env),
      backendStack: configured.stack ?? trimmed,
      named: true,
    };
  }
  const known = await listKnownStacks(options);
  throw new FrontendOpsError(
    'NOT_FOUND',
    `Unknown stack "${trimmed.slice(0, 100)}" (known: ${known.join(', ') || 'none'}). Nothing was created. ` +
      `Pass a path to a stack outputs JSON file, start the local environment (npx frontendops dev) and use "${LOCAL_STACK}", or add it to ${CONFIG_FILE}: ` +
      `{"stacks": {"${/^[A-Za-z0-9_.-]{1,100}$/.test(trimmed) ? trimmed : 'prod'}": {"backend": "s3://<state-bucket>" | "file://<dir>" | "env:PULUMI_BACKEND_URL" | "pulumi-cloud" | "pulumi-cli" | "outputs", ...}}}.`,
    // What a caller that may not pass paths (an MCP client) says instead: see mcp/infra/context.ts.
    { details: { unknownStack: trimmed.slice(0, 100), known } },
  );
}

/** The stack names --stack accepts besides file paths: configured ones, then `local` when it runs. */
export async function listKnownStacks(options: ResolveOptions): Promise<string[]> {
  const known = Object.keys(options.config.stacks);
  if (await findLocalEnv(options.cwd)) known.push(LOCAL_STACK);
  return known;
}

export interface ReadStack {
  target: DeployTarget;
  /** How to reach the target, when its source says (the embedded environment). */
  access?: SiteAccess;
  /** false for an outputs file that does not say which stack it describes. */
  named: boolean;
}

/** resolve + read outputs + build the target: what opening a site and the infra server start from. */
export async function readStack(ref: string, options: ResolveOptions): Promise<ReadStack> {
  const resolved = await resolveStackSource(ref, options);
  const outputs = await resolved.source.readOutputs(resolved.backendStack);
  const target = resolveDeployTarget({ ...outputs, stack: resolved.stack });
  return { target, ...(outputs.access ? { access: outputs.access } : {}), named: resolved.named };
}

/** resolve + read outputs + build the target. */
export async function readDeployTarget(ref: string, options: ResolveOptions): Promise<DeployTarget> {
  return (await readStack(ref, options)).target;
}

/** The StackSource for one configured stack, `name` in the configuration. */
export function createSource(
  name: string,
  stack: StackConfig,
  cwd: string,
  env: NodeJS.ProcessEnv,
): StackSource {
  const backend = configuredBackend(stack.backend, env);
  if (isStateBackendUrl(backend)) {
    return createPulumiStateSource({
      backendUrl: backend,
      cwd,
      ...(stack.project ? { project: stack.project } : {}),
    });
  }
  if (backend === 'pulumi-cloud') {
    return createPulumiCloudSource({
      organization: stack.organization ?? '',
      project: stack.project ?? '',
      env,
      ...(stack.apiUrl ? { apiUrl: trustedApiUrl(name, stack.apiUrl, env) } : {}),
    });
  }
  if (backend === 'pulumi-cli') {
    return createPulumiCliSource({
      cwd,
      ...(stack.organization ? { organization: stack.organization } : {}),
      ...(stack.project ? { project: stack.project } : {}),
    });
  }
  if (backend === 'outputs' && stack.file) return createOutputsFileSource(resolve(cwd, stack.file));
  throw badInput(
    `Stack backend "${backend.slice(0, 100)}" is not supported; see ${CONFIG_FILE} in the README.`,
  );
}

/**
 * A configured "apiUrl", where PULUMI_ACCESS_TOKEN goes. The configuration is a file of the
 * repository, which whoever can change its files chooses; the token is the environment's (a deploy
 * job's secret). So the token goes to Pulumi Cloud, or to the server the environment names as the
 * Pulumi CLI reads it (PULUMI_BACKEND_URL), never to one only the configuration names.
 */
function trustedApiUrl(name: string, apiUrl: string, env: NodeJS.ProcessEnv): string {
  const origin = (url: string | undefined) => {
    try {
      return url && /^https?:\/\//i.test(url.trim()) ? new URL(url.trim()).origin : null;
    } catch {
      return null;
    }
  };
  const named = origin(env.PULUMI_BACKEND_URL);
  const wanted = origin(apiUrl);
  if (wanted !== null && (wanted === origin(PULUMI_CLOUD_URL) || wanted === named)) return apiUrl;
  const shownUrl = apiUrl.slice(0, 200);
  throw badInput(
    `The "apiUrl" of stack ${name} is ${shownUrl}, a server ${named ? 'other than the one PULUMI_BACKEND_URL names' : 'PULUMI_BACKEND_URL does not name'}. ` +
      `Nothing was sent: PULUMI_ACCESS_TOKEN goes only to ${PULUMI_CLOUD_URL} or to the server PULUMI_BACKEND_URL names, as the pulumi CLI sends it, never to one only ${CONFIG_FILE} names (a file of the repository). ` +
      `If ${shownUrl} is your Pulumi Cloud, set PULUMI_BACKEND_URL=${shownUrl} where PULUMI_ACCESS_TOKEN is set; otherwise remove "apiUrl" from the stack.`,
  );
}

async function kindOf(path: string): Promise<'file' | 'directory' | null> {
  try {
    const found = await stat(path);
    return found.isFile() ? 'file' : found.isDirectory() ? 'directory' : null;
  } catch {
    return null;
  }
}
