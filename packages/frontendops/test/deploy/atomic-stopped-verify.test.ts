/**
 * Genuine atomic operations stopped at one write, as a process killed there would be, then ordinary
 * commands: `audit verify` says at most unfinished, never tampered, and the next run clears it. A fuzz
 * of genuine flows found each of these read as written around the chain before:
 * - an operation stopped before its switch, then a command that is refused (PINNED, NOT_FOUND): the
 *   settle had dropped the stopped one's crash-recovery record before the command was refused, so
 *   the release index it wrote was excused by nothing;
 * - an operation stopped between its deployment record and the entry binding it (deploy, promote);
 * - a superseded operation recorded by the next one, stopped between that record and its entry: the
 *   record stayed unbound for good;
 * - the first operation on a stack, stopped between the live pointer and the entry vouching for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { abortCanary, promoteCanary, startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3'] as const;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function atomicEnv(stack: string): Promise<AtomicEnv> {
  const t = await startAtomicEnv({ stack });
  stops.push(() => t.stop());
  await t.publishVersions([V1, V2, V3]);
  return t;
}

/** What `audit verify` says, as "<kind>: <object>". */
const verdict = async (site: Site) =>
  (await verifyAudit(site.state, site.target.statePrefix)).problems.map(
    (p) => `${p.kind}: ${p.object ?? p.seq}`,
  );

/** The site with its release store's writes failing: a process stopped right before its switch. */
const stoppedBeforeSwitch = (site: Site): Site => {
  const releases = site.releases;
  if (!releases) throw new Error('an atomic site');
  return {
    ...site,
    releases: {
      read: () => releases.read(),
      previewSecret: () => releases.previewSecret(),
      anchorAuditHead: (head, etag) => releases.anchorAuditHead(head, etag),
      write: async () => {
        throw new Error('the process stopped before its switch');
      },
    },
  };
};
/** Whether a state write is the audit entry of `type`. */
const entryOf = (type: string) => (key: string, body?: unknown) =>
  /\/audit\/\d{10}\.json$/.test(key) && String(body).includes(`"type":"${type}"`);

describe('atomic operations stopped at one write, then ordinary commands', () => {
  it('stopped before its switch, then a command refused (PINNED, NOT_FOUND): unfinished, then recorded', async () => {
    const t = await atomicEnv('stopped-then-refused');
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    await expect(
      deployArtifact(stoppedBeforeSwitch(t.site), { app: APP, commit: V2, request: request() }),
    ).rejects.toThrow(/stopped/);
    await expect(abortCanary(t.site, { request: request() })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await verdict(t.site)).not.toContainEqual(expect.stringMatching(/^tampered/));
    await pinRelease(t.site, { request: request('pin') });
    await expect(deployArtifact(t.site, { app: APP, commit: V3, request: request() })).rejects.toMatchObject({
      code: 'PINNED',
    });
    expect(await verdict(t.site)).not.toContainEqual(expect.stringMatching(/^tampered/));
    // The next change that goes on records the stopped one as superseded: nothing is left.
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    expect(await verdict(t.site)).toEqual([]);
  });

  it('stopped between its deployment record and its entry (a deploy, a promote): unfinished, then bound', async () => {
    const t = await atomicEnv('stopped-at-record-entry');
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    await expect(
      deployArtifact(stoppingSite(t.site, entryOf('deploy')), { app: APP, commit: V2, request: request() }),
    ).rejects.toThrow(/stopped/);
    expect(await verdict(t.site)).not.toContainEqual(expect.stringMatching(/^tampered/));
    await deployArtifact(t.site, { app: APP, commit: V2, request: request() });
    expect(await verdict(t.site)).toEqual([]);

    await startCanary(t.site, { app: APP, commit: V3, weightPercent: 10, request: request() });
    await expect(
      promoteCanary(stoppingSite(t.site, entryOf('canary-promote')), { request: request() }),
    ).rejects.toThrow(/stopped/);
    expect(await verdict(t.site)).not.toContainEqual(expect.stringMatching(/^tampered/));
    await deployArtifact(t.site, { app: APP, commit: V3, request: request() });
    expect(await verdict(t.site)).toEqual([]);
  });

  it('a superseded operation recorded by the next one, stopped before that entry: recorded by the run after', async () => {
    const t = await atomicEnv('stopped-superseded-entry');
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    await expect(
      deployArtifact(stoppedBeforeSwitch(t.site), { app: APP, commit: V2, request: request() }),
    ).rejects.toThrow(/stopped/);
    await expect(
      deployArtifact(stoppingSite(t.site, entryOf('deploy-superseded')), {
        app: APP,
        commit: V3,
        request: request(),
      }),
    ).rejects.toThrow(/stopped/);
    expect(await verdict(t.site)).not.toContainEqual(expect.stringMatching(/^tampered/));
    await deployArtifact(t.site, { app: APP, commit: V3, request: request() });
    expect(await verdict(t.site)).toEqual([]);
    const superseded = (await readAudit(t.site.state, t.target.statePrefix)).filter(
      (e) => e.type === 'deploy-superseded',
    );
    expect(superseded.map((e) => e.data.commit)).toEqual([V2]);
  });

  it("the stack's first operation, stopped between the live pointer and its release entry: unfinished", async () => {
    const t = await atomicEnv('stopped-first-live');
    const live = `${t.target.statePrefix}live.json`;
    let wrote = false;
    const stopping = stoppingSite(t.site, (key, body) => {
      if (key === live) wrote = true;
      return wrote && entryOf('release')(key, body);
    });
    await expect(deployArtifact(stopping, { app: APP, commit: V1, request: request() })).rejects.toThrow(
      /stopped/,
    );
    expect(await verdict(t.site)).not.toContainEqual(expect.stringMatching(/^tampered/));
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
    expect(await verdict(t.site)).toEqual([]);
  });
});
