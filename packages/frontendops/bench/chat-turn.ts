/**
 * `node scripts/run-ts.js bench/chat-turn.ts [--turns <n>]`: how long one read-only chat turn
 * ("what's live?") takes in the console, wired as `frontendops console` wires it
 * (startConsoleWithAgent), against the embedded S3 server, the CloudFront double and a temporary git
 * repository. Prints each turn's wall time (POST /api/chat to its answer), the first (which
 * connects), and the median of the others. Not part of `npm test`.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startConsoleWithAgent } from '../src/cli/commands/console.ts';
import { defaultConfig } from '../src/config.ts';
import { deployArtifact } from '../src/deploy/deploy.ts';
import { publishArtifact } from '../src/deploy/publish.ts';
import { startDeployEnv } from '../test/support/deploy-env.ts';
import { writeFixtureBuild } from '../test/support/fixture-build.ts';
import { createTestRepo } from '../test/support/git-repo.ts';

const turns = Number(parseArgs({ options: { turns: { type: 'string' } } }).values.turns ?? 6);
const t = await startDeployEnv();
const repo = await createTestRepo();
const build = await writeFixtureBuild(join(t.tmp, 'v1'), { version: 'v1' });
const commit = repo.commits.dashboard1;
await publishArtifact(t.site.artifacts, { dir: build.dir, app: 'sophia-dashboard', commit });
await deployArtifact(t.site, {
  app: 'sophia-dashboard',
  commit,
  request: { text: 'bench', actor: 'bench', planner: 'cli', at: new Date().toISOString() },
});
const outputs = await t.writeOutputs({ cdn: true });
Object.assign(process.env, t.cliEnv(), { AWS_REGION: 'us-east-1', FRONTENDOPS_MODEL: '' });
const served = await startConsoleWithAgent(
  {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: { ...process.env },
    cwd: repo.dir,
    untilStopped: () => new Promise(() => {}),
  },
  defaultConfig(),
  [outputs],
);
const headers = { authorization: `Bearer ${served.token}`, 'content-type': 'application/json' };
const session = (await (await fetch(`${served.url}api/session`, { headers })).json()) as { stacks: string[] };
const times: number[] = [];
for (let i = 0; i < turns; i++) {
  const started = performance.now();
  const res = await fetch(`${served.url}api/chat`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ text: "what's live?", stack: session.stacks[0] }),
  });
  const reply = (await res.json()) as { answer?: string; message?: string };
  times.push(performance.now() - started);
  console.log(
    `turn ${i + 1}: ${times.at(-1)?.toFixed(0)} ms  (${res.status}) ${(reply.answer ?? reply.message ?? '').slice(0, 60)}`,
  );
}
const rest = times.slice(1).sort((a, b) => a - b);
console.log(
  `first turn ${times[0]?.toFixed(0)} ms; then median ${rest[Math.floor(rest.length / 2)]?.toFixed(0)} ms, max ${rest.at(-1)?.toFixed(0)} ms`,
);
await served.close();
await repo.cleanup();
await t.stop();
process.exit(0);
