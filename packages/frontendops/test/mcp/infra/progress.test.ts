/** run_sync reports its copy progress as MCP progress notifications (the agent's progress bar). */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  COMMITS,
  type InfraClient,
  type InfraFixture,
  startConnectedInfra,
  stopConnectedInfra,
} from '../../support/mcp-infra.ts';

let f: InfraFixture;
let c: InfraClient;
beforeAll(async () => {
  ({ f, c } = await startConnectedInfra());
});
afterAll(() => stopConnectedInfra(f, c));

it('sends progress notifications up to the number of files copied when the client asks', async () => {
  const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
  const handle = target.structured.handle as string;
  const updates: Array<{ progress: number; total?: number; message?: string }> = [];
  const result = await c.client.callTool(
    { name: 'run_sync', arguments: { handle } },
    { onprogress: (p) => updates.push(p) },
  );
  expect(result.isError).not.toBe(true);
  const copied = (result.structuredContent as { copied: number }).copied;
  expect(copied).toBeGreaterThan(0);
  expect(updates.length).toBeGreaterThan(0);
  expect(updates.at(-1)).toMatchObject({ progress: copied, total: copied });
  expect(updates.map((u) => u.progress)).toEqual([...updates.map((u) => u.progress)].sort((a, b) => a - b));
});
