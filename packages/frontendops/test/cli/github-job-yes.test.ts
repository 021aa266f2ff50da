/**
 * In a GitHub Actions job, `--yes` on a protected stack whose configuration names the environment
 * that approves its jobs (`approval.github`) is that environment's approval: it covers only the
 * actions `approval.github.actions` lists, as it does for the agent's changes through the infra
 * server. The GitHub Action's `command: promote` (the CLI's `promote --yes`) made an older release
 * live for everyone and cleared a person's pin where the policy covers deploys only.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readAudit } from '../../src/state/audit.ts';
import { APPROVALS_USED } from '../../src/state/names.ts';
import { readPin } from '../../src/state/pin.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { publishFixtureBuilds, STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const [V1, V2] = ['1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'];
const request = { text: 'deploy', actor: 'ci', planner: 'cli', at: new Date().toISOString() };
let t: TestDeployEnv;
let env: Record<string, string>;
let outputs: string;
/**
 * The stack as the cases start from it: V2 live; pinned by an operator; V1 promoted by the operator;
 * V2 deployed again by a job, whose approval the audit log then records (trust on first use).
 */
let v2Live: BucketSnapshot;
let pinned: BucketSnapshot;
let v1Promoted: BucketSnapshot;
let jobDeployed: BucketSnapshot;
/** The job that deploys: its --yes is the approval of the environment the configuration names. */
const JOB = { GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '1', GITHUB_ACTOR: 'octo' };

/** A configuration protecting the stack, approved by the GitHub job `github` names (none: no job). */
async function writeConfig(
  name: string,
  github?: { repository: string; environment: string; actions: string[] },
  /** The rest of the approval policy: approvers, trustElicitation. */
  rest: Record<string, unknown> = {},
) {
  const file = join(t.tmp, name);
  await writeFile(
    file,
    JSON.stringify({ protected: [STACK], ...(github ? { approval: { github, ...rest } } : {}) }),
  );
  return file;
}

beforeAll(async () => {
  t = await startDeployEnv({}, { protected: true });
  await publishFixtureBuilds(t, APP, [V1, V2]);
  await deployArtifact(t.site, { app: APP, commit: V1, request });
  await deployArtifact(t.site, { app: APP, commit: V2, request });
  outputs = await t.writeOutputs({ cdn: true });
  const config = await writeConfig('frontendops.config.json', {
    repository: 'acme/dashboard',
    environment: STACK,
    actions: ['deploy'],
  });
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_CONFIG: config, FRONTENDOPS_ACTOR: 'octo' };
  v2Live = await snapshotStack(t.site);
  const step = async (argv: string[], extra: Record<string, string>) => {
    const result = await run(argv, extra);
    expect(result.code, result.stderr).toBe(0);
    return snapshotStack(t.site);
  };
  pinned = await step(['pin', '--message', 'freeze: v2 only'], {});
  v1Promoted = await step(['promote', V1.slice(0, 7), '--yes', '--no-tag'], { GITHUB_ACTIONS: '' });
  jobDeployed = await step(['deploy', '--commit', V2, '--yes', '--no-tag'], JOB);
});
afterAll(() => t?.stop());

const live = async () => (await t.site.records.readPointer())?.value.commit;
function run(argv: string[], extra: Record<string, string> = {}) {
  return cli([...argv, '--stack', outputs], { env: { ...env, ...extra }, cwd: t.tmp });
}

