/**
 * A plain JSON file of stack outputs — what the local environment writes, and what
 * `pulumi stack output --json > outputs.json` produces: `{ "stack"?: …, "artifactsBucket": …, … }`.
 * Secret values in it ("[secret]" or Pulumi's secret envelope) are dropped; only their names are kept.
 */
import { basename } from 'node:path';
import { STACK_NAME, STACK_NAME_RULE } from '../engine/ids.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { StackOutputs, StackSource } from '../ports.ts';
import { readSmallFile } from '../private-file.ts';
import { separateSecretOutputs } from './secret-outputs.ts';

/**
 * Whether a stack reference names an outputs file rather than a stack: it ends in `.json` (in any
 * case) or holds a path separator. The one rule for --stack, FRONTENDOPS_STACK, the configuration's
 * defaultStack and `mcp infra`; a stack name (letters, digits, -, _ and .) never reads as a file.
 */
export function isOutputsFileRef(ref: string): boolean {
  const trimmed = ref.trim();
  return /\.json$/i.test(trimmed) || /[\\/]/.test(trimmed);
}

export function createOutputsFileSource(file: string): StackSource {
  return {
    async readOutputs(stack: string): Promise<StackOutputs> {
      const { declaredStack, values } = await readOutputsFile(file);
      if (declaredStack !== undefined && declaredStack !== stack) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `The outputs file ${basename(file)} describes stack ${declaredStack}, not ${stack}. Nothing was created. ` +
            `Pass the outputs file of stack ${stack}, or check the file's "stack" field.`,
        );
      }
      const { outputs, secretNames } = separateSecretOutputs(values);
      return { stack, outputs, secretNames, source: 'outputs file' };
    },
  };
}

/**
 * The stack an outputs file describes: its `stack` field, else (named: false) the file name without
 * `.json` — a name that says nothing about the target, so such a stack is treated as protected.
 */
export async function readOutputsFileStack(file: string): Promise<{ stack: string; named: boolean }> {
  const { declaredStack } = await readOutputsFile(file);
  if (declaredStack !== undefined) return { stack: declaredStack, named: true };
  // The name goes where any stack's name goes (the environment marker, deploy tags): held to the same rule.
  const stack = basename(file).replace(/\.json$/i, '');
  if (!STACK_NAME.test(stack)) {
    throw badInput(
      `The stack outputs file ${basename(file)} has no "stack" field, and its name without .json, "${stack}", is not a stack name (${STACK_NAME_RULE}). Nothing was changed: add a "stack" field naming the stack (e.g. "stack": "dashboard-hosting-prod"), or rename the file after it.`,
    );
  }
  return { stack, named: false };
}

/** Outputs are a few kilobytes; a file larger than this is not read. */
const OUTPUTS_MAX_BYTES = 1024 * 1024;

async function readOutputsFile(file: string) {
  let text: string;
  try {
    // A path the configuration may name, which whoever changes the repository chooses: a link to a
    // pipe or a device, or a huge file, is not read to its end (readSmallFile).
    const read = await readSmallFile(file, OUTPUTS_MAX_BYTES);
    if (!('text' in read)) {
      throw badInput(
        read.problem === 'too-large'
          ? `The stack outputs file ${basename(file)} is larger than 1 MiB: outputs are a few kilobytes. Nothing was changed: pass the JSON file \`pulumi stack output --json\` writes.`
          : `The stack outputs file ${basename(file)} is not a regular file (${read.kind}): expected the JSON file of the stack's outputs. Nothing was changed: pass that file itself.`,
      );
    }
    text = read.text;
  } catch (error) {
    if (isFrontendOpsError(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new FrontendOpsError('NOT_FOUND', `The stack outputs file ${file} does not exist.`);
    }
    throw new FrontendOpsError('UPSTREAM', `The stack outputs file ${file} could not be read.`, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `The stack outputs file ${basename(file)} is not valid JSON. Expected an object such as ` +
        '{"stack": "dashboard-hosting-prod", "artifactsBucket": "…", "hostingBucket": "…"}.',
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `The stack outputs file ${basename(file)} must hold one JSON object of outputs, e.g. ` +
        '{"artifactsBucket": "…", "hostingBucket": "…"}.',
    );
  }
  const { stack, ...values } = parsed as Record<string, unknown>;
  if (stack !== undefined && (typeof stack !== 'string' || !STACK_NAME.test(stack))) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `The stack outputs file ${basename(file)} has a "stack" field that is not a stack name (${STACK_NAME_RULE}): name the stack so, or leave the field out.`,
    );
  }
  return { declaredStack: stack as string | undefined, values };
}
