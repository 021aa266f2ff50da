/**
 * An atomic deploy stopped during its prune (its crash-recovery record names the releases it
 * prunes), then a preview of one of those releases, then the deploy run again. The preview used to
 * go ahead past the stopped deploy, holding a release its prune names: the finish then took its own
 * record for a forgery (TAMPERED), and so did every deploy, rollback or abort after it, until the
 * preview expired (a day by default, up to seven). A preview now finishes the stopped change first,
 * as every atomic operation does, and then previews the release as asked.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import type { Site } from '../../src/site.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { APP, type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['f1f1f1f1f1f1f1f1', 'f2f2f2f2f2f2f2f2', 'f3f3f3f3f3f3f3f3'] as const;
let t: AtomicEnv;
let site: Site;

beforeAll(async () => {
  t = await startAtomicEnv({ propagationMs: 0, retain: 2, stack: 'prune-preview' });
  await t.publishVersions([V1, V2, V3]);
  site = await t.open({ releaseGraceMs: 0 });
  await deployArtifact(site, { app: APP, commit: V1, request: request() });
  await deployArtifact(site, { app: APP, commit: V2, request: request() });
});
afterAll(() => t?.stop());

const pending = async () => site.state.get(`${t.target.statePrefix}atomic/pending.json`);

it('a preview finishes a deploy stopped in its prune first; the deploy run again and a rollback then go through', async () => {
  // Stopped at the delete of the pruned release's index: the record already says what it prunes.
  const stopping = stoppingSite(site, (key, body) => body === undefined && key.includes('/atomic/releases/'));
  await expect(
    deployArtifact(stopping, { app: APP, commit: V3, request: request('deploy v3') }),
  ).rejects.toThrow();
  expect(JSON.parse((await pending())?.body.toString('utf8') ?? '{}').pruning).toHaveLength(1);

  const link = await previewLink(site, {
    app: APP,
    commit: V1,
    request: request('preview v1'),
    verify: false,
  });
  expect(link.url).toMatch(/^http/);
  expect(await pending()).toBeNull();

  const again = await deployArtifact(site, { app: APP, commit: V3, request: request('deploy v3 again') });
  expect(again.outcome).toBe('noop');
  const back = await rollbackRelease(site, { request: request('roll back') });
  expect(back.outcome).toBe('succeeded');
  expect(await verifyAudit(site.state, t.target.statePrefix)).toMatchObject({ ok: true, problems: [] });
});