describe('--yes in a GitHub Actions job approved to deploy only', () => {
  it('promote and rollback are refused (APPROVAL_REQUIRED, exit 2), the pin kept; nothing changes', async () => {
    await v2Live.restore();
    const pinned = await run(['pin', '--message', 'freeze: v2 only']);
    expect(pinned.code, pinned.stderr).toBe(0);
    // Each first says the change it would make, in its plan's words.
    for (const [argv, change] of [
      [['promote', V1.slice(0, 7), '--yes'], `Promote: deploy ${APP}@1111111 to ${STACK} (live: 2222222): `],
      [['rollback', '--yes'], `Roll back ${STACK} to ${APP}@1111111 (live: 2222222): `],
    ] as const) {
      const refused = await run([...argv], { GITHUB_ACTIONS: 'true' });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(`error: ${change}`);
      expect(refused.stderr).toMatch(
        /in a GitHub Actions job, --yes is the approval of the "dashboard-hosting-prod" environment's reviewers, which covers deploy \(approval\.github\.actions\), not (promote|rollback)\. Nothing was changed\. Add "(promote|rollback)" to approval\.github\.actions/,
      );
      expect(await live()).toBe(V2);
      expect(await readPin(t.site)).toMatchObject({ cause: 'pin', commit: V2 });
    }
  });

  it('unpin, after which its deploys go past an operator’s pin, is refused unless the job is approved to promote', async () => {
    await pinned.restore();
    const refused = await run(['unpin', '--message', 'lift the freeze'], JOB);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /dashboard-hosting-prod is a protected environment: in a GitHub Actions job, unpin lifts the pin, after which the job's deploys can make any release live, an older one included, as a promote does; the "dashboard-hosting-prod" environment's reviewers approve deploy \(approval\.github\.actions\), not promote\. Nothing was changed\. Add "promote" to approval\.github\.actions of dashboard-hosting-prod in frontendops\.config\.json, or unpin from a terminal: `frontendops unpin --stack dashboard-hosting-prod`\./,
    );
    expect(await readPin(t.site)).toMatchObject({ cause: 'pin', commit: V2 });
    const past = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], JOB);
    expect(past.code, past.stderr).toBe(2);
    expect(await live()).toBe(V2);
    // A job its environment approves to promote may lift the pin: a promote would, in one step.
    const promotes = await writeConfig('unpin-promote.json', {
      repository: 'acme/dashboard',
      environment: STACK,
      actions: ['deploy', 'promote'],
    });
    const lifted = await run(['unpin'], { ...JOB, FRONTENDOPS_CONFIG: promotes });
    expect(lifted.code, lifted.stderr).toBe(0);
    expect(await readPin(t.site)).toBeNull();
  });

  it('a promote of the live release, which only lifts the pin, is refused as unpin is unless the job is approved to promote', async () => {
    await pinned.restore();
    const refused = await run(['promote', V2.slice(0, 7), '--yes', '--no-tag'], JOB);
    expect(refused.code, refused.stderr).toBe(2);
    // What the change is (not "nothing to do": the pin would go), why it is refused, what to do.
    expect(refused.stderr).toContain(
      `error: Promote: ${APP}@2222222 is already live on ${STACK}: no file changes; the pin (2222222, by octo) would be cleared. ` +
        `${STACK} is a protected environment: in a GitHub Actions job, --yes is the approval of the "${STACK}" environment's reviewers, which covers deploy (approval.github.actions), not promote. ` +
        `Nothing was changed. Add "promote" to approval.github.actions of ${STACK} in frontendops.config.json, or run it from a terminal.`,
    );
    expect(refused.stderr).not.toMatch(/nothing to do/);
    expect(await readPin(t.site)).toMatchObject({ cause: 'pin', commit: V2 });
    expect(await live()).toBe(V2);
    const promotes = await writeConfig('noop-promote.json', {
      repository: 'acme/dashboard',
      environment: STACK,
      actions: ['deploy', 'promote'],
    });
    const lifted = await run(['promote', V2.slice(0, 7), '--yes', '--no-tag'], {
      ...JOB,
      FRONTENDOPS_CONFIG: promotes,
    });
    expect(lifted.code, lifted.stderr).toBe(0);
    expect(await readPin(t.site)).toBeNull();
  });

  it('the same --yes from an operator outside a job goes through: the terminal is theirs', async () => {
    await pinned.restore();
    // Not in a job, even where this suite itself runs in GitHub Actions.
    const promoted = await run(['promote', V1.slice(0, 7), '--yes', '--no-tag'], { GITHUB_ACTIONS: '' });
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(await live()).toBe(V1);
    expect(await readPin(t.site)).toBeNull();
  });

  it('a promote that would change nothing is no change to approve: it says so in the job too', async () => {
    await v1Promoted.restore();
    const noop = await run(['promote', V1.slice(0, 7), '--yes', '--no-tag'], { GITHUB_ACTIONS: 'true' });
    expect(noop.code, noop.stderr).toBe(0);
    expect(noop.stdout).toMatch(/already live/);
  });

  it('a deploy, which the policy covers, goes through in the job', async () => {
    await v1Promoted.restore();
    const deployed = await run(['deploy', '--commit', V2, '--yes', '--no-tag'], JOB);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(await live()).toBe(V2);
    // The job's yes records the policy it counted under, as every approval's use does: trust on first use.
    const entries = await readAudit(t.site.state, t.site.target.statePrefix);
    const used = entries.filter((entry) => entry.type === 'approval-used').at(-1);
    expect(used?.data).toMatchObject({
      via: 'github-environment',
      by: expect.stringMatching(
        /^GitHub environment "dashboard-hosting-prod" of acme\/dashboard \(run 7 attempt 1, started by octo\)/,
      ),
      policy: { github: { repository: 'acme/dashboard', environment: STACK, actions: ['deploy'] } },
    });
    const change = entries.filter((entry) => entry.type === 'deploy').at(-1);
    expect(change?.data.approval).toMatchObject({ via: 'github-environment' });
    expect(await run(['audit', 'verify'])).toMatchObject({ code: 0 });
  });

  it('not covered, as it is: a deploy of an older commit’s build, which the policy covers, makes it live', async () => {
    await jobDeployed.restore();
    const deployed = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], {
      ...JOB,
      GITHUB_RUN_ID: '8',
    });
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(await live()).toBe(V1);
    const change = (await readAudit(t.site.state, t.site.target.statePrefix)).at(-1);
    expect(change).toMatchObject({ type: 'deploy', data: { approval: { via: 'github-environment' } } });
  });

  it('once the audit log records what the job approves, the refusal says adding the action to the configuration is not enough', async () => {
    // The job's deploy recorded the environment as approving deploys only.
    await jobDeployed.restore();
    const entries = async () => (await readAudit(t.site.state, t.site.target.statePrefix)).length;
    const before = await entries();
    const refused = await run(['rollback', '--yes', '--no-tag'], { GITHUB_ACTIONS: 'true' });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /not rollback\. Nothing was changed\. Add "rollback" to approval\.github\.actions of dashboard-hosting-prod in frontendops\.config\.json, which alone does not make it count: the audit log does not record that the GitHub environment "dashboard-hosting-prod" of acme\/dashboard approves rollback of dashboard-hosting-prod; only what the audit log records counts: an approval by an approver it records adopts the approval policy in frontendops\.config\.json with the change it approves; if none of them can approve, whoever holds the deployer's credentials records it with `frontendops approvers adopt --stack dashboard-hosting-prod`; or run it from a terminal\./,
    );
    expect(await live()).toBe(V2);
    expect(await entries()).toBe(before);
    // The job's unpin, which needs the environment to approve promote, is told the same.
    expect((await run(['pin', '--message', 'freeze'], { GITHUB_ACTIONS: '' })).code).toBe(0);
    const pinnedAt = await entries();
    const unpin = await run(['unpin'], JOB);
    expect(unpin.code, unpin.stderr).toBe(2);
    expect(unpin.stderr).toMatch(
      /not promote\. Nothing was changed\. Add "promote" to approval\.github\.actions of dashboard-hosting-prod in frontendops\.config\.json, which alone does not make it count: the audit log does not record that the GitHub environment "dashboard-hosting-prod" of acme\/dashboard approves promote of dashboard-hosting-prod; only what the audit log records counts: .*`frontendops approvers adopt --stack dashboard-hosting-prod`; or unpin from a terminal: `frontendops unpin --stack dashboard-hosting-prod`\./,
    );
    expect(await readPin(t.site)).toMatchObject({ cause: 'pin', commit: V2 });
    expect(await entries()).toBe(pinnedAt);
    // A promote of the live release its configuration covers, but not the log: told what it is first.
    const promotes = await writeConfig('promote-unrecorded.json', {
      repository: 'acme/dashboard',
      environment: STACK,
      actions: ['deploy', 'promote'],
    });
    const lift = await run(['promote', V2.slice(0, 7), '--yes', '--no-tag'], {
      ...JOB,
      FRONTENDOPS_CONFIG: promotes,
    });
    expect(lift.code, lift.stderr).toBe(2);
    expect(lift.stderr).toContain(
      `error: Promote: ${APP}@2222222 is already live on ${STACK}: no file changes; the pin (2222222, by octo) would be cleared. ` +
        `${STACK} is a protected environment: in a GitHub Actions job, --yes is the approval of the GitHub environment that approves its changes, but the audit log does not record`,
    );
    expect(await readPin(t.site)).toMatchObject({ cause: 'pin', commit: V2 });
    expect(await entries()).toBe(pinnedAt);
  });

  it('the refusal names only what decides the job’s approval, not the approvers or trustElicitation it does not use', async () => {
    // The log records the environment as approving deploys only; these configurations also name an
    // approver and trustElicitation, which the log does not record either: parts for `approve` and
    // the infra server, which no --yes in a job depends on.
    await jobDeployed.restore();
    const others = { approvers: { Ada: `ed25519:${'A'.repeat(43)}` }, trustElicitation: true };
    const environment = { repository: 'acme/dashboard', environment: STACK };
    const notThat =
      /the audit log does not record that the GitHub environment "dashboard-hosting-prod" of acme\/dashboard approves rollback of dashboard-hosting-prod(; o|\. Nothing was changed\. O)nly what the audit log records counts/;
    for (const actions of [['deploy'], ['deploy', 'rollback']]) {
      const config = await writeConfig(`others-${actions.length}.json`, { ...environment, actions }, others);
      const refused = await run(['rollback', '--yes', '--no-tag'], {
        GITHUB_ACTIONS: 'true',
        FRONTENDOPS_CONFIG: config,
      });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(notThat);
      expect(refused.stderr).not.toMatch(/Ada|trustElicitation/);
      expect(await live()).toBe(V2);
    }
  });

  it('a job’s --yes that counted but adopted nothing the configuration adds says so, as the infra server’s approvedBy does', async () => {
    // The log records the environment as approving deploys; the job's checkout also names an approver,
    // which its reviewers were not shown: the deploy counts, and adopts nothing.
    await jobDeployed.restore();
    const ada = `ed25519:${'A'.repeat(43)}`;
    const config = await writeConfig(
      'adds-approver.json',
      { repository: 'acme/dashboard', environment: STACK, actions: ['deploy'] },
      { approvers: { Ada: ada } },
    );
    const deployed = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], {
      ...JOB,
      GITHUB_RUN_ID: '30',
      FRONTENDOPS_CONFIG: config,
    });
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(await live()).toBe(V1);
    const said = deployed.stderr.match(/approved by .*/g) ?? [];
    expect(said).toEqual([
      expect.stringMatching(
        /^approved by GitHub environment "dashboard-hosting-prod" of acme\/dashboard \(run 30 attempt 1, started by octo\).* \(github-environment; it adopted nothing of the approval policy in frontendops\.config\.json \(it adds approver Ada \(ed25519:A{43}\)\): its reviewers were not shown it\)$/,
      ),
    ]);
    // Where the configuration adds nothing, there is nothing to say.
    await jobDeployed.restore();
    const plain = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], { ...JOB, GITHUB_RUN_ID: '31' });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toMatch(/adopted nothing/);
  });

  it('once a job recorded its environment, a configuration naming another one does not approve the next job', async () => {
    await jobDeployed.restore();
    const other = await writeConfig('other-environment.json', {
      repository: 'mallory/fork',
      environment: 'no-reviewers',
      actions: ['deploy'],
    });
    const refused = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], {
      GITHUB_ACTIONS: 'true',
      FRONTENDOPS_CONFIG: other,
    });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /the audit log does not record the GitHub environment "no-reviewers" of mallory\/fork as one that approves dashboard-hosting-prod's changes\. Nothing was changed\./,
    );
    expect(await live()).toBe(V2);
  });
});

