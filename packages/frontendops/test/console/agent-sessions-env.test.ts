/**
 * The console's agent sessions (console/agent-sessions.ts) open stacks from the environment the
 * console was given, as its stack list does: a stack whose backend is `env:NAME`, NAME set there and
 * not in the process's, is opened from the console's. The secret variables its servers hide from
 * answers are that environment's too. The process's environment is never changed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config.ts';
import { createAgentSessions } from '../../src/console/agent-sessions.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fo-console-env-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it("a stack's `env:` backend is read from the console's environment, not the process's", async () => {
  const name = 'FRONTENDOPS_CONSOLE_STATE_URL';
  expect(process.env[name]).toBeUndefined();
  const config = {
    ...defaultConfig(),
    stacks: { staging: { backend: `env:${name}`, project: 'sophia' } },
  } as Parameters<typeof createAgentSessions>[0]['config'];
  const sessions = createAgentSessions({
    config,
    cwd: dir,
    env: { [name]: `file://${join(dir, 'pulumi-state')}` },
    git: null,
    planner: 'runbook',
  });
  try {
    const result = await sessions.agent('status', {
      actor: 'alice (console)',
      stack: 'staging',
      approve: async () => ({ approved: false, by: 'nobody', via: 'test' }),
      onEvent: () => undefined,
    });
    // Opened from the console's environment: its backend was read (no such stack there), and the
    // variable is never said to be unset.
    expect(result.calls.map((c) => c.tool)).toEqual(['get_status']);
    expect(result.message).not.toMatch(/is not set/);
    expect(result.message).toMatch(/^Stack staging does not exist in the file Pulumi backend/);
  } finally {
    await sessions.close();
  }
});

it("the agent's servers hide the console's environment's secrets from their answers, not the process's", async () => {
  // A secret of the console's environment planted where an answer quotes the configuration: the
  // stack's name, which the refusal of a stack its backend does not hold names.
  const name = 'FRONTENDOPS_CONSOLE_STATE_URL';
  const token = 'pul-0123456789abcdef0123456789abcdef';
  expect(process.env.PULUMI_ACCESS_TOKEN).not.toBe(token);
  const config = {
    ...defaultConfig(),
    stacks: { [token]: { backend: `env:${name}`, project: 'sophia' } },
  } as Parameters<typeof createAgentSessions>[0]['config'];
  const sessions = createAgentSessions({
    config,
    cwd: dir,
    env: { [name]: `file://${join(dir, 'pulumi-state')}`, PULUMI_ACCESS_TOKEN: token },
    git: null,
    planner: 'runbook',
  });
  try {
    const result = await sessions.agent('status', {
      actor: 'alice (console)',
      stack: token,
      approve: async () => ({ approved: false, by: 'nobody', via: 'test' }),
      onEvent: () => undefined,
    });
    expect(result.calls.map((c) => c.tool)).toEqual(['get_status']);
    expect(result.message).toMatch(/^Stack \[hidden\] does not exist in the file Pulumi backend/);
    expect(JSON.stringify(result)).not.toContain(token);
  } finally {
    await sessions.close();
  }
});
