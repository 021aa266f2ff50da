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
  cwd: string;
  /** Resolves when a long-running command (dev, console, mcp over HTTP) should stop: Ctrl-C, SIGTERM. */
  untilStopped(): Promise<void>;
  /** Opens a URL for the person (--open); default: their browser. */
  openUrl?(url: string): Promise<void>;
}

export function processIo(): CliIo {
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
 * Text from outside (request words, commit subjects, tag messages, names) as a terminal may show it:
 * control characters other than newline and tab are escaped, so no text can move the cursor, erase
 * lines, set the title or write the clipboard (OSC 52).
 */
export const printable = escapeControlCharacters;

/** Writes lines meant for a person, made printable. */
export function say(out: Output, text = ''): void {
  out.write(`${printable(text)}\n`);
}