describe('a job’s --yes is its run attempt’s one approved change of each action, as the OIDC approval is', () => {
  const entries = async () => (await readAudit(t.site.state, t.site.target.statePrefix)).length;

  it('a second deploy in the same run attempt is refused, naming the change that used it; nothing changes', async () => {
    // Run 7 attempt 1 deployed V2 (beforeAll): the same run deploying again, here an older build.
    await jobDeployed.restore();
    const before = await entries();
    const again = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], JOB);
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toContain(`error: Deploy ${APP}@1111111 to ${STACK} (live: 2222222): `);
    expect(again.stderr).toMatch(
      /in a GitHub Actions job, --yes is the approval of the "dashboard-hosting-prod" environment's reviewers for one deploy per run attempt, and run 7 attempt 1 used it for the deploy 2222222-\w+ at \d{4}-\d\d-\d\dT[\d:.]+Z\. Nothing was changed\. Re-run the job \(a new attempt, which the environment's reviewers approve again\), or run it from a terminal\./,
    );
    expect(await live()).toBe(V2);
    expect(await entries()).toBe(before);
    // A new attempt of the run is approved again by the environment's reviewers: its own approval.
    const next = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], {
      ...JOB,
      GITHUB_RUN_ATTEMPT: '2',
    });
    expect(next.code, next.stderr).toBe(0);
    expect(await live()).toBe(V1);
    expect(await run(['audit', 'verify'])).toMatchObject({ code: 0 });
  });

  it('attack: the "used" marker of the run attempt deleted in the state bucket: the chain records the use, refused', async () => {
    await jobDeployed.restore();
    const usedPrefix = `${t.site.target.statePrefix}${APPROVALS_USED}`;
    const markers = (await t.site.state.list(usedPrefix)).map((o) => o.key);
    expect(markers).toHaveLength(1);
    await t.site.state.delete(markers);
    const before = await entries();
    const again = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], JOB);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toMatch(
      /error: The approval of this deploy \(1111111-\w+\) of dashboard-hosting-prod was already used at \d{4}-\d\d-\d\dT[\d:.]+Z for the deploy 2222222-\w+ \(audit entry \d+\), but its "used" marker is missing from the state bucket, which points to tampering: .*Nothing was changed\./,
    );
    expect(await live()).toBe(V2);
    expect(await entries()).toBe(before);
    expect(await t.site.state.list(usedPrefix)).toEqual([]);
  });

  it('without the run’s id and attempt (GitHub sets them for every step) the job’s --yes is refused', async () => {
    await jobDeployed.restore();
    const refused = await run(['deploy', '--commit', V1, '--yes', '--no-tag'], {
      ...JOB,
      GITHUB_RUN_ID: '',
      GITHUB_RUN_ATTEMPT: '',
    });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(`error: Deploy ${APP}@1111111 to ${STACK} (live: 2222222): `);
    expect(refused.stderr).toMatch(
      /for one deploy per run attempt, but GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, which GitHub sets for every step, are not set\. Nothing was changed\./,
    );
    expect(await live()).toBe(V2);
  });
});

