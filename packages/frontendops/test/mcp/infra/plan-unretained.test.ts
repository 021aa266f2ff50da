/**
 * The infra server's plans name the releases a deploy stops retaining, as the CLI's plan does: a
 * list in the structured result, and the description says it once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP,
  COMMITS,
  deployThroughTools,
  type InfraClient,
  type InfraFixture,
  startConnectedInfra,
  stopConnectedInfra,
} from '../../support/mcp-infra.ts';

let f: InfraFixture;
let c: InfraClient;
const deployIds: string[] = [];

beforeAll(async () => {
  // Two releases retained: the third deploy leaves the first out.
  ({ f, c } = await startConnectedInfra((f) => ({ openSite: async () => ({ ...f.t.site, retain: 2 }) })));
  for (const commit of [COMMITS[0], COMMITS[1]]) deployIds.push(await deployThroughTools(c, commit));
});
afterAll(() => stopConnectedInfra(f, c));

describe('plans through the infra MCP server', () => {
  it('plan_deploy and get_deploy_target list the releases no longer retained, said once', async () => {
    const gone = [{ deployId: deployIds[0], app: APP, commit: COMMITS[0] }];
    for (const tool of ['plan_deploy', 'get_deploy_target']) {
      const plan = await c.call(tool, { commit: COMMITS[2] });
      expect(plan.isError, plan.text).toBe(false);
      expect(plan.structured.unretained).toEqual(gone);
      // The sentence (before the result's JSON) says it once.
      const sentence = plan.text.split('\n')[0] ?? '';
      expect(sentence.split('no longer retained')).toHaveLength(2);
      expect(sentence).toContain(`${COMMITS[0].slice(0, 7)} is no longer retained`);
    }
    // A plan that keeps every release lists none.
    const again = await c.call('plan_deploy', { commit: COMMITS[1] });
    expect(again.structured.unretained).toEqual([]);
  });
});
