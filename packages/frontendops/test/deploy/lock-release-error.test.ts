/**
 * A change that fails and whose lock's release then fails too (its last audit head move refused, the
 * lock's store unreachable) says its own failure: the one the operator acts on. Before, the release's
 * error replaced it: an approver's refusal read as an audit conflict. The release's failure is added
 * to the message in our own words; a backend's words (buckets, endpoints) stay out.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { FrontendOpsError, withCleanup } from '../../src/errors.ts';
import type { Locker } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { connectSite } from '../../src/stacks/open.ts';
import { APP, request } from '../support/atomic-env.ts';
import { HOSTING, publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';

const [V1, V2] = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'] as const;
const denied = () => Promise.reject(new FrontendOpsError('DENIED', 'Ada declined this deploy.'));

describe('withCleanup', () => {
  it('returns the work’s value once the cleanup ran, once', async () => {
    let cleanups = 0;
    expect(
      await withCleanup(
        async () => 7,
        async () => void cleanups++,
        'Tidying',
      ),
    ).toBe(7);
    expect(cleanups).toBe(1);
  });

  it('throws the cleanup’s own error when only the cleanup failed', async () => {
    const failed = new FrontendOpsError('CONFLICT', 'The head moved.');
    await expect(
      withCleanup(
        async () => 7,
        () => Promise.reject(failed),
        'Tidying',
      ),
    ).rejects.toBe(failed);
  });

  it('leaves the work’s error object as it was: one kept and thrown again gathers no sentences', async () => {
    class Changed extends FrontendOpsError {
      constructor(readonly plan: string) {
        super('CONFLICT', 'The plan changed.', { details: { plan } });
      }
    }
    const kept = new Changed('d-2');
    const failing = () => Promise.reject(new FrontendOpsError('CONFLICT', 'The head moved.'));
    for (const _ of [1, 2]) {
      const thrown = await withCleanup(() => Promise.reject(kept), failing, 'Tidying').catch(
        (e: unknown) => e,
      );
      expect(thrown).toBeInstanceOf(Changed);
      expect(thrown).toMatchObject({
        code: 'CONFLICT',
        plan: 'd-2',
        details: { plan: 'd-2' },
        message: 'The plan changed. Tidying failed too: The head moved.',
      });
    }
    expect(kept.message).toBe('The plan changed.');
  });

  it('says it in the stack’s first line too, and keeps the cleanup’s error beside it, for the log', async () => {
    const head = new FrontendOpsError('CONFLICT', 'The head moved.');
    const thrown = (await withCleanup(
      () => Promise.reject(new FrontendOpsError('DENIED', 'Ada declined.')),
      () => Promise.reject(head),
      'Tidying',
    ).catch((e: unknown) => e)) as FrontendOpsError & { suppressed: unknown };
    expect(thrown.stack?.split('\n')[0]).toBe(
      'FrontendOpsError: Ada declined. Tidying failed too: The head moved.',
    );
    expect(thrown.stack?.split('\n')[1]).toMatch(/^ +at /);
    expect(thrown.suppressed).toBe(head);
  });

  it('throws an error that is not ours (a bug, an abort) as it is', async () => {
    const aborted = new DOMException('The operation was aborted.', 'AbortError');
    const thrown = await withCleanup(
      () => Promise.reject(aborted),
      () => Promise.reject(new FrontendOpsError('CONFLICT', 'The head moved.')),
      'Tidying',
    ).catch((e: unknown) => e);
    expect(thrown).toBe(aborted);
    expect(aborted.message).toBe('The operation was aborted.');
  });

  it('throws what the work threw, as it was, when a cleanup that is not an Error failed', async () => {
    await expect(
      withCleanup(
        () => Promise.reject('plain'),
        () => Promise.reject(42),
        'Tidying',
      ),
    ).rejects.toBe('plain');
  });
});

describe('a deploy whose lock’s release fails after the deploy failed', () => {
  let t: TestDeployEnv;
  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'lock-release-error' });
    await publishFixtureBuilds(t, APP, [V1, V2]);
    await deployArtifact(t.site, { app: APP, commit: V1, request: request() });
  });
  afterAll(() => t?.stop());

  /** The stack as another process opens it, whose locks' releases let the lock go, then fail with `failure`. */
  const withFailingRelease = async (failure: Error) => {
    const site: Site = await connectSite(t.target, {
      access: { credentials: t.s3.credentials, cdnEndpoint: t.cdn.endpoint },
      lockDir: join(t.tmp, 'locks'),
      onNotice: () => undefined,
    });
    const { acquire } = site.locker;
    const locker: Locker = {
      acquire: async (...args) => {
        const lock = await acquire(...args);
        return {
          ...lock,
          release: async () => {
            await lock.release();
            throw failure;
          },
        };
      },
    };
    site.locker = locker;
    return site;
  };

  it('says the refusal, then that letting the lock go failed too, in that error’s words; nothing changed', async () => {
    const site = await withFailingRelease(
      new FrontendOpsError('CONFLICT', 'The audit head was rewritten while this change appended.'),
    );
    try {
      await expect(
        deployArtifact(site, { app: APP, commit: V2, request: request(), authorize: denied }),
      ).rejects.toMatchObject({
        code: 'DENIED',
        message:
          'Ada declined this deploy. Letting the lock go failed too: The audit head was rewritten while this change appended.',
      });
      expect((await t.site.records.readPointer())?.value.commit).toBe(V1);
    } finally {
      site.close();
    }
  });

  it('names a backend failure of the release by its code only, never its words', async () => {
    const backend = new Error(`Bucket ${HOSTING} at http://127.0.0.1 is slow`);
    backend.name = 'SlowDown';
    const site = await withFailingRelease(
      new FrontendOpsError('UPSTREAM', backend.message, { cause: backend }),
    );
    try {
      const error = await deployArtifact(site, {
        app: APP,
        commit: V2,
        request: request(),
        authorize: denied,
      }).catch((e: FrontendOpsError) => e);
      expect(error).toMatchObject({
        code: 'DENIED',
        message: 'Ada declined this deploy. Letting the lock go failed too, on a backend error (SlowDown).',
      });
    } finally {
      site.close();
    }
  });

  it('throws the release’s failure when the deploy itself went through', async () => {
    const site = await withFailingRelease(new FrontendOpsError('CONFLICT', 'The head moved.'));
    try {
      // Deploying the live release again changes nothing; only the release fails.
      await expect(deployArtifact(site, { app: APP, commit: V1, request: request() })).rejects.toMatchObject({
        code: 'CONFLICT',
        message: 'The head moved.',
      });
    } finally {
      site.close();
    }
  });
});
