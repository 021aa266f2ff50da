/**
 * What every command shares: the I/O, the exit code, who is asking, which stack, and how to print.
 * Kept light (no AWS SDK, no zod): heavy modules are imported by the commands that run.
 */
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { inGitHubJob, jobEnvironmentOf } from '../approval/github-job.ts';
import type { ApprovalPolicy, Config } from '../config.ts';
import { CANARY_SHARE, CANARY_SHARE_FULL } from '../engine/canary-share.ts';
import { noteLine, problemWithText, WORDS_MAX } from '../engine/text.ts';
import { badInput, type ErrorCode } from '../errors.ts';
import type { Site } from '../site.ts';
import type { PolicyInForce } from '../state/approval-policy.ts';
import type { RequestInfo } from '../state/records.ts';
import type { CliIo } from './io.ts';

export interface CliContext {
  io: CliIo;
  exitCode: number;
  /** The CLI itself, for a command that runs others (the GitHub Action), without importing main. */
  runCli: (argv: readonly string[], io: CliIo) => Promise<number>;
  /** Set by a command that takes --wait: a LOCKED refusal then says how to wait longer. */
  waitsForLock?: boolean;
}

/** The longest name an actor may have (as an MCP client's requestedBy). */
const MAX_ACTOR = 200;

/**
 * Who is asking: FRONTENDOPS_ACTOR, GITHUB_ACTOR (CI), else user@host. A name from the environment
 * is recorded like a --message: control characters and invisible ones that change how it reads are
 * refused.
 */
