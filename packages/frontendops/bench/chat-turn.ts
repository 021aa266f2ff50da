/**
 * Section `chat` of `npm run bench` (`-- --only chat [--turns 6]`): how long one read-only chat turn
 * ("what's live?") takes in the console, wired as `frontendops console` wires it
 * (startConsoleWithAgent), against the embedded S3 server, the CloudFront double and a temporary git
 * repository. Each turn's wall time (POST /api/chat to its answer), the first (which connects), and
 * the median of the others. With no model configured (FRONTENDOPS_MODEL empty) the console answers
 * from its own tools, so no network is used.
 */
import { join } from 'node:path';
import { startConsoleWithAgent } from '../src/cli/commands/console.ts';
import { defaultConfig } from '../src/config.ts';
import { deployArtifact } from '../src/deploy/deploy.ts';
import { publishAsCi, startDeployEnv } from '../test/support/deploy-env.ts';
import { writeFixtureBuild } from '../test/support/fixture-build.ts';
import { createTestRepo } from '../test/support/git-repo.ts';
import { markdownTable, median } from './report.ts';

export interface ChatTurnResult {
  turns: Array<{ ms: number; status: number; answer: string }>;
  firstMs: number;
  /** Median of the turns after the first. */
  medianMs: number;
  maxMs: number;
}

export async function runChatTurns(turns: number): Promise<ChatTurnResult> {
  const t = await startDeployEnv();
  const repo = await createTestRepo();
  // The console reads these from process.env (its SDK clients, the model choice): put back after.
  const saved = { ...process.env };
  try {
    const build = await writeFixtureBuild(join(t.tmp, 'v1'), { version: 'v1' });
    const commit = repo.commits.dashboard1;
    await publishAsCi(t.site, { dir: build.dir, app: 'sophia-dashboard', commit });
    await deployArtifact(t.site, {
      app: 'sophia-dashboard',
      commit,
      request: { text: 'bench', actor: 'bench', planner: 'cli', at: new Date().toISOString() },
    });
    const outputs = await t.writeOutputs({ cdn: true });
    Object.assign(process.env, t.cliEnv(), { AWS_REGION: 'us-east-1', FRONTENDOPS_MODEL: '' });
    const served = await startConsoleWithAgent(
      {
        stdout: process.stderr,
        stderr: process.stderr,
        stdin: process.stdin,
        env: { ...process.env },
        cwd: repo.dir,
        untilStopped: () => new Promise(() => {}),
      },
      defaultConfig(),
      [outputs],
    );
    try {
      const headers = { authorization: `Bearer ${served.token}`, 'content-type': 'application/json' };
      const session = (await (await fetch(`${served.url}api/session`, { headers })).json()) as {
        stacks: string[];
      };
      const done: ChatTurnResult['turns'] = [];
      for (let i = 0; i < turns; i++) {
        const started = performance.now();
        const res = await fetch(`${served.url}api/chat`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ text: "what's live?", stack: session.stacks[0] }),
        });
        const reply = (await res.json()) as { answer?: string; message?: string };
        const ms = performance.now() - started;
        done.push({ ms, status: res.status, answer: (reply.answer ?? reply.message ?? '').slice(0, 60) });
        log(`  chat: turn ${i + 1}: ${ms.toFixed(0)} ms (${res.status})`);
        if (res.status !== 200)
          throw new Error(`chat turn ${i + 1} answered ${res.status}: ${reply.message}`);
      }
      const rest = done.slice(1).map((turn) => turn.ms);
      return {
        turns: done,
        firstMs: done[0]?.ms ?? 0,
        medianMs: rest.length ? median(rest) : (done[0]?.ms ?? 0),
        maxMs: Math.max(0, ...rest),
      };
    } finally {
      await served.close();
    }
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    await repo.cleanup();
    await t.stop();
  }
}

export function formatChatTurns(r: ChatTurnResult): string {
  return [
    markdownTable(
      ['turn', 'wall', 'status', 'answer (start)'],
      r.turns.map((turn, i) => [String(i + 1), `${turn.ms.toFixed(0)} ms`, String(turn.status), turn.answer]),
    ),
    `first turn ${r.firstMs.toFixed(0)} ms (connects); then median ${r.medianMs.toFixed(0)} ms, max ${r.maxMs.toFixed(0)} ms.`,
  ].join('\n');
}

const log = (line: string) => console.error(line);
