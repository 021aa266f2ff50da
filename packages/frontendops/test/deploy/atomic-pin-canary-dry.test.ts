/**
 * An atomic stack pinned while a canary runs, then a deploy of another build: the run reads the pin
 * before it chooses what to make live (atomic-deploy.ts pinChecked) and is refused PINNED. Its dry
 * run (what `deploy --dry-run`, plan_deploy, get_deploy_target and the console's plan are made from)
 * must give the same refusal, not the canary's, which the run never reaches. So with a canary start
 * stopped after its switch, then a pin: the run finishes the canary start, then is refused PINNED,
 * and its CLI dry run says so (canaries exist on atomic stacks only: there is no in-place case).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCanary } from '../../src/deploy/canary.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease } from '../../src/deploy/pin.ts';
import { readAudit } from '../../src/state/audit.ts';
import {
  APP,
  type AtomicEnv,
  request,
  startDeployedAtomicEnv,
  storedAtomicPending,
} from '../support/atomic-env.ts';
import { type AtomicSnapshot, snapshotAtomicEnv } from '../support/atomic-snapshot.ts';
import { cli } from '../support/run-cli.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;
let t: AtomicEnv;
/** V1 live, as each case starts. */
let start: AtomicSnapshot;
beforeAll(async () => {
  t = await startDeployedAtomicEnv({ stack: 'pin-canary-dry' }, [V1, V2, V3], 1);
  start = await snapshotAtomicEnv(t);
}, 180_000);
afterAll(async () => t?.stop());

it('a canary running, the stack pinned: a deploy of another build is refused PINNED by its dry run as by its run', async () => {
  await start.restore();
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

it('a canary start stopped after its switch, then a pin, then a deploy of another build: its dry run says what its run does', async () => {
  await start.restore();
  // The canary start of V2 stops at its record, after its switch; the stack is then pinned to V1.
  const stopping = stoppingSite(t.site, (key) => /\/deployments\/[^/]+\.json$/.test(key));
  await expect(
    startCanary(stopping, { app: APP, commit: V2, weightPercent: 10, request: request() }),
  ).rejects.toThrow(/stopped/);
  const pending = await storedAtomicPending(t.site);
  expect(pending).toMatchObject({ op: 'canary-start', switched: true });
  const stopped = pending.plan.deployId;
  await pinRelease(t.site, { request: request() });
  const env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'rm-alice' };
  const outputs = await t.writeOutputs();
  const run = (argv: string[]) => cli([...argv, '--stack', outputs], { env, cwd: t.tmp });
  const argv = ['deploy', '--commit', V3];
  const pinned = new RegExp(`is pinned to ${APP}@${V1.slice(0, 7)} `);
  const finish = `canary start ${stopped} of ${APP}@${V2.slice(0, 7)}`;

  // The run finishes the canary start (its settle), then reads the pin and is refused: its dry run
  // says that refusal, with the finish it comes after, not the canary's, which the run never reaches.
  const dry = await run([...argv, '--dry-run']);
  expect(dry.code, dry.stdout).toBe(2);
  expect(dry.stderr).toMatch(pinned);
  expect(dry.stderr).toContain(`(This run would first finish ${finish} on `);
  expect(dry.stderr).not.toMatch(/Promote it or abort it first/);
  const json = JSON.parse((await run([...argv, '--dry-run', '--json'])).stdout);
  expect(json.error).toMatchObject({ code: 'PINNED' });
  expect(json.error.message).toContain(`(This run would first finish ${finish} on `);
  expect((await readAudit(t.site.state, t.target.statePrefix)).at(-1)?.type).toBe('pin');

  const real = await run(argv);
  expect(real.code, real.stdout).toBe(2);
  expect(real.stderr).toMatch(pinned);
  expect(real.stderr).toContain(
    `(This run finished the interrupted canary start ${stopped}, which had made it live`,
  );
  expect(real.stderr).not.toMatch(/Promote it or abort it first/);
  // The same refusal, before what each says of the finish.
  const refusal = (text: string) => /^error: (.*?) \(This run /m.exec(text)?.[1];
  expect(refusal(dry.stderr)).toMatch(pinned);
  expect(refusal(real.stderr)).toBe(refusal(dry.stderr));
});
