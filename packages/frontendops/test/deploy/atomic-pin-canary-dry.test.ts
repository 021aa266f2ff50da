/**
 * An atomic stack pinned while a canary runs, then a deploy of another build: the run reads the pin
 * before it chooses what to make live (atomic-deploy.ts pinChecked) and is refused PINNED. Its dry
 * run (what `deploy --dry-run`, plan_deploy, get_deploy_target and the console's plan are made from)
 * must give the same refusal, not the canary's, which the run never reaches.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import { APP, type AtomicEnv, request, startDeployedAtomicEnv } from '../support/atomic-env.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;
let t: AtomicEnv;
beforeAll(async () => {
  t = await startDeployedAtomicEnv({ stack: 'pin-canary-dry' }, [V1, V2, V3], 1);
}, 180_000);
afterAll(async () => t?.stop());

it('a canary running, the stack pinned: a deploy of another build is refused PINNED by its dry run as by its run', async () => {
  await startCanary(t.site, { app: APP, commit: V2, weightPercent: 10, request: request() });
  await pinRelease(t.site, { request: request() });
  const deploy = (dryRun: boolean) =>
    deployArtifact(t.site, { app: APP, commit: V3, request: request(), dryRun }).then(
      () => null,
      (error: { code?: string; message?: string }) => error,
    );
  const dry = await deploy(true);
  const run = await deploy(false);
  expect(run?.code, run?.message).toBe('PINNED');
  // Before, the dry run said the canary's refusal (CONFLICT), which the run never reaches.
  expect(dry?.code, dry?.message).toBe('PINNED');
  expect(dry?.message).toBe(run?.message?.replace(/ \(This run .*$/, ''));
});
