import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AgentResult } from '../../src/agent/types.ts';
import { createRenderer, formatSummary } from '../../src/cli/render.ts';

function capture(tty: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY: tty, columns: 100 });
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { stream, text: () => text };
}

const call = (tool: string, status: 'ok' | 'refused' = 'ok') => ({
  tool,
  args: { stack: 'dashboard-hosting-prod' },
  status,
  summary: `${tool} done`,
  durationMs: 12,
});

const result: AgentResult = {
  request: 'Deploy the latest dashboard',
  actor: 'ada',
  planner: 'runbook',
  intent: 'deploy',
  outcome: 'succeeded',
  message: 'Deployed sophia-dashboard 3f2c1a9 to dashboard-hosting-prod as 3f2c1a9-0123456789.',
  calls: [],
  dryRun: false,
  deployId: '3f2c1a9-0123456789',
  commit: '3f2c1a9d4e5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c',
  tag: 'dashboard-deploy-20261125-1',
  filesChanged: 6,
  invalidationIds: ['I1'],
  siteUrl: 'https://sophia.example.com/',
  auditSeq: 7,
};

describe('terminal rendering', () => {
  it('prints each step as a line when stderr is not a terminal', () => {
    const out = capture(false);
    const r = createRenderer(out.stream);
    r.onEvent({
      type: 'intent',
      planner: 'runbook',
      intent: 'deploy',
      description: 'deploy the latest dashboard commit',
    });
    r.onEvent({ type: 'call', tool: 'run_sync', args: { handle: `fo1.${'x'.repeat(80)}` } });
    r.onEvent({
      type: 'approval',
      request: { action: 'deploy', stack: 'dashboard-hosting-prod', summary: 'sync a to b' },
      decision: { approved: true, by: 'ada', via: '--yes' },
    });
    r.onEvent({ type: 'result', call: call('run_sync') });
    r.onEvent({ type: 'result', call: call('exec_shell', 'refused') });
    expect(out.text()).toBe(
      [
        '→ deploy the latest dashboard commit (planner: runbook)',
        '… run_sync (handle=fo1.xxxxxxxxxxxxxxxxxxxx…)',
        '✔ approved: sync a to b — ada via --yes',
        '✓ run_sync  run_sync done (12 ms)',
        '⛔ exec_shell  exec_shell done',
        '',
      ].join('\n'),
    );
  });

  it('shows a progress bar on a terminal while the server reports progress', () => {
    const out = capture(true);
    const r = createRenderer(out.stream);
    r.onEvent({ type: 'call', tool: 'run_sync', args: {} });
    r.onEvent({ type: 'progress', tool: 'run_sync', progress: 3, total: 10, message: 'copying' });
    r.onEvent({ type: 'result', call: call('run_sync') });
    expect(out.text()).toMatch(/run_sync \[.*\] 3\/10 copying/);
    expect(out.text()).toMatch(/✓ run_sync/);
  });

  it('the summary adds the facts its message does not already say', () => {
    const text = formatSummary(result);
    expect(text.split('\n')[0]).toBe('✔ SUCCEEDED');
    expect(text).toContain('tag: dashboard-deploy-20261125-1');
    expect(text).toContain('site: https://sophia.example.com/');
    expect(text).toContain('invalidation: I1');
    expect(text).not.toContain('deploy: 3f2c1a9-0123456789'); // already in the message
    expect(text).toContain('audit entry #7');
  });
});
