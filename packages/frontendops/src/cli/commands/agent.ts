/**
 * `frontendops agent "<request>"` and `frontendops chat`: the agent in a terminal. Steps go to stderr
 * as they happen; stdout carries the summary, or exactly one JSON object with --json.
 */
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import {
  type AgentClients,
  type AgentResult,
  connectAgentClients,
  createCliApprover,
  defaultMcpConfig,
  loadMcpConfig,
  type McpConfig,
  type PlannerChoice,
  runAgentRequest,
} from '../../agent/index.ts';
import { createRenderer } from '../../agent/render.ts';
import { badInput } from '../../errors.ts';
import { actor } from '../context.ts';

interface AgentFlags {
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
  stack?: string;
  config?: string;
  planner: string;
}

export function registerAgentCommands(program: Command): void {
  addAgentOptions(
    program
      .command('agent')
      .description(
        'Ask the agent in words, e.g. "Deploy the latest dashboard", "undo the last deploy", "what\'s live on prod?". ' +
          'It acts only through the infra and git MCP servers.',
      )
      .argument('<request...>', 'what to do, in words')
      .option('--dry-run', 'show the intent and the tool calls in order; call only read-only tools')
      .option('--json', 'print one JSON object (the result) on stdout'),
  ).action(async (words: string[], flags: AgentFlags) => {
    const text = words.join(' ');
    const mcpConfig = flags.config ? await loadMcpConfig(resolve(flags.config)) : undefined;
    const renderer = createRenderer(process.stderr);
    const approve = createCliApprover({ yes: Boolean(flags.yes), actor: actor() });
    const result = await runAgentRequest(text, {
      actor: actor(),
      planner: parsePlanner(flags.planner),
      approve: (request) => {
        renderer.pause();
        return approve(request);
      },
      dryRun: Boolean(flags.dryRun),
      ...(flags.stack ? { stackRef: flags.stack } : {}),
      ...(mcpConfig ? { mcpConfig } : {}),
      ...(flags.json ? {} : { onEvent: renderer.onEvent }),
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else process.stdout.write(`${renderer.summary(result)}\n`);
    process.exitCode = exitCodeFor(result);
  });

  addAgentOptions(
    program
      .command('chat')
      .description('Talk to the agent: one request per line; "exit" (or Ctrl-D) to leave'),
  ).action(async (flags: AgentFlags) => {
    await chat(flags);
  });
}

/** 0 done (or answered / planned); 1 failed; 2 refused or not approved. */
export function exitCodeFor(result: AgentResult): number {
  if (result.outcome === 'failed') return 1;
  if (result.outcome === 'refused' || result.outcome === 'declined') return 2;
  return 0;
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

function addAgentOptions(command: Command): Command {
  return command
    .option('--yes', 'approve actions on protected stacks without asking')
    .option(
      '--stack <ref>',
      'stack name or outputs JSON file (default: FRONTENDOPS_STACK or dashboard-hosting-prod)',
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

function parsePlanner(value: string): PlannerChoice {
  if (value === 'auto' || value === 'runbook' || value === 'model') return value;
  throw badInput(`Unknown --planner "${value}": expected auto, runbook or model.`);
}

async function chat(flags: AgentFlags): Promise<void> {
  const planner = parsePlanner(flags.planner);
  const mcpConfig: McpConfig = flags.config
    ? await loadMcpConfig(resolve(flags.config))
    : defaultMcpConfig(process.cwd(), flags.stack ?? process.env.FRONTENDOPS_STACK);
  const lines = readLines();
  const who = actor();
  const renderer = createRenderer(process.stderr);
  const approve = createCliApprover({
    yes: Boolean(flags.yes),
    actor: who,
    interactive: Boolean(process.stdin.isTTY),
    ask: async (question) => {
      renderer.pause();
      return (await lines.next(question)) ?? '';
    },
  });
  let clients: AgentClients | null = null;
  process.stderr.write(
    'FrontendOps agent. Ask e.g. "Deploy the latest dashboard" or "what\'s live?"; "exit" to leave.\n',
  );
  try {
    for (;;) {
      const line = (await lines.next('frontendops> '))?.trim();
      if (line === undefined || /^(exit|quit|bye)$/i.test(line)) break;
      if (!line) continue;
      // Connect on first use, then keep the servers for the whole conversation.
      clients ??= await connectAgentClients(mcpConfig, { inheritEnv: !flags.config });
      const result = await runAgentRequest(line, {
        actor: who,
        planner,
        approve,
        clients,
        ...(flags.stack ? { stackRef: flags.stack } : {}),
        onEvent: renderer.onEvent,
      });
      process.stdout.write(`${renderer.summary(result)}\n`);
    }
  } finally {
    lines.close();
    await clients?.close?.();
  }
}

/**
 * Lines from stdin, queued: piped input arrives all at once, before anyone asks, and must not be
 * lost while a request runs. `next` shows a prompt and resolves with the next line (undefined at EOF).
 */
function readLines() {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const queued: string[] = [];
  const waiting: Array<(line: string | undefined) => void> = [];
  let ended = false;
  rl.on('line', (line) => {
    const wake = waiting.shift();
    if (wake) wake(line);
    else queued.push(line);
  });
  rl.on('close', () => {
    ended = true;
    for (const wake of waiting.splice(0)) wake(undefined);
  });
  return {
    next(prompt: string): Promise<string | undefined> {
      process.stderr.write(prompt);
      const line = queued.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (ended) return Promise.resolve(undefined);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: () => rl.close(),
  };
}
