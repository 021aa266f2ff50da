/**
 * `frontendops status` and `audit verify` on an atomic stack (an outputs file naming the release
 * store): an interrupted atomic deploy is shown, in words and in `--json`'s `pending`; a release
 * store changed outside FrontendOps is said prominently, status exits 1 as verify does, and verify
 * names the store, and so does the console's audit badge. The library side is
 * test/read/status-served.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createConsoleService } from '../../src/console/service.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { ReleaseStore } from '../../src/ports.ts';
import { appendAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { cli } from '../support/run-cli.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
let t: AtomicEnv;
let outputs: string;
let v1Release: string;
let v2Release: string;
/** The stack as every case starts from it: V1 deployed, then V2, as recorded. */
let v2Live: AtomicSnapshot;

beforeAll(async () => {
  t = await startAtomicEnv({ stack: 'status-served-cli' });
  for (const [commit, version] of [
    [V1, 'v1'],
    [V2, 'v2'],
    [V3, 'v3'],
  ] as const)
    await t.publish(commit, version);
  v1Release = (
    (await deployArtifact(t.site, { app: APP, commit: V1, request: request() })) as { releaseId?: string }
  ).releaseId as string;
  v2Release = (
    (await deployArtifact(t.site, { app: APP, commit: V2, request: request() })) as { releaseId?: string }
  ).releaseId as string;
  outputs = await t.writeOutputs();
  v2Live = await snapshotAtomicEnv(t);
});
afterAll(() => t?.stop());

const run = (argv: string[]) => cli([...argv, '--stack', outputs], { env: t.cliEnv(), cwd: t.tmp });

describe('frontendops status on an atomic stack', () => {
  it('as recorded: exit 0, nothing to warn about', async () => {
    await v2Live.restore();
    const text = await run(['status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/sophia-dashboard@b2b2b2b live since/);
    expect(text.stdout).not.toMatch(/WARNING/);
    const json = await run(['status', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).served).toMatchObject({ state: 'as-recorded', live: { commit: V2 } });
  });

  it('a store changed outside FrontendOps: said first, exit 1; verify names the store; a redeploy puts it back', async () => {
    await v2Live.restore();
    const store = t.store();
    await store.write({ live: v1Release }, (await store.read()).etag);

    const text = await run(['status']);
    expect(text.code).toBe(1);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/sophia-dashboard@b2b2b2b live since/);
    expect(lines[1]).toMatch(/^ {2}WARNING: not what visitors get: The CDN serves sophia-dashboard@a1a1a1a/);
    expect(text.stdout).toMatch(/changed outside FrontendOps/);
    expect(text.stdout).toMatch(/frontendops deploy --commit b2b2b2b/);
    const json = await run(['status', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).served).toMatchObject({
      state: 'changed-outside',
      live: { releaseId: v1Release, commit: V1 },
    });

    // `canary status` says it too, and exits 1 as status does.
    const canary = await run(['canary', 'status']);
    expect(canary.code).toBe(1);
    expect(canary.stdout).toMatch(
      /^ {2}WARNING: not what visitors get: The CDN serves sophia-dashboard@a1a1a1a/m,
    );
    expect(JSON.parse((await run(['canary', 'status', '--json'])).stdout).served).toMatchObject({
      state: 'changed-outside',
    });

    const verify = await run(['audit', 'verify']);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/does NOT verify/);
    expect(verify.stdout).toMatch(
      new RegExp(
        `tampered \\(KeyValueStore key frontendops-release\\): the CDN's release store .*names release ${v1Release}`,
      ),
    );
    const verifyJson = JSON.parse((await run(['audit', 'verify', '--json'])).stdout);
    expect(verifyJson.problems).toEqual([expect.objectContaining({ kind: 'tampered' })]);
    // The console's audit badge checks what the CDN serves as `audit verify` does.
    const console = createConsoleService({
      config: await loadConfig(t.tmp, {}),
      stacks: [t.site.target.stack],
      openSite: async () => t.site,
    });
    expect(await console.audit(t.site.target.stack)).toMatchObject({
      ok: false,
      problem: { kind: 'tampered', object: 'KeyValueStore key frontendops-release' },
    });

    const redeploy = await run(['deploy', '--commit', V2, '--json']);
    expect(redeploy.code, redeploy.stderr).toBe(0);
    expect(JSON.parse(redeploy.stdout).drift).toEqual({ live: v1Release });
    const after = await run(['status']);
    expect([after.code, /WARNING/.test(after.stdout)]).toEqual([0, false]);
    expect((await run(['audit', 'verify'])).code).toBe(0);
    expect((await store.read()).value).toEqual({ live: v2Release });
  });

  it('an interrupted atomic deploy is shown, and --json has it in pending', async () => {
    await v2Live.restore();
    const stopped = stoppingSite(t.site, (key) => key.includes('/atomic/releases/'));
    await expect(
      deployArtifact(stopped, { app: APP, commit: V3, request: request('ship v3') }),
    ).rejects.toThrow(/stopped/);

    const text = await run(['status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /interrupted deploy c3c3c3c-\S+ of sophia-dashboard@c3c3c3c, started .*: it did not go live; run it again to finish it \(`frontendops deploy --commit c3c3c3c`\)/,
    );
    const json = await run(['status', '--json']);
    expect(JSON.parse(json.stdout).pending).toMatchObject({
      op: 'deploy',
      commit: V3,
      pointerMoved: false,
    });

    const again = await run(['deploy', '--commit', V3, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse((await run(['status', '--json'])).stdout).pending).toBeNull();
  });

  it("what verify could not check is said by the console's badge as by the CLI's notes", async () => {
    await v2Live.restore();
    // A record of an approval on a client's word, which this stack's configuration does not accept,
    // and a release store that does not answer: neither fails verify, both are said.
    await appendAudit(t.site.state, t.site.target.statePrefix, t.site.locker, {
      type: 'approval-used',
      data: {
        deployId: '1234567-0123456789',
        action: 'deploy',
        by: 'someone',
        via: 'elicitation',
        stack: t.site.target.stack,
      },
    });
    const unreachable = {
      ...t.site,
      releases: {
        ...(t.site.releases as ReleaseStore),
        read: () => Promise.reject(new Error('connect ECONNREFUSED')),
      },
    };
    const console = createConsoleService({
      config: await loadConfig(t.tmp, {}),
      stacks: [t.site.target.stack],
      openSite: async () => unreachable,
    });
    const audit = await console.audit(t.site.target.stack);
    expect(audit).toMatchObject({ ok: true });
    expect(audit.notes).toEqual([
      expect.stringMatching(/^entry \d+, an approval, was not checked: .*on an MCP client's answer/),
      "the CDN's release store could not be read (connect ECONNREFUSED): what it serves was not checked against the chain",
    ]);
    const verified = await run(['audit', 'verify']);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`note: ${audit.notes[0]}`);
  });
});
