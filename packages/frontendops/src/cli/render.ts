/**
 * How a person follows a request in a terminal: the intent, each tool call as it starts and ends,
 * approvals, a progress bar while the server reports progress (MCP progress notifications), the
 * model's words as they stream, and a final summary. Everything goes to one writable (stderr for
 * `agent`, so stdout stays for --json), plain text when it is not a TTY.
 */
import cliProgress from 'cli-progress';
import type { AgentEvent, AgentResult, ToolCallRecord } from '../agent/types.ts';
import { type Output, printable } from './io.ts';

export interface Renderer {
  onEvent(event: AgentEvent): void;
  /** Stops the spinner line (before a prompt takes the terminal). */
  pause(): void;
  /**
   * A line from elsewhere (a server's note), between the renderer's own lines; each note once: once
   * per renderer, or, given `told` (what one request was told so far), once per that request.
   */
  line(text: string, told?: Set<string>): void;
  /** The closing summary block. */
  summary(result: AgentResult): string;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createRenderer(out: Output): Renderer {
  const tty = Boolean(out.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let streaming = false;
  let spinner: NodeJS.Timeout | null = null;
  const notes = new Set<string>();
  // Without progress notifications from the server, a terminal still sees a long call is alive.
  const spin = (tool: string) => {
    if (!tty) return;
    const started = Date.now();
    let frame = 0;
    spinner = setInterval(() => {
      if (bar) return;
      frame = (frame + 1) % SPINNER.length;
      out.write(`\r${SPINNER[frame]} ${tool} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }, 100);
  };
  const stopSpinner = () => {
    if (!spinner) return;
    clearInterval(spinner);
    spinner = null;
    out.write('\r\x1b[2K');
  };
  const write = (line: string) => {
    stopSpinner();
    if (streaming) {
      out.write('\n');
      streaming = false;
    }
    out.write(`${printable(line)}\n`);
  };
  const stopBar = () => {
    bar?.stop();
    bar = null;
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case 'intent':
          write(`→ ${event.description} (planner: ${event.planner})`);
          break;
        case 'call':
          write(`… ${event.tool} ${formatArgs(event.args)}`);
          spin(event.tool);
          break;
        case 'progress':
          if (!bar && event.total) {
            stopSpinner();
            bar = new cliProgress.SingleBar(
              {
                stream: out as NodeJS.WritableStream,
                format: `  ${event.tool} [{bar}] {value}/{total} {message}`,
                noTTYOutput: !tty,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(event.total, 0, { message: '' });
          }
          if (bar) bar.update(event.progress, { message: event.message ?? '' });
          else write(`  ${event.tool}: ${event.message ?? event.progress}`);
          break;
        case 'result':
          stopBar();
          write(formatResult(event.call));
          break;
        case 'approval':
          write(
            `${event.decision.approved ? '✔ approved' : '✘ not approved'}: ${event.request.summary} — ${event.decision.by} via ${event.decision.via}`,
          );
          break;
        case 'text':
          out.write(printable(event.text));
          streaming = true;
          break;
        case 'plan-step':
        case 'done':
          stopSpinner();
          stopBar();
          break;
      }
    },
    pause: stopSpinner,
    line(text, told) {
      if (/^note: /.test(text)) {
        const seen = told ?? notes;
        if (seen.has(text)) return;
        seen.add(text);
      }
      write(text);
    },
    summary: (result) => printable(formatSummary(result)),
  };
}

export function formatSummary(result: AgentResult): string {
  const lines = [
    `${OUTCOME_MARK[result.outcome]} ${result.outcome.toUpperCase()}${result.dryRun ? ' (dry run)' : ''}`,
  ];
  lines.push(...result.message.split('\n').map((l) => `  ${l}`));
  const facts: Array<[string, string | undefined]> = [
    ['commit', result.commit],
    ['deploy', result.deployId],
    ['tag', result.tag],
    ['files changed', result.filesChanged?.toString()],
    ['invalidation', result.invalidationIds?.join(', ') || undefined],
    ['site', result.siteUrl],
  ];
  const shown = facts.filter(([, value]) => value && !result.message.includes(value));
  for (const [label, value] of shown) lines.push(`  ${label}: ${value}`);
  if (result.auditSeq !== undefined) lines.push(`  audit entry #${result.auditSeq}`);
  if (result.auditError) lines.push(`  warning: ${result.auditError}`);
  return lines.join('\n');
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

const OUTCOME_MARK: Record<AgentResult['outcome'], string> = {
  succeeded: '✔',
  noop: '✔',
  answered: '✔',
  planned: '•',
  refused: '✘',
  declined: '✘',
  failed: '✘',
};

const STATUS_MARK: Record<ToolCallRecord['status'], string> = {
  ok: '✓',
  error: '✗',
  refused: '⛔',
  skipped: '○',
};

function formatResult(call: ToolCallRecord): string {
  const time = call.status === 'ok' || call.status === 'error' ? ` (${call.durationMs} ms)` : '';
  const args = call.status === 'skipped' ? ` ${formatArgs(call.args)}` : '';
  return `${STATUS_MARK[call.status]} ${call.tool}${args}  ${call.summary}${time}`;
}

function formatArgs(args: Record<string, unknown>): string {
  const parts = Object.entries(args)
    .filter(([key]) => key !== 'request' && key !== 'requestedBy' && key !== 'planner')
    .map(([key, value]) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      return `${key}=${text.length > 28 ? `${text.slice(0, 24)}…` : text}`;
    });
  return parts.length ? `(${parts.join(', ')})` : '';
}
