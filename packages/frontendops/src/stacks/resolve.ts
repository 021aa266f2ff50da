/**
 * `--stack <ref>` → where its outputs come from. In order: a path to a JSON outputs file; a stack named in
 * frontendops.config.json; the stack the running local environment plays. Anything else is NOT_FOUND —
 * a stack is never created.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createOutputsFileSource, readOutputsFileStack } from '../adapters/outputs-file.ts';
import { createPulumiCliSource } from '../adapters/pulumi-cli.ts';
import { createPulumiCloudSource } from '../adapters/pulumi-cloud.ts';
import { createPulumiStateSource } from '../adapters/pulumi-state.ts';
import type { Config, StackConfig } from '../config.ts';
import { CONFIG_FILE } from '../config.ts';
import { resolveDeployTarget } from '../engine/target.ts';
import type { DeployTarget } from '../engine/types.ts';
import { badInput, FrontendOpsError } from '../errors.ts';
import { findLocalEnv } from '../local/env-file.ts';
import type { StackSource } from '../ports.ts';

export interface ResolveOptions {
  config: Config;
  cwd: string;
}

export interface ResolvedStack {
  /** The environment name (config key, outputs file stack, or local stack). */
  stack: string;
  /** Reads this stack's outputs: call `source.readOutputs(backendStack)`. */
  source: StackSource;
  /** The stack's name inside its backend (differs from `stack` when config sets "stack"). */
  backendStack: string;
}

export async function resolveStackSource(ref: string, options: ResolveOptions): Promise<ResolvedStack> {
  const trimmed = ref.trim();
  if (trimmed === '')
    throw badInput('The stack reference is empty; pass a stack name or a path to an outputs JSON file.');
  if (/\.json$/i.test(trimmed) || trimmed.includes('/') || trimmed.includes('\\')) {
    const file = resolve(options.cwd, trimmed);
    if (await isFile(file)) {
      const stack = await readOutputsFileStack(file);
      return { stack, source: createOutputsFileSource(file), backendStack: stack };
    }
    if (/\.json$/i.test(trimmed))
      throw new FrontendOpsError('NOT_FOUND', `The stack outputs file ${file} does not exist.`);
  }
  const configured = Object.hasOwn(options.config.stacks, trimmed)
    ? options.config.stacks[trimmed]
    : undefined;
  if (configured) {
    return {
      stack: trimmed,
      source: createSource(configured, options.cwd),
      backendStack: configured.stack ?? trimmed,
    };
  }
  const local = await findLocalEnv(options.cwd);
  if (local && local.stack === trimmed) {
    return {
      stack: trimmed,
      source: createOutputsFileSource(resolve(options.cwd, local.outputsFile)),
      backendStack: trimmed,
    };
  }
  const known = (await listKnownStacks(options)).map((known) =>
    known.kind === 'local' ? `${known.name} (local environment)` : known.name,
  );
  throw new FrontendOpsError(
    'NOT_FOUND',
    `Unknown stack "${trimmed.slice(0, 100)}" (known: ${known.join(', ') || 'none'}). Nothing was created. ` +
      `Pass a path to a stack outputs JSON file, start the local environment (npm start), or add it to ${CONFIG_FILE}: ` +
      `{"stacks": {"${/^[A-Za-z0-9_.-]{1,100}$/.test(trimmed) ? trimmed : NAME_HINT}": {"backend": "s3://<state-bucket>" | "file://<dir>" | "pulumi-cloud" | "pulumi-cli" | "outputs", ...}}}.`,
  );
}

export interface KnownStack {
  name: string;
  kind: 'configured' | 'local';
}

/** The stack names --stack accepts besides file paths: configured ones, then the local environment's. */
export async function listKnownStacks(options: ResolveOptions): Promise<KnownStack[]> {
  const known: KnownStack[] = Object.keys(options.config.stacks).map((name) => ({
    name,
    kind: 'configured',
  }));
  const local = await findLocalEnv(options.cwd);
  if (local && !Object.hasOwn(options.config.stacks, local.stack))
    known.push({ name: local.stack, kind: 'local' });
  return known;
}

/** resolve + read outputs + build the target: what the deploy engine and the infra server call. */
export async function readDeployTarget(ref: string, options: ResolveOptions): Promise<DeployTarget> {
  const resolved = await resolveStackSource(ref, options);
  const outputs = await resolved.source.readOutputs(resolved.backendStack);
  return resolveDeployTarget({ ...outputs, stack: resolved.stack });
}

/** The StackSource for one configured stack. */
export function createSource(stack: StackConfig, cwd: string): StackSource {
  const { backend } = stack;
  if (backend.startsWith('file://') || backend.startsWith('s3://')) {
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
      ...(stack.apiUrl ? { apiUrl: stack.apiUrl } : {}),
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

const NAME_HINT = 'dashboard-hosting-prod';

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
