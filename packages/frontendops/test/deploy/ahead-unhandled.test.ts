/**
 * Work a deploy sends ahead is settled whatever stops the run: a dry run stopped before it awaits the
 * records of its build (the LIST failed, as when the bucket went away under a console's request)
 * leaves no rejection unhandled, which in a long-lived process (the console, an MCP server) would
 * surface after the call returned.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { createStateRecords } from '../../src/state/records.ts';
import { requestBy, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';

let t: TestDeployEnv;
beforeAll(async () => {
  t = await startDeployEnv();
});
afterAll(() => t?.stop());

it('a dry run whose records cannot be listed rejects, and leaves no rejection unhandled', async () => {
  const unhandled: unknown[] = [];
  const seen = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', seen);
  try {
    const state: ObjectStore = {
      ...t.site.state,
      list: async () => {
        throw new Error('the bucket went away');
      },
    };
    const site: Site = { ...t.site, state, records: createStateRecords(state, t.site.target.statePrefix) };
    await expect(
      deployArtifact(site, {
        app: 'sophia-dashboard',
        commit: 'abcdef0123456789abcdef0123456789abcdef01',
        dryRun: true,
        request: requestBy('deploy'),
      }),
    ).rejects.toThrow();
    // Node says a rejection is unhandled once the microtasks after it have run.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', seen);
  }
  expect(unhandled).toEqual([]);
});