export function actor(io: CliIo): string {
  const variable = io.env.FRONTENDOPS_ACTOR !== undefined ? 'FRONTENDOPS_ACTOR' : 'GITHUB_ACTOR';
  const explicit = io.env[variable];
  if (explicit) {
    const problem =
      explicit.length > MAX_ACTOR
        ? `it is ${explicit.length} characters long, more than the ${MAX_ACTOR} a name may have.`
        : problemWithText(explicit);
    if (problem !== null) {
      throw badInput(
        `Invalid ${variable} (who is asking, recorded with every change): ${problem} Expected a plain name such as "ada" or "ada@example.com".`,
      );
    }
    return explicit;
  }
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

export function cliRequest(io: CliIo, words: string, message?: string): RequestInfo {
  const expected = `Expected 1–${WORDS_MAX} characters of plain words (newlines allowed, no control characters), as people will read it in the history and the audit log.`;
  if (message !== undefined) {
    if (message.trim() === '' || message.length > WORDS_MAX) {
      const was = message.trim() === '' ? 'it is empty.' : `it is ${message.length} characters long.`;
      throw badInput(`Invalid --message: ${was} ${expected}`);
    }
    const problem = problemWithText(message);
    if (problem !== null) throw badInput(`Invalid --message: ${problem} ${expected}`);
  }
  return {
    text: words,
    actor: actor(io),
    planner: io.channel ?? 'cli',
    at: new Date().toISOString(),
    ...(message ? { message } : {}),
  };
}

/**
 * An option or argument given with an empty value ("", "  ", or an unset shell variable: `--to "$REF"`)
 * is a mistake, never "not given": `rollback --to ""` would otherwise do the default rollback. Checked
 * for every option given on the command line, of the command and of the program (-C), and every
 * argument, before the command runs. The words of a variadic argument (`agent <request...>`) are
 * joined, and the command says what it makes of them.
 */
export function refuseEmptyValues(command: Command): void {
  const isEmpty = (value: unknown) => typeof value === 'string' && value.trim() === '';
  const todo = 'Nothing was done: give it a value (an unset shell variable gives an empty one).';
  for (let c: Command | null = command; c; c = c.parent) {
    for (const option of c.options) {
      const key = option.attributeName();
      if (c.getOptionValueSource(key) !== 'cli') continue;
      const value: unknown = c.getOptionValue(key);
      if ((Array.isArray(value) ? value : [value]).some(isEmpty)) {
        throw badInput(`${option.flags} is empty: expected a value — ${option.description}. ${todo}`);
      }
    }
  }
  command.registeredArguments.forEach((argument, i) => {
    if (argument.variadic || !isEmpty(command.processedArgs[i])) return;
    const name = argument.required ? `<${argument.name()}>` : `[${argument.name()}]`;
    throw badInput(`The argument ${name} is empty: expected ${argument.description}. ${todo}`);
  });
}

/**
 * Every option of `command` and its subcommands that takes one value refuses being given twice: the
 * last would silently win ("--stack nosuch --stack prod" acting on prod). Options with a parser of
 * their own are left to it (refuseRepeated; an option made to repeat collects its values).
 */
export function refuseRepeatedOptions(command: Command): void {
  for (const option of command.options) {
    if (!(option.required || option.optional) || option.variadic || option.parseArg) continue;
    let given = 0;
    command.on(`option:${option.name()}`, () => {
      given++;
      if (given > 1) {
        throw badInput(
          `${option.flags} was given twice: give it once — ${option.description}. Nothing was done.`,
        );
      }
    });
  }
  for (const sub of command.commands) refuseRepeatedOptions(sub);
}

/**
 * The stack named by --stack or by FRONTENDOPS_STACK, or undefined when neither is given. A variable
 * set but empty (an unset shell variable in \`FRONTENDOPS_STACK=$STACK\` gives one) is a mistake,
 * never "not given", which would act on the local environment or the default stack instead.
 */
export function stackGiven(io: CliIo, flag: string | undefined): string | undefined {
  if (flag !== undefined) return flag;
  const variable = io.env.FRONTENDOPS_STACK;
  if (variable === undefined) return undefined;
  if (variable.trim() === '') {
    throw badInput(
      'FRONTENDOPS_STACK is set but empty: expected a stack name, `local` or an outputs JSON file. Nothing was done: set it to the stack, or unset it (`unset FRONTENDOPS_STACK`) for the default.',
    );
  }
  return variable;
}

/** An option parser that refuses the option given twice (where the last would silently win). */
export function refuseRepeated(
  flag: string,
  what: string,
): (value: string, previous: string | undefined) => string {
  return (value, previous) => {
    if (previous !== undefined) {
      throw badInput(
        `${flag} was given twice (${JSON.stringify(previous)} and ${JSON.stringify(value)}): give it once, with ${what}.`,
      );
    }
    return value;
  };
}

/**
 * Where a command acts, decided once, before it runs (main.ts): the project root found from the
 * directory it was started in, or -C <dir> (config.ts, findProjectRoot) — as git finds its repository
 * from any directory inside it. `io.cwd` is that root from then on: the configuration, the local
 * environment (`.frontendops/env.json`), the git repository, and the working directory of the MCP
 * servers the agent spawns. Paths given on the command line keep meaning what they meant where it was
 * started: a path argument (`publish <dir>`), the options that take one (--repo <dir>, --key <file>,
 * --config <mcp.json>, a --stack outputs file) and the variables that may hold one (FRONTENDOPS_CONFIG,
 * FRONTENDOPS_STACK, FRONTENDOPS_APPROVER_KEY) are made absolute against that directory.
 */
export async function actFromProjectRoot(io: CliIo, startedIn: string, command: Command): Promise<CliIo> {
  const [{ findProjectRoot }, { isAbsolute, resolve }, { isOutputsFileRef }] = await Promise.all([
    import('../config.ts'),
    import('node:path'),
    import('../stacks/outputs-file.ts'),
  ]);
  const root = await findProjectRoot(startedIn);
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(startedIn, path));
  for (let c: Command | null = command; c; c = c.parent) {
    for (const option of c.options) {
      const key = option.attributeName();
      // -C itself is relative to where the process started, and already applied.
      if (key === 'directory' || c.getOptionValueSource(key) !== 'cli') continue;
      const isPath = PATH_VALUE.test(option.flags);
      if (!isPath && key !== 'stack') continue;
      const value: unknown = c.getOptionValue(key);
      const fix = (v: unknown) =>
        typeof v === 'string' && (isPath || isOutputsFileRef(v)) ? absolute(v) : v;
      c.setOptionValueWithSource(key, Array.isArray(value) ? value.map(fix) : fix(value), 'cli');
    }
  }
  command.registeredArguments.forEach((argument, i) => {
    const value = command.processedArgs[i];
    if (PATH_ARGUMENT.test(argument.name()) && typeof value === 'string')
      command.processedArgs[i] = absolute(value);
  });
  let env = io.env;
  for (const name of ['FRONTENDOPS_CONFIG', 'FRONTENDOPS_STACK', 'FRONTENDOPS_APPROVER_KEY'] as const) {
    const value = env[name];
    if (!value?.trim() || isAbsolute(value) || (name === 'FRONTENDOPS_STACK' && !isOutputsFileRef(value)))
      continue;
    env = { ...env, [name]: absolute(value) };
  }
  return { ...io, cwd: root, env };
}

