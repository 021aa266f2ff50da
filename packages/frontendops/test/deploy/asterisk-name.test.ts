/**
 * A file name inside the build is chosen by whoever can change the build's files. "*" is a character
 * a file name, an S3 key and a URL path may hold, and CloudFront's wildcard in an invalidation path.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { publishAsCi, requestBy, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';

const APP = 'sophia-dashboard';
const V1 = '1010101010';

let t: TestDeployEnv;
beforeAll(async () => {
  t = await startDeployEnv();
}, 60_000);
afterAll(() => t?.stop());

describe('a build file whose name holds "*"', () => {
  it('is deployed, and the CDN told of it by the wildcard that ends at its "*"', async () => {
    const build = await writeFixtureBuild(join(t.tmp, 'v1'), { version: 'v1' });
    await writeFile(join(build.dir, 'a*b.html'), '<p>v1</p>\n');
    await writeFile(join(build.dir, 'docs*'), 'v1\n');
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit: V1 });
    // Before, the release went live and the run then failed telling the CDN, leaving a stopped
    // change that every later run failed to finish the same way.
    const summary = await deployArtifact(t.site, { app: APP, commit: V1, request: requestBy('ship v1') });
    expect(summary.outcome).toBe('succeeded');
    // CloudFront's "*" is a wildcard only last: "/a*" covers "/a*b.html" (and more, never less).
    expect(summary.invalidation?.paths).toEqual(expect.arrayContaining(['/a*', '/docs*']));
    expect(t.cdn.invalidations().flatMap((i) => i.paths)).toEqual(expect.arrayContaining(['/a*', '/docs*']));
    expect((await t.site.hosting.get('a*b.html'))?.body.toString()).toBe('<p>v1</p>\n');
    expect(await verifyAudit(t.site.state, t.target.statePrefix)).toMatchObject({ ok: true });
  });
});
