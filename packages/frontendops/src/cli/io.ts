import type { ConnectMcp } from '../agent/mcp-clients.ts';
import { escapeControlCharacters } from '../engine/text.ts';

/**
 * What a command may touch of the world: its output streams, input, environment variables, working
 * directory, and a signal to stop long-running commands. The real process gives one (processIo);
 * tests run the CLI in process with their own (runCli(argv, io)).
 */
export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface CliIo {
  stdout: Output;
  stderr: Output;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /**
   * The working directory. Before a command runs, the router (main.ts) sets it to the project root
   * found from there (or from -C <dir>): what commands read as "here" (cli/context.ts, actFromProjectRoot).
   */
  cwd: string;
  /** Resolves when a long-running command (dev, console, mcp over HTTP) should stop: Ctrl-C, SIGTERM. */
  untilStopped(): Promise<void>;
  /** Opens a URL for the person (--open); default: their browser. */
  openUrl?(url: string): Promise<void>;
  /**
   * How the request reached the CLI, recorded as the request's planner ("via …" in `status`):
   * "github-action" when the GitHub Action runs the command (github-action/run.ts); default "cli".
   */
  channel?: 'cli' | 'github-action';
  /**
   * How the agent (agent, chat, dev) connects to its MCP servers; default: connectAgentClients, which
   * spawns ours over stdio as `frontendops mcp infra|git`.
   */
  connectMcp?: ConnectMcp;
}

export function processIo(): CliIo {
  endQuietlyWhenTheReaderGoes(process.stdout);
  endQuietlyWhenTheReaderGoes(process.stderr);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    untilStopped: () =>
      new Promise((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }),
    openUrl: async (url) => {
      const { default: open } = await import('open');
      await open(url);
    },
  };
}

/**
 * Output piped into a reader that stops early (`frontendops history | head -1`): the next write fails
 * with EPIPE, which the stream reports as an 'error' event, and an 'error' event nobody listens to
 * ends the process with a stack trace. The reader has what it wanted: what the command writes there
 * from then on is dropped (the stream is closed), and the command ends as it would have, with its own
 * exit code, quietly. It is not cut short: a deploy whose output nobody reads still finishes rather
 * than stopping half-way. Any other stream error is thrown as before.
 */
function endQuietlyWhenTheReaderGoes(stream: NodeJS.WriteStream): void {
  if (quiet.has(stream)) return;
  quiet.add(stream);
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
const quiet = new WeakSet<NodeJS.WriteStream>();

/**
 * Text from outside (request words, commit subjects, tag messages, names) as a terminal may show it:
 * control characters other than newline and tab are escaped, so no text can move the cursor, erase
 * lines, set the title or write the clipboard (OSC 52).
 */
export const printable = escapeControlCharacters;

/** Writes lines meant for a person, made printable. */
export function say(out: Output, text = ''): void {
  out.write(`${printable(text)}\n`);
}