describe('whoever changes the configuration does not change what a job’s --yes covers', () => {
  it('a job’s --yes does not adopt a wider policy: `approvers adopt --yes` in the job is refused, nothing appended', async () => {
    // The job's checkout is its own: its configuration adds rollbacks to what the environment approves.
    await jobDeployed.restore();
    const entries = async () => (await readAudit(t.site.state, t.site.target.statePrefix)).length;
    const before = await entries();
    const wider = await writeConfig('job-wider-config.json', {
      repository: 'acme/dashboard',
      environment: STACK,
      actions: ['deploy', 'rollback'],
    });
    const job = { ...JOB, GITHUB_RUN_ID: '20', FRONTENDOPS_CONFIG: wider };
    const adopted = await run(['approvers', 'adopt', '--yes'], job);
    expect(adopted.code, adopted.stderr).toBe(2);
    expect(adopted.stderr).toMatch(
      /in a GitHub Actions job, --yes is the approval of the "dashboard-hosting-prod" environment's reviewers for what approval\.github\.actions lists, not of adopting an approval policy\. Nothing was changed\. Adopt it from a terminal: `frontendops approvers adopt --stack dashboard-hosting-prod`\./,
    );
    expect(await entries()).toBe(before);
    const back = await run(['rollback', '--yes', '--no-tag'], job);
    expect(back.code, back.stderr).toBe(2);
    expect(await live()).toBe(V2);
  });

  it('approval.github removed, --yes in the job is refused once the audit log records the environment; the deployer’s adopt needs a terminal or --yes', async () => {
    await jobDeployed.restore();
    // Adopting is the deployer's: refused without a terminal or --yes, nothing appended.
    const entries = async () => (await readAudit(t.site.state, t.site.target.statePrefix)).length;
    const before = await entries();
    // The job's deploy recorded the environment as approving deploys; this configuration adds rollbacks.
    const wider = await writeConfig('wider-config.json', {
      repository: 'acme/dashboard',
      environment: STACK,
      actions: ['deploy', 'rollback'],
    });
    const asked = await run(['approvers', 'adopt'], { FRONTENDOPS_CONFIG: wider });
    expect(asked.code, asked.stderr).toBe(2);
    expect(asked.stderr).toMatch(
      /adopts the approval policy in frontendops.config.json for dashboard-hosting-prod without an approval: it replaces the GitHub environment "dashboard-hosting-prod" of acme\/dashboard \(approving deploy;.*\) with the GitHub environment "dashboard-hosting-prod" of acme\/dashboard \(approving deploy, rollback;/,
    );
    expect(asked.stderr).toMatch(/needs a terminal .*Nothing was changed/);
    expect(await entries()).toBe(before);
    const adopted = await run(['approvers', 'adopt', '--yes'], { FRONTENDOPS_CONFIG: wider });
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(await entries()).toBe(before + 1);

    const changed = await writeConfig('changed-config.json');
    const was = await live();
    const back = await run(['rollback', '--yes', '--no-tag'], {
      GITHUB_ACTIONS: 'true',
      FRONTENDOPS_CONFIG: changed,
    });
    expect(back.code, back.stderr).toBe(2);
    expect(back.stderr).toMatch(
      /the audit log records the GitHub environment "dashboard-hosting-prod" of acme\/dashboard as the one that approves them, which frontendops.config.json no longer names\. Nothing was changed\..*frontendops approvers adopt --stack dashboard-hosting-prod/,
    );
    expect(await live()).toBe(was);
  });
});
