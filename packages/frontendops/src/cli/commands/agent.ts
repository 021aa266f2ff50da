/**
 * `frontendops agent "<request>"` and `frontendops chat`: the agent in a terminal. Steps go to stderr
 * as they happen; stdout carries the summary, or exactly one JSON object with --json.
 */
import type { Command } from 'commander';
import type { AgentResult, PlannerChoice } from '../../agent/index.ts';
import { actor, type CliContext, stackGiven } from '../context.ts';

interface AgentFlags {
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
  stack?: string;
  config?: string;
  planner: string;
}

export function register(program: Command, ctx: CliContext): void {
  addAgentOptions(
    program
      .command('agent')
      .description(
        'Ask the agent in words, e.g. "Deploy the latest build", "undo the last deploy", "what\'s live?". ' +
          'It acts only through the infra and git MCP servers.',
      )
      .argument('<request...>', 'what to do, in words')
      .option('--dry-run', 'show the intent and the tool calls in order; call only read-only tools')
      .option('--json', 'print one JSON object (the result) on stdout')
      .addHelpText(
        'after',
        `
Examples:
  $ frontendops agent "Deploy the latest build" --yes
  $ frontendops agent "what's live on prod?" --stack prod
  $ frontendops agent "roll back to yesterday's version" --dry-run
  $ frontendops agent "show the deploy history" --json

Exit codes: 0 done or answered, 1 failed, 2 refused or not approved (also bad input: an unknown
--stack, a commit or deploy that does not exist), 130 stopped by Ctrl-C: a change in progress stops
at a safe point, the answer says what it left, and the same request again finishes it.`,
      ),
  ).action(async (words: string[], flags: AgentFlags) => {
    const text = words.join(' ');
    if (text.trim() === '') {
      // Said before the servers start: there is nothing for them to do.
      const { badInput } = await import('../../errors.ts');
      throw badInput(
        'The request is empty: say what to do in words, e.g. frontendops agent "Deploy the latest build". `frontendops agent --help` shows more.',
      );
    }
    const [{ runAgentRequest, createCliApprover, askOnTerminal, loadMcpConfig }, { createRenderer }] =
      await Promise.all([import('../../agent/index.ts'), import('../render.ts')]);
    const { io } = ctx;
    const mcpConfig = flags.config ? await loadMcpConfig(flags.config, io.cwd) : undefined;
    const renderer = createRenderer(io.stderr);
    const approve = createCliApprover({
      yes: Boolean(flags.yes),
      actor: actor(io),
      interactive: Boolean(io.stdin.isTTY && io.stderr.isTTY),
      ask: (question) => {
        renderer.pause();
        return askOnTerminal(question, io.stdin, io.stderr as NodeJS.WritableStream);
      },
    });
    const planner = await parsePlanner(flags.planner);
    await checkModelUpFront(io.env, planner);
    const stack = await stackOf(ctx, flags.stack);
    const say = flags.json ? (line: string) => io.stderr.write(`${line}\n`) : renderer.line;
    const interrupt = interruptOnStop(io, say);
    let result: AgentResult;
    try {
      result = await runAgentRequest(text, {
        actor: actor(io),
        planner,
        approve,
        dryRun: Boolean(flags.dryRun),
        cwd: io.cwd,
        env: io.env,
        ...stack,
        ...(mcpConfig ? { mcpConfig } : {}),
        ...(io.connectMcp ? { connectMcp: io.connectMcp } : {}),
        // The servers' notes once, between the renderer's lines (never over its spinner).
        onServerStderr: say,
        ...(flags.json ? {} : { onEvent: renderer.onEvent }),
        signal: interrupt.signal,
      });
    } finally {
      interrupt.done();
    }
    if (flags.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else io.stdout.write(`${renderer.summary(result)}\n`);
    ctx.exitCode = interruptedExitCode(interrupt.signal, result) ?? exitCodeFor(result);
  });

  addAgentOptions(
    program
      .command('chat')
      .description('Talk to the agent: one request per line; "exit" (or Ctrl-D) to leave')
      .addHelpText(
        'after',
        `
Examples:
  $ frontendops chat
  $ frontendops chat --stack prod

Each answer says how its request went (REFUSED, FAILED, …). At a terminal the exit code says how the
conversation ended: 0 by "exit" or the end of input (Ctrl-D). With requests piped in (a script), it
is the worst request's: 1 if one failed, 2 if one was refused or not approved and none failed. 130 by
Ctrl-C; 2 when it cannot start (an unknown --stack). One request's own: frontendops agent "<request>".`,
      ),
  ).action(async (flags: AgentFlags) => {
    await chat(ctx, flags);
  });
}

/** 0 done (or answered / planned); 1 failed; 2 refused (bad input included) or not approved. */
export function exitCodeFor(result: AgentResult): number {
  if (result.outcome === 'failed') return 1;
  if (result.outcome === 'refused' || result.outcome === 'declined') return 2;
  return 0;
}

/** A conversation's exit code with requests piped in: a failure above all, then a refusal, else 0. */
const worseOf = (a: number, b: number): number => (a === 1 || b === 1 ? 1 : Math.max(a, b));

/** 130 (as a shell reports Ctrl-C) for a request the person stopped; null when it ended on its own. */
function interruptedExitCode(signal: AbortSignal, result: AgentResult): number | null {
  return signal.aborted && result.outcome === 'failed' ? 130 : null;
}

/** What Ctrl-C during a request says, in `agent` and `chat` alike. */
const INTERRUPTED =
  'Interrupted: stopping the request. A change in progress stops at its next safe point; Ctrl-C again quits at once.';

/**
 * Ctrl-C (or SIGTERM) while a request runs stops it instead of the process: the call in flight is
 * cancelled, so the infra server stops a change at its next safe point (before its switch, or it
 * leaves one that switched for the next run to finish), and the answer says what that left. A second
 * Ctrl-C ends the process at once, as before.
 */
function interruptOnStop(io: CliContext['io'], say: (line: string) => void) {
  const controller = new AbortController();
  let running = true;
  void io.untilStopped().then(() => {
    if (!running || controller.signal.aborted) return;
    say(INTERRUPTED);
    controller.abort(new Error('interrupted (Ctrl-C)'));
  });
  return {
    signal: controller.signal,
    done: () => {
      running = false;
    },
  };
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

function addAgentOptions(command: Command): Command {
  return command
    .option('--yes', 'approve the change the request names (only that) without asking')
    .option(
      '--stack <ref>',
      'stack: a configured name, `local` or an outputs JSON file (default: FRONTENDOPS_STACK, else `local` when it runs)',
    )
    .option(
      '--config <mcp.json>',
      'MCP servers to use ({"mcpServers": {"infra": …, "git": …}}); default: spawn ours',
    )
    .option(
      '--planner <auto|runbook|model>',
      'auto = the model when FRONTENDOPS_MODEL is set, else the runbook',
      'auto',
    );
}

/**
 * A model that cannot work is one clear line before anything starts: FRONTENDOPS_MODEL malformed, or
 * its provider's key missing or empty (never a request that fails, is retried and prints a trace).
 */
async function checkModelUpFront(env: NodeJS.ProcessEnv, planner: PlannerChoice): Promise<void> {
  if (planner === 'runbook') return;
  const { readModelSpec, requireModelKey, modelBaseUrl, MODEL_ENV } = await import(
    '../../agent/model-provider.ts'
  );
  const spec = readModelSpec(env);
  if (spec) {
    requireModelKey(spec, env);
    modelBaseUrl(spec, env);
  } else if (planner === 'model') {
    const { badInput } = await import('../../errors.ts');
    throw badInput(`--planner model needs a model: set ${MODEL_ENV}=provider:model (e.g. openai:gpt-4.1).`);
  }
}

async function parsePlanner(value: string): Promise<PlannerChoice> {
  if (value === 'auto' || value === 'runbook' || value === 'model') return value;
  const { badInput } = await import('../../errors.ts');
  throw badInput(`Unknown --planner "${value}": expected auto, runbook or model.`);
}

/**
 * The stack the requests act on, resolved before any server starts: a stack nobody knows is bad
 * input, said once on stderr (exit 2), not a failed request with a warning about an unreachable server.
 */
async function stackOf(
  ctx: CliContext,
  flag: string | undefined,
): Promise<{ stackRef?: string; stack: string | null }> {
  const { stackRef } = await stackRefOf(ctx, flag);
  if (!stackRef) return { stack: null };
  const [{ loadConfig }, { resolveStackSource }] = await Promise.all([
    import('../../config.ts'),
    import('../../stacks/resolve.ts'),
  ]);
  const { cwd, env } = ctx.io;
  const config = await loadConfig(cwd, env);
  return { stackRef, stack: (await resolveStackSource(stackRef, { config, cwd, env })).stack };
}

/** The stack the spawned infra server serves: --stack, FRONTENDOPS_STACK, or `local` when it runs. */
async function stackRefOf(ctx: CliContext, flag: string | undefined): Promise<{ stackRef?: string }> {
  const given = stackGiven(ctx.io, flag);
  if (given) return { stackRef: given };
  const [{ findLocalEnv }, { LOCAL_STACK }] = await Promise.all([
    import('../../stacks/local-env-file.ts'),
    import('../../stacks/local.ts'),
  ]);
  return (await findLocalEnv(ctx.io.cwd)) ? { stackRef: LOCAL_STACK } : {};
}

async function chat(ctx: CliContext, flags: AgentFlags): Promise<void> {
  const [agent, { createRenderer }] = await Promise.all([
    import('../../agent/index.ts'),
    import('../render.ts'),
  ]);
  const { io } = ctx;
  const planner = await parsePlanner(flags.planner);
  await checkModelUpFront(io.env, planner);
  const stack = await stackOf(ctx, flags.stack);
  const mcpConfig = flags.config
    ? await agent.loadMcpConfig(flags.config, io.cwd)
    : agent.defaultMcpConfig(io.cwd, stack.stackRef, io.env);
  const lines = readLines(io.stdin, io.stderr);
  const who = actor(io);
  const renderer = createRenderer(io.stderr);
  const approve = agent.createCliApprover({
    yes: Boolean(flags.yes),
    actor: who,
    interactive: Boolean(io.stdin.isTTY),
    ask: async (question) => {
      renderer.pause();
      return (await lines.next(question)) ?? '';
    },
  });
  let clients: Awaited<ReturnType<typeof agent.connectAgentClients>> | null = null;
  // What the request that runs was told so far: the servers stay for the whole conversation, and
  // say each tool call's own wait for a lock (forOperation); each request is told its own once,
  // though an earlier request was told the same. A note a server says once (the file lock this
  // machine uses) is said once.
  let told = new Set<string>();
  // At a terminal, how the conversation ended, not how its turns went: the person read each answer as
  // it came, and a refusal they went on from is no failure of the session. With requests piped in, no
  // one read them: a script is told the worst request's outcome (a failed deploy must not exit 0).
  const piped = !io.stdin.isTTY;
  let exitCode = 0;
  // Ctrl-C stops the request that runs (what it left is said), then the conversation; at the
  // prompt, the conversation. A second Ctrl-C quits at once.
  let current: AbortController | null = null;
  let stopped = false;
  void io.untilStopped().then(() => {
    stopped = true;
    if (current) {
      renderer.line(INTERRUPTED);
      current.abort(new Error('interrupted (Ctrl-C)'));
    }
    lines.end();
  });
  io.stderr.write(
    'FrontendOps agent. Ask e.g. "Deploy the latest build" or "what\'s live?"; "exit" to leave.\n',
  );
  try {
    for (;;) {
      const line = stopped ? undefined : (await lines.next('frontendops> '))?.trim();
      if (line === undefined || /^(exit|quit|bye)$/i.test(line)) break;
      if (!line) continue;
      // Connect on first use, then keep the servers for the whole conversation.
      clients ??= await (io.connectMcp ?? agent.connectAgentClients)(mcpConfig, {
        inheritEnv: !flags.config,
        env: io.env,
        // The servers' notes once for each request, between lines, never over the spinner.
        onStderr: (line) => renderer.line(line, told),
      });
      current = new AbortController();
      told = new Set<string>();
      const result = await agent.runAgentRequest(line, {
        actor: who,
        planner,
        approve,
        clients,
        cwd: io.cwd,
        env: io.env,
        ...stack,
        onEvent: renderer.onEvent,
        signal: current.signal,
      });
      io.stdout.write(`${renderer.summary(result)}\n`);
      const interrupted = interruptedExitCode(current.signal, result);
      current = null;
      if (interrupted !== null) {
        exitCode = interrupted;
        break;
      }
      if (piped) exitCode = worseOf(exitCode, exitCodeFor(result));
    }
    ctx.exitCode = stopped ? 130 : exitCode;
  } finally {
    lines.close();
    await clients?.close?.();
  }
}

/**
 * Lines from stdin, queued: piped input arrives all at once, before anyone asks, and must not be
 * lost while a request runs. `next` shows a prompt and resolves with the next line (undefined at EOF).
 */
function readLines(input: NodeJS.ReadableStream, prompts: { write(text: string): unknown }) {
  const queued: string[] = [];
  const waiting: Array<(line: string | undefined) => void> = [];
  let ended = false;
  let rest = '';
  const onData = (chunk: Buffer | string) => {
    rest += chunk.toString();
    const parts = rest.split(/\r?\n/);
    rest = parts.pop() ?? '';
    for (const line of parts) {
      const wake = waiting.shift();
      if (wake) wake(line);
      else queued.push(line);
    }
  };
  const onEnd = () => {
    if (rest) queued.push(rest);
    rest = '';
    ended = true;
    for (const wake of waiting.splice(0)) wake(queued.shift());
  };
  input.on('data', onData);
  input.on('end', onEnd);
  return {
    /** Ends the input now (Ctrl-C at the prompt): what waits for a line gets none. */
    end: onEnd,
    next(prompt: string): Promise<string | undefined> {
      prompts.write(prompt);
      const line = queued.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (ended) return Promise.resolve(undefined);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: () => {
      input.off('data', onData);
      input.off('end', onEnd);
      (input as NodeJS.ReadableStream & { pause?: () => void }).pause?.();
    },
  };
}
