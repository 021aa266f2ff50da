/**
 * An atomic deploy that stops between its write of live.json and the audit entry that binds it, as a
 * process killed or cut off there would, and is run again: the re-run appends that entry, and the
 * chain verifies. Before, the re-run found live.json already naming the deploy, skipped the write and
 * the entry both, and verify said "tampered: live.json" for good.
 */
import { expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { Site } from '../../src/site.ts';
import { readAudit, verifyAudit } from '../../src/state/audit.ts';
import { APP, deployedAtomicEnvFor, request } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
const env = deployedAtomicEnvFor({ propagationMs: 25, stack: 'atomic-release-entry' }, [V1, V2], 1);

/** The site as a process sees it that stops at its first write of a "release" audit entry. */
const stoppingAtReleaseEntry = (site: Site) =>
  stoppingSite(
    site,
    (key, body) => /\/audit\/\d{10}\.json$/.test(key) && /"type":"release"/.test(String(body)),
  );

it('a stop between live.json and its entry: the re-run appends the entry once, and the chain verifies', async () => {
  const t = env();
  await expect(
    deployArtifact(stoppingAtReleaseEntry(t.site), { app: APP, commit: V2, request: request() }),
  ).rejects.toThrow(/stopped/);
  expect((await t.site.records.readPointer())?.value.commit).toBe(V2);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(false);

  const again = await deployArtifact(t.site, { app: APP, commit: V2, request: request() });
  expect(again.commit).toBe(V2);
  expect((await verifyAudit(t.site.state, t.target.statePrefix)).problems).toEqual([]);
  const releases = (await readAudit(t.site.state, t.target.statePrefix)).filter(
    (e) => e.type === 'release' && e.data.commit === V2,
  );
  expect(releases).toHaveLength(1);
});
