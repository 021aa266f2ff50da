/** What every CLI command shares: the config, who is asking, the stack, and how to print. */
import { hostname, userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { type Config, loadConfig } from '../config.ts';
import { type Environment, openStack } from '../environment.ts';
import { FrontendOpsError } from '../errors.ts';
import type { RequestInfo } from '../state/records.ts';

export const DEFAULT_STACK = process.env.FRONTENDOPS_STACK ?? 'dashboard-hosting-prod';

export function actor(): string {
  const explicit = process.env.FRONTENDOPS_ACTOR ?? process.env.GITHUB_ACTOR;
  if (explicit) return explicit;
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

export function cliRequest(words: string): RequestInfo {
  return { text: words, actor: actor(), planner: 'cli', at: new Date().toISOString() };
}

export async function withStack<T>(
  ref: string,
  run: (env: Environment, config: Config) => Promise<T>,
): Promise<T> {
  const config = await loadConfig();
  const env = await openStack(ref, config);
  try {
    return await run(env, config);
  } finally {
    env.close();
  }
}

/**
 * A protected environment needs a human's yes: --yes, or an answer at the terminal. Without a
 * terminal and without --yes the command is refused before anything changes.
 */
export async function confirmProtected(
  config: Config,
  stack: string,
  what: string,
  yes: boolean,
): Promise<void> {
  if (!config.protected.includes(stack) || yes) return;
  if (!process.stdin.isTTY) {
    throw new FrontendOpsError(
      'APPROVAL_REQUIRED',
      `${stack} is a protected environment: ${what} needs a human approval. Run it in a terminal and answer the prompt, or pass --yes to approve.`,
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${stack} is protected. ${what}. Proceed? [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) {
    throw new FrontendOpsError(
      'DENIED',
      `Not approved: ${what} was cancelled at the prompt. Nothing changed.`,
    );
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
