/**
 * What every command shares: the I/O, the exit code, who is asking, which stack, and how to print.
 * Kept light (no AWS SDK, no zod): heavy modules are imported by the commands that run.
 */
import { hostname, userInfo } from 'node:os';
import type { Config } from '../config.ts';
import { hasControlCharacters } from '../engine/text.ts';
import { badInput, type ErrorCode } from '../errors.ts';
import type { Site } from '../site.ts';
import type { RequestInfo } from '../state/records.ts';
import type { CliIo } from './io.ts';

export interface CliContext {
  io: CliIo;
  exitCode: number;
  /** The CLI itself, for a command that runs others (the GitHub Action), without importing main. */
  runCli: (argv: readonly string[], io: CliIo) => Promise<number>;
}

/** Who is asking: FRONTENDOPS_ACTOR, GITHUB_ACTOR (CI), else user@host. */
export function actor(io: CliIo): string {
  const explicit = io.env.FRONTENDOPS_ACTOR ?? io.env.GITHUB_ACTOR;
  if (explicit) return explicit;
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

export function cliRequest(io: CliIo, words: string, message?: string): RequestInfo {
  if (
    message !== undefined &&
    (message.trim() === '' || message.length > 2000 || hasControlCharacters(message))
  ) {
    throw badInput(
      'Invalid --message: expected 1–2000 characters of plain words (newlines allowed, no control characters), as people will read it in the history and the audit log.',
    );
  }
  return {
    text: words,
    actor: actor(io),
    planner: 'cli',
    at: new Date().toISOString(),
    ...(message ? { message } : {}),
  };
}

export const STACK_OPTION_HELP =
  'stack: a configured name, `local` (the running local environment) or an outputs JSON file; default FRONTENDOPS_STACK, else `local` when it runs';

export async function loadCliConfig(ctx: CliContext): Promise<Config> {
  const { loadConfig } = await import('../config.ts');
  return loadConfig(ctx.io.cwd, ctx.io.env);
}

/** The stack a command acts on: --stack, FRONTENDOPS_STACK, the running local environment, or the config's default. */
export async function chooseStack(
  ctx: CliContext,
  flag: string | undefined,
  config: Config,
): Promise<string> {
  const given = flag ?? ctx.io.env.FRONTENDOPS_STACK ?? undefined;
  if (given) return given;
  const [{ findLocalEnv }, { LOCAL_STACK }] = await Promise.all([
    import('../stacks/local-env-file.ts'),
    import('../stacks/local.ts'),
  ]);
  if (await findLocalEnv(ctx.io.cwd)) return LOCAL_STACK;
  if (config.defaultStack) return config.defaultStack;
  const { FrontendOpsError } = await import('../errors.ts');
  const known = Object.keys(config.stacks);
  throw new FrontendOpsError(
    'BAD_INPUT',
    `Which stack? No --stack was given, FRONTENDOPS_STACK is not set, no local environment runs here and the configuration names no defaultStack. ` +
      `Pass --stack <${known.length ? known.join('|') : 'name'}|outputs.json>, or start the local environment with \`npx frontendops dev\` (run from another directory: -C <dir>).`,
  );
}

/** Opens the chosen stack's site for `run`, and closes it after. */
export async function withSite<T>(
  ctx: CliContext,
  flag: string | undefined,
  run: (site: Site, config: Config) => Promise<T>,
): Promise<T> {
  const config = await loadCliConfig(ctx);
  const ref = await chooseStack(ctx, flag, config);
  const { openSite } = await import('../stacks/open.ts');
  const site = await openSite(ref, config, ctx.io.cwd, { onNotice: noticeOnce(ctx) });
  try {
    return await run(site, config);
  } finally {
    site.close();
  }
}

const told = new WeakMap<CliContext, Set<string>>();
/** Prints each operator notice once per command run (and once per chat session). */
export function noticeOnce(ctx: CliContext): (notice: string) => void {
  return (notice) => {
    const seen = told.get(ctx) ?? new Set<string>();
    told.set(ctx, seen);
    if (seen.has(notice)) return;
    seen.add(notice);
    ctx.io.stderr.write(`note: ${notice}\n`);
  };
}

export function printJson(ctx: CliContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Exit codes: 0 done; 1 it failed (a backend, verification, a lock, damaged state, a bug); 2 it was
 * refused: bad input, an unknown name, a conflict with what exists, or no approval.
 */
export function exitCodeOf(error: unknown): number {
  const code = (error as { code?: ErrorCode } | null)?.code;
  const refused: ReadonlySet<string> = new Set([
    'BAD_INPUT',
    'NOT_FOUND',
    'CONFLICT',
    'APPROVAL_REQUIRED',
    'DENIED',
    'PINNED',
  ]);
  return code !== undefined && refused.has(code) ? 2 : 1;
}

/** Seconds from a flag, as milliseconds. */
export async function parseSeconds(value: string, flag: string): Promise<number> {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    const { badInput } = await import('../errors.ts');
    throw badInput(`${flag} takes a number of seconds (0 or more), got "${value}".`);
  }
  return seconds * 1000;
}
