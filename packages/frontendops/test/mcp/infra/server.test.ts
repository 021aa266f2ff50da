import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolsOf } from '../../../src/contract/tools.ts';
import { loadReceiptKey, verifyReceipt } from '../../../src/mcp/receipts.ts';
import { readAuditHead, verifyAudit } from '../../../src/state/audit.ts';
import type { BucketSnapshot } from '../../support/bucket-snapshot.ts';
import { HOSTING, STACK } from '../../support/deploy-env.ts';
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
/** The stack as the cases start from it: nothing deployed; C0 live; C1 live over C0. */
let nothingDeployed: BucketSnapshot;
let c0Live: BucketSnapshot;
let c1Live: BucketSnapshot;

beforeAll(async () => {
  ({ f, c } = await startConnectedInfra());
  nothingDeployed = await f.snapshot();
  await deployThroughTools(c, COMMITS[0]);
  c0Live = await f.snapshot();
  await deployThroughTools(c, COMMITS[1]);
  c1Live = await f.snapshot();
});
afterAll(() => stopConnectedInfra(f, c));

const hostingKeys = async () => (await f.t.s3.store(HOSTING).list()).map((o) => o.key).sort();

describe('infra MCP server through a real MCP client (in-memory transport)', () => {
  it('lists the tools with schemas and annotations true to what they do', async () => {
    const { tools } = await c.client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual([
      'abort_canary',
      'get_deploy_target',
      'get_history',
      'get_status',
      'invalidate_cdn',
      'pin_release',
      'plan_deploy',
      'preview_release',
      'promote_canary',
      'promote_release',
      'record_request',
      'rollback',
      'run_sync',
      'start_canary',
      'unpin_release',
    ]);
    for (const name of ['pin_release', 'unpin_release']) {
      expect(byName[name]?.annotations).toMatchObject({
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
      });
    }
    expect(byName.promote_release?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.record_request?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    for (const name of ['get_deploy_target', 'plan_deploy', 'get_status', 'get_history']) {
      expect(byName[name]?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
    expect(byName.run_sync?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
    });
    expect(byName.invalidate_cdn?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
    });
    expect(byName.rollback?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
    });
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(100);
      expect(tool.outputSchema?.type).toBe('object');
    }
    // The seed's three steps are plain in the descriptions.
    expect(byName.get_deploy_target?.description).toMatch(/^Step 1 of the deploy/);
    expect(byName.run_sync?.description).toMatch(/^Step 2 of the deploy.*invalidate_cdn/s);
    expect(byName.invalidate_cdn?.description).toMatch(/^Step 3 of the deploy/);
    expect(byName.get_deploy_target?.inputSchema.required).toEqual(['commit']);
    expect(byName.run_sync?.inputSchema.required).toEqual(['handle']);
  });

  it("the server's instructions name every change a protected stack asks a person to approve", async () => {
    // What a client's model is told up front: a tool it is not told needs an approval (a promote, a
    // canary), or a way past a rollback's pin a protected stack refuses (unpin_release), is false.
    const said = c.client.getInstructions() ?? '';
    const approved = toolsOf('infra').filter((tool) => tool.approval);
    expect(approved.length).toBeGreaterThan(2);
    const sentence = /Protected stacks need a human approval for ([^.]*)\./.exec(said)?.[1] ?? '';
    for (const tool of approved) expect(sentence, tool.name).toContain(tool.name);
    expect(said).toMatch(
      /unpin_release[^.]*(?:refused|not) on a protected stack|on an unprotected stack[^.]*unpin_release/,
    );
  });

  it('the input schemas are listed as the contract declares them', async () => {
    const { tools } = await c.client.listTools();
    const { TOOLS } = await import('../../../src/contract/tools.ts');
    const { toJSONSchema } = await import('zod');
    for (const tool of tools) {
      const contract = TOOLS[tool.name as keyof typeof TOOLS];
      const declared = toJSONSchema(contract.input, { target: 'draft-2020-12', io: 'input' });
      expect(tool.inputSchema, tool.name).toMatchObject({ ...declared, $schema: expect.anything() });
    }
  });

  it('wrong arguments: which argument, what was expected, and to call again with it fixed', async () => {
    await nothingDeployed.restore();
    const sha = await c.call('plan_deploy', { commit: 'not-a-sha' });
    expect(sha.isError).toBe(true);
    expect(sha.text).toBe(
      'BAD_INPUT: Invalid arguments for plan_deploy — the argument "commit": expected a commit sha: 7 to 64 lower-case hex digits, e.g. "3f2c1a9". Nothing was changed; call plan_deploy again with "commit" fixed.',
    );
    const missing = await c.call('get_deploy_target', {});
    expect(missing.text).toMatch(
      /^BAD_INPUT: Invalid arguments for get_deploy_target — the argument "commit": .*expected string.*\. Nothing was changed; call get_deploy_target again with "commit" fixed\.$/,
    );
    const extra = await c.call('plan_deploy', { commit: COMMITS[0], force: true });
    expect(extra.text).toBe(
      'BAD_INPUT: Invalid arguments for plan_deploy — "force" is not an argument of plan_deploy: expected only the arguments its input schema lists. Nothing was changed; call plan_deploy again without "force".',
    );
    expect(await hostingKeys()).toEqual([]);
  });

  it('get_status before the first deploy: nothing live', async () => {
    await nothingDeployed.restore();
    const status = await c.call('get_status');
    expect(status.isError).toBe(false);
    expect(status.structured).toMatchObject({
      stack: STACK,
      live: null,
      releases: [],
      pending: null,
      protected: false,
    });
  });

  it('plan_deploy is a dry run without a handle and changes nothing', async () => {
    await nothingDeployed.restore();
    const plan = await c.call('plan_deploy', { commit: COMMITS[0] });
    expect(plan.isError).toBe(false);
    const files = Object.keys(f.builds[0]?.files ?? {}).length;
    expect(plan.structured).toMatchObject({
      stack: STACK,
      app: APP,
      commit: COMMITS[0],
      filesToCopy: files,
      noop: false,
      protected: false,
      description: `deploy ${APP}@1111111 to ${STACK}: ${files} files to copy, 4 paths to invalidate`,
    });
    expect(plan.structured.handle).toBeUndefined();
    expect(await hostingKeys()).toEqual([]);
  });

  it('deploys in the three seed steps: get_deploy_target → run_sync → invalidate_cdn', async () => {
    await nothingDeployed.restore();
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    expect(target.isError).toBe(false);
    const handle = target.structured.handle as string;
    expect(handle).toMatch(/^fo1\./);
    expect(target.structured).toMatchObject({
      approvalRequired: false,
      filesToCopy: 8,
      invalidationPaths: ['/', '/favicon.ico', '/index.html', '/robots.txt'],
    });
    expect(Date.parse(target.structured.expiresAt as string)).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(await hostingKeys()).toEqual([]); // planning changed nothing
    // The CDN double keeps every request of the file: this case counts from its own start.
    const start = f.t.cdn.mark();
    const sent = () => f.t.cdn.createRequests(start).length;

    const sync = await c.call('run_sync', {
      handle,
      request: 'Deploy the latest dashboard',
      planner: 'runbook',
    });
    expect(sync.isError).toBe(false);
    expect(sync.structured).toMatchObject({
      deployId: target.structured.deployId,
      outcome: 'synced',
      copied: 8,
      pruned: 0,
      approvedBy: null,
    });
    // The site's files, and the marker saying which environment this bucket is.
    expect(await hostingKeys()).toEqual(
      [
        ...Object.keys(f.builds[0]?.files ?? {}).map((p) => p.slice(1)),
        '.frontendops/environment.json',
      ].sort(),
    );
    expect(sent()).toBe(0); // not yet: step 3 invalidates

    const status = await c.call('get_status');
    expect(status.structured).toMatchObject({
      live: { deployId: sync.structured.deployId },
      pending: { deployId: sync.structured.deployId, pointerMoved: true },
    });

    const inv = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
    expect(inv.isError).toBe(false);
    expect(inv.structured).toMatchObject({
      deployId: sync.structured.deployId,
      outcome: 'succeeded',
      paths: ['/', '/favicon.ico', '/index.html', '/robots.txt'],
      verification: null,
    });
    expect(inv.structured.invalidationIds).toHaveLength(1);
    // Its receipt vouches for exactly this deployment, for the git server's create_deploy_tag.
    const head = inv.structured.auditHead as { seq: number; hash: string };
    expect(verifyReceipt(await loadReceiptKey(), String(inv.structured.receipt))).toEqual({
      stack: inv.structured.stack,
      deployId: sync.structured.deployId,
      commit: inv.structured.commit,
      artifactDigest: inv.structured.artifactDigest,
      auditHead: `${head.seq}:${head.hash}`,
    });
    expect(sent()).toBe(1);

    // Both steps are idempotent: nothing moves or is sent again.
    const again = await c.call('run_sync', { handle });
    expect(again.structured).toMatchObject({
      deployId: sync.structured.deployId,
      outcome: 'noop',
      copied: 0,
    });
    const invAgain = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
    expect(invAgain.structured.invalidationIds).toEqual(inv.structured.invalidationIds);
    expect(sent()).toBe(1);

    const history = await c.call('get_history');
    expect(history.structured.deployments).toEqual([
      expect.objectContaining({
        deployId: sync.structured.deployId,
        kind: 'deploy',
        commit: COMMITS[0],
        outcome: 'succeeded',
        copied: 8,
        request: expect.objectContaining({
          text: 'Deploy the latest dashboard',
          actor: 'infra-test (MCP)',
          planner: 'runbook',
        }),
      }),
    ]);
    const audit = await verifyAudit(f.t.site.state, f.t.site.target.statePrefix);
    expect(audit.ok).toBe(true);
    expect(audit.entries).toBe(3); // the environment marked, the release going live, its record
  });

  it('a target for the live build is a noop: run_sync copies nothing', async () => {
    await c0Live.restore();
    const target = await c.call('get_deploy_target', { commit: COMMITS[0] });
    expect(target.structured).toMatchObject({ noop: true, filesToCopy: 0, approvalRequired: false });
    expect(target.structured.description).toBe(`${APP}@1111111 is already live on ${STACK}: nothing to do`);
    // Said as it is: the app's name in its own case, and no "Next: run_sync" for nothing to do.
    expect(target.text).toMatch(
      new RegExp(`^${APP}@1111111 is already live on ${STACK}: nothing to do\\. No run_sync is needed`),
    );
    expect(target.text).not.toMatch(/Next: run_sync/);
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({ outcome: 'noop', copied: 0 });
  });

  it('an incremental deploy copies only the changed files', async () => {
    await c0Live.restore();
    const target = await c.call('get_deploy_target', { commit: COMMITS[1] });
    expect(target.structured).toMatchObject({
      filesToCopy: 3,
      unchanged: 5,
      toPrune: 0,
      invalidationPaths: ['/', '/index.html'],
    });
    const sync = await c.call('run_sync', { handle: target.structured.handle });
    expect(sync.structured).toMatchObject({ outcome: 'synced', copied: 3, unchanged: 5 });
    const inv = await c.call('invalidate_cdn', { deployId: sync.structured.deployId });
    expect(inv.structured).toMatchObject({ paths: ['/', '/index.html'], outcome: 'succeeded' });
  });

  it('rollback returns to the previous release and invalidates in one call', async () => {
    await c1Live.restore();
    const status = await c.call('get_status');
    expect((status.structured.releases as unknown[]).length).toBe(2);
    const back = await c.call('rollback', { request: 'Roll back the dashboard' });
    expect(back.isError).toBe(false);
    expect(back.structured).toMatchObject({
      stack: STACK,
      commit: COMMITS[0],
      fromCommit: COMMITS[1],
      outcome: 'succeeded',
      copied: 1, // index.html: the old assets were retained
      paths: ['/', '/index.html'],
      approvedBy: null,
    });
    const after = await c.call('get_status');
    expect(after.structured).toMatchObject({
      live: { commit: COMMITS[0], deployId: back.structured.deployId },
      pending: null,
    });
    const history = await c.call('get_history', { limit: 1 });
    expect(history.structured.deployments).toEqual([
      expect.objectContaining({
        kind: 'rollback',
        commit: COMMITS[0],
        request: expect.objectContaining({ text: 'Roll back the dashboard' }),
      }),
    ]);
    // Its receipt vouches for the rollback; a promote of what is already live moves nothing and
    // vouches for nothing (a client could otherwise tag a deployment that never happened).
    expect(verifyReceipt(await loadReceiptKey(), String(back.structured.receipt))).toMatchObject({
      deployId: back.structured.deployId,
    });
    const again = await c.call('promote_release', { to: COMMITS[0] });
    expect(again.isError, again.text).toBe(false);
    expect(again.structured).toMatchObject({ outcome: 'noop', receipt: null });
  });

  it('bad arguments and unknown things are isError results that say what to do, and change nothing', async () => {
    const before = await hostingKeys();
    const badCommit = await c.call('get_deploy_target', { commit: 'main; rm -rf /' });
    expect(badCommit.isError).toBe(true);
    expect(badCommit.text).toMatch(
      /the argument "commit": expected a commit sha: 7 to 64 lower-case hex digits/,
    );
    const pathStack = await c.call('get_status', { stack: '../../etc/outputs.json' });
    expect(pathStack.isError).toBe(true);
    expect(pathStack.text).toMatch(/stack name/);
    const unpublished = await c.call('get_deploy_target', { commit: 'f'.repeat(40) });
    expect(unpublished.isError).toBe(true);
    expect(unpublished.text).toMatch(/NOT_FOUND: No build of sophia-dashboard is published for commit f{40}/);
    const badId = await c.call('invalidate_cdn', { deployId: 'x' });
    expect(badId.isError).toBe(true);
    expect(badId.text).toMatch(/deploy id as the infra server returns them/);
    const unknownId = await c.call('invalidate_cdn', { deployId: '1234567-0123456789' });
    expect(unknownId.isError).toBe(true);
    expect(unknownId.text).toMatch(/NOT_FOUND: Deployment 1234567-0123456789/);
    const garbage = await c.call('run_sync', { handle: 'not-a-handle' });
    expect(garbage.isError).toBe(true);
    expect(garbage.text).toMatch(/BAD_INPUT: The handle is malformed.*get_deploy_target/);
    // A release is a deploy id or a commit: either wrong says both are expected, not "Invalid input".
    for (const [tool, args] of [
      ['rollback', { to: 'main' }],
      ['pin_release', { to: 'x' }],
      ['promote_release', { to: 'v1.4.2', reason: 'ship it' }],
    ] as const) {
      const refused = await c.call(tool, args);
      expect(refused.isError, tool).toBe(true);
      expect(refused.text).toMatch(
        /the argument "to": expected a deploy id \(e\.g\. "3f2c1a9-0123456789"\) or a commit sha/,
      );
    }
    for (const r of [badCommit, unpublished, badId, garbage]) expect(r.text).not.toMatch(/\n\s+at /);
    expect(await hostingKeys()).toEqual(before);
  });

  it('record_request records printable words only: control and format characters are refused, nothing appended', async () => {
    const head = () => readAuditHead(f.t.site.state, f.t.target.statePrefix);
    const entry = {
      request: 'what is live?',
      planner: 'runbook',
      intent: 'status',
      outcome: 'answered',
      message: 'Live: v3',
      dryRun: false,
      calls: [{ tool: 'get_status', status: 'ok', summary: 'v3 is live' }],
    };
    const before = await head();
    for (const [field, bad] of [
      ['message', { message: 'Live: v3\u001b[2J\u0007' }],
      ['intent', { intent: 'status\u202e' }],
      ['calls.0.summary', { calls: [{ tool: 'get_status', status: 'ok', summary: 'v3 \u200b is live' }] }],
      ['tag', { tag: 'dashboard-deploy-1\u0000' }],
    ] as const) {
      const refused = await c.call('record_request', { ...entry, ...bad });
      expect(refused.isError, field).toBe(true);
      expect(refused.text).toMatch(new RegExp(`${field.replace(/\./g, '\\.')}.*no other control characters`));
    }
    expect(await head()).toEqual(before);
    expect((await c.call('record_request', entry)).isError).toBe(false);
  });
});
