/**
 * GitHub's runner reads every line a step prints (stdout and stderr; a line ends at CR, LF or CRLF)
 * as a possible workflow command: `::name props::data` after leading whitespace, and the older
 * `##[name props]data` anywhere in a line (actions/runner, ActionCommand.TryParseV2 / TryParse).
 * A command can set outputs and state, stop command processing, add annotations. The action prints
 * text from outside (inputs, error messages naming them, what the CLI prints about a release): none
 * of it may become a command. Only the action's own annotations are commands, written on purpose.
 */
import type { Output } from '../cli/io.ts';
import { escapeControlCharacters, escapeOnOneLine } from '../engine/text.ts';

/**
 * Whitespace the runner trims before looking for "::" (.NET Char.IsWhiteSpace: JavaScript's \s and
 * NEL, U+0085; U+180E, once a space, to be safe).
 */
const COMMAND_START = /^([\s\u0085\u180e]*):(?=:)/;

/**
 * One line (no CR or LF in it) that the runner reads as text: a leading "::" becomes "\::", and
 * every "##[" becomes "##\[". Anything else is left as it is.
 */
export const asLogText = (line: string): string =>
  line.replace(COMMAND_START, '$1\\:').replaceAll('##[', '##\\[');

/** `text` (any number of lines) with no line the runner would read as a workflow command. */
export const withoutWorkflowCommands = (text: string): string =>
  text
    .split(/(\r\n|\r|\n)/)
    .map((part, i) => (i % 2 === 0 ? asLogText(part) : part))
    .join('');

/**
 * An output that writes whole lines, each made log text (asLogText): what the runner reads from it
 * is never a workflow command, however the text is cut into chunks. `flush` writes a last line
 * without its end.
 */
export function commandSafeOutput(out: Output): Output & { flush(): void } {
  let pending = '';
  return {
    ...(out.isTTY === undefined ? {} : { isTTY: out.isTTY }),
    write(chunk: string) {
      pending += chunk;
      const end = Math.max(pending.lastIndexOf('\n'), pending.lastIndexOf('\r'));
      if (end < 0) return true;
      out.write(withoutWorkflowCommands(pending.slice(0, end + 1)));
      pending = pending.slice(end + 1);
      return true;
    },
    flush() {
      if (pending) out.write(withoutWorkflowCommands(pending));
      pending = '';
    },
  };
}

/**
 * The data of a workflow command the action writes (`::error title=…::<data>`): on one line, "%",
 * CR and LF escaped as GitHub documents, every other control character escaped (\uXXXX) so the log
 * shows it rather than acts on it.
 */
export const workflowCommandData = (value: string): string =>
  escapeControlCharacters(value.replace(/%/g, '%25').replace(/\r/g, '%0D')).replace(/\n/g, '%0A');

/**
 * A command line as one line of the log, as bash would read it back: plain words as they are, others
 * in single quotes, and words with a line break or another control character in $'…' with the
 * character escaped; of an --option=value, the value.
 */
export const commandLineText = (argv: readonly string[]): string =>
  argv
    .map((arg) => {
      const option = /^(--[a-z][a-z-]*=)([\s\S]*)$/.exec(arg);
      return option ? `${option[1]}${shellQuote(option[2] as string)}` : shellQuote(arg);
    })
    .join(' ');

function shellQuote(arg: string): string {
  if (/^[\w./:@=+,-]+$/.test(arg)) return arg;
  if (!/[\p{Cc}\p{Cf}\u2028\u2029\ud800-\udfff]/u.test(arg)) return `'${arg.replace(/'/g, "'\\''")}'`;
  const escaped = escapeOnOneLine(arg.replace(/\\/g, '\\\\').replace(/'/g, "\\'"));
  return `$'${escaped}'`;
}
