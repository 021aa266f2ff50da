/**
 * The servers an MCP configuration names (`agent --config`) get the SDK's safe environment and their
 * own `env`, and are told when the agent runs in a GitHub Actions job: there the infra server counts
 * no client's answer as an approval (mcp/infra/approval-gate.ts), `agent --yes` included. Nothing
 * else the agent holds reaches them: not the job's OIDC request token, nor its cloud keys.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connectAgentClients, type McpConfig } from '../../src/agent/mcp-clients.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontendops-server-env-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A process that writes the environment it was started with to `file` and exits: no MCP server. */
const envWriter = (file: string, env: Record<string, string> = {}) => ({
  command: process.execPath,
  args: ['-e', `require('fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify(process.env))`],
  env,
});

it('a server from the configuration is told it runs in a GitHub Actions job, and given no secret of the job', async () => {
  const files = { infra: join(dir, 'infra.json'), git: join(dir, 'git.json') };
  // The configuration's own `env` cannot say the job is none.
  const config = {
    mcpServers: {
      infra: envWriter(files.infra, { GITHUB_ACTIONS: 'false', FRONTENDOPS_STACK_NOTE: 'kept' }),
      git: envWriter(files.git),
    },
  } as McpConfig;
  const job = {
    GITHUB_ACTIONS: 'true',
    ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.actions.example/',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'job-oidc-request-token',
    AWS_SECRET_ACCESS_KEY: 'job-aws-secret',
    GITHUB_TOKEN: 'job-github-token',
  };
  await expect(connectAgentClients(config, { stderr: 'ignore', env: job })).rejects.toThrow();
  for (const file of Object.values(files)) {
    const seen = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
    expect(seen.GITHUB_ACTIONS, file).toBe('true');
    for (const secret of Object.values(job).filter((v) => v !== 'true'))
      expect(Object.values(seen), file).not.toContain(secret);
  }
  expect(JSON.parse(await readFile(files.infra, 'utf8')).FRONTENDOPS_STACK_NOTE).toBe('kept');
});

it('outside a job, a server from the configuration is not told it runs in one', async () => {
  const files = { infra: join(dir, 'infra.json'), git: join(dir, 'git.json') };
  const config = { mcpServers: { infra: envWriter(files.infra), git: envWriter(files.git) } } as McpConfig;
  await expect(connectAgentClients(config, { stderr: 'ignore', env: {} })).rejects.toThrow();
  for (const file of Object.values(files)) {
    expect(JSON.parse(await readFile(file, 'utf8')).GITHUB_ACTIONS, file).toBeUndefined();
  }
});