/** Options whose value is a path: `--repo <dir>`, `--key <file>`, `--config <mcp.json>`. */
const PATH_VALUE = /<(?:dir|file|[\w.-]*\.json)>/;
/** Arguments that are a path: `publish <dir>`. */
const PATH_ARGUMENT = /^(?:dir|file)$/;

/** Help of `--app <name>`, for every command that takes it. */
export const APP_OPTION_HELP = 'app name (default: "app" in frontendops.config.json)';

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
  const given = stackGiven(ctx.io, flag);
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
    `Which stack? No --stack was given, FRONTENDOPS_STACK is not set, no local environment runs for ${ctx.io.cwd} and the configuration names no defaultStack. ` +
      `Pass --stack <${known.length ? known.join('|') : 'name'}|outputs.json>, or start the local environment with \`npx frontendops dev\` in this repository (for another one: -C <dir>).`,
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
  const site = await openSite(ref, config, ctx.io.cwd, { onNotice: noticeOnce(ctx), env: ctx.io.env });
  try {
    return await run(site, config);
  } finally {
    site.close();
  }
}

const told = new WeakMap<CliContext, Set<string>>();
/** Prints each operator notice once per command run (the chat says its servers' notes: render.ts line). */
export function noticeOnce(ctx: CliContext): (notice: string) => void {
  return (notice) => {
    const seen = told.get(ctx) ?? new Set<string>();
    told.set(ctx, seen);
    if (seen.has(notice)) return;
    seen.add(notice);
    ctx.io.stderr.write(noteLine(notice));
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

/**
 * A whole number from an option, e.g. parseWholeNumber(flags.limit, '--limit', { min: 1, max: 500 }):
 * plain decimal digits only — no sign, spaces, fraction, exponent or 0x (Number() would take them
 * all) — from min to max; with `percent`, one trailing "%" may follow ("10%"). Anything else is bad
 * input saying what was expected.
 */
export function parseWholeNumber(
  value: string,
  option: string,
  range: { min: number; max: number; percent?: boolean; unit?: string; example?: string; note?: string },
): number {
  const digits = range.percent ? value.replace(/%$/, '') : value;
  const number = /^[0-9]+$/.test(digits) ? Number(digits) : Number.NaN;
  if (number >= range.min && number <= range.max) return number;
  const what = range.percent ? 'percentage' : `number${range.unit ? ` of ${range.unit}` : ''}`;
  const example = range.example ?? (range.percent ? '10 or 10%' : String(range.max > 20 ? 20 : range.min));
  throw badInput(
    `${option} takes a whole ${what} from ${range.min} to ${range.max}, in decimal digits (e.g. ${example})${range.note ? `; ${range.note}` : ''}; got ${JSON.stringify(value.slice(0, 40))}.`,
  );
}

/** --canary: "10", "10%" → 10 (a canary's share: engine/canary-share.ts). */
export function parsePercent(value: string, option = '--canary'): number {
  return parseWholeNumber(value, option, { ...CANARY_SHARE, percent: true, note: CANARY_SHARE_FULL });
}

/** A port to listen on, from --port or --http: 0 to 65535 (0 = any free port). */
export function parsePort(value: string, option: string): number {
  return parseWholeNumber(value, option, { min: 0, max: 65535, example: '8400', note: '0 = any free port' });
}

/** --wait of a command that takes the stack's deploy lock (`.option(...WAIT_OPTION)`): said once. */
export const WAIT_OPTION = [
  '--wait <seconds>',
  'how long to wait for another deploy of this stack to finish',
  '30',
] as const;

/** --wait, as milliseconds; the command's LOCKED refusal then names it. */
export async function lockWait(ctx: CliContext, flags: { wait: string }): Promise<number> {
  ctx.waitsForLock = true;
  return parseSeconds(flags.wait, '--wait');
}

/** Seconds from a flag (a whole number, at most a day), as milliseconds. */
export async function parseSeconds(value: string, flag: string): Promise<number> {
  return parseWholeNumber(value, flag, { min: 0, max: 86_400, unit: 'seconds', example: '30' }) * 1000;
}

/** Whether the CLI runs as a step of a GitHub Actions job (GitHub sets GITHUB_ACTIONS for each). */
export const inAJob = (ctx: CliContext): boolean => inGitHubJob(ctx.io.env);

/**
 * The GitHub environment whose reviewers a job's --yes stands for, on a protected stack
 * (approval/github-job.ts); undefined outside a job or where neither names one.
 */
export const jobEnvironment = (
  ctx: CliContext,
  inForce: Pick<PolicyInForce, 'configured' | 'recorded'>,
): ApprovalPolicy['github'] => jobEnvironmentOf(ctx.io.env, inForce);
