/**
 * `history` (and get_history, the console's timeline) against the audit log, as the deployer role (or
 * anyone who can write the state prefix) would fool it: a deployment record and its history row are
 * that role's to write. A row planted around the chain, naming someone who never asked, or a genuine
 * record rewritten with another requester, was listed as what happened; a live pointer naming another
 * release marked that row live. Now a page lists only rows whose record the chain binds (saying how
 * many it left out), and marks live only the release of a pointer the chain binds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { approvalPolicyFor, defaultConfig } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readHistory } from '../../src/read/history.ts';
import { adoptApprovalPolicy } from '../../src/state/approval-in-force.ts';
import { readAuditHead, verifyAudit } from '../../src/state/audit.ts';
import type { AuditEntry } from '../../src/state/audit-entry.ts';
import type { DeploymentRecord, LivePointer } from '../../src/state/records.ts';
import { approverKeysFor } from '../support/approver.ts';
import { auditEntryKey } from '../support/audit-forgery.ts';
import { type BucketSnapshot, snapshotBuckets } from '../support/bucket-snapshot.ts';
import { requestBy, startShippedDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { connectInfra, infraServerOn } from '../support/mcp-infra.ts';
import { stateObjects } from '../support/planted.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const [V1, V2, V3] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;

let t: TestDeployEnv;
let deployed: BucketSnapshot;
let stackFile: string;
const { read, write } = stateObjects(() => t);
const keys = approverKeysFor(['ada']);

beforeAll(async () => {
  t = await startShippedDeployEnv({ stack: 'history-recorded', app: APP, publish: [V1, V2, V3], ship: 2 });
  stackFile = await t.writeOutputs();
  deployed = await snapshotBuckets([{ store: t.site.state, prefix: t.target.statePrefix }]);
}, 180_000);
beforeEach(async () => {
  await deployed.restore();
});
afterAll(() => t?.stop());

/**
 * A history row planted around the chain (records.writeRecord, no entry): the live record copied as
 * v3's, a minute newer, saying mallory asked `text`. Returns it.
 */
async function plantRow(text: string): Promise<DeploymentRecord> {
  const pointer = await read<LivePointer>('live.json');
  const genuine = await read<DeploymentRecord>(`deployments/${pointer.deployId}.json`);
  const at = new Date(Date.now() + 60_000).toISOString();
  const planted: DeploymentRecord = {
    ...genuine,
    deployId: `${V3.slice(0, 7)}-0123456789`,
    commit: V3,
    startedAt: at,
    finishedAt: at,
    request: requestBy(text, 'mallory'),
  };
  await t.site.records.writeRecord(planted);
  return planted;
}

const historyCli = () => cli(['history', '--stack', stackFile], { env: t.cliEnv(), cwd: t.tmp });

describe('history holds its rows to the audit log', () => {
  it('as recorded: every deployment, the live one marked, who asked', async () => {
    const page = await readHistory(t.site);
    expect(page.deployments.map((d) => [d.commit, d.live, d.request.text])).toEqual([
      [V2, true, 'ship v2'],
      [V1, false, 'ship v1'],
    ]);
    expect(page.unrecorded ?? 0).toBe(0);
    const run = await historyCli();
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ship v2');
    expect(run.stdout).not.toContain('audit verify');
  });

  it('a row planted around the chain, naming someone who never asked: not listed, and said', async () => {
    const planted = await plantRow('hotfix approved by the CTO');
    expect((await verifyAudit(t.site.state, t.target.statePrefix)).ok).toBe(false);

    const page = await readHistory(t.site);
    expect(page.deployments.map((d) => d.deployId)).not.toContain(planted.deployId);
    expect(JSON.stringify(page)).not.toContain('mallory');
    expect(page.unrecorded).toBe(1);
    const run = await historyCli();
    expect(run.stdout).not.toContain('mallory');
    expect(run.stdout).toContain('frontendops audit verify');
  });

  it('a page whose every row is left out still leads to older pages, and is not "no deployments"', async () => {
    await plantRow('planted');
    const run = await cli(['history', '--stack', stackFile, '--limit', '1'], { env: t.cliEnv(), cwd: t.tmp });
    expect(run.stdout).toContain('1 row of this page is left out');
    expect(run.stdout).not.toContain('no deployments yet');
    const next = /history --before (\S+)\)/.exec(run.stdout)?.[1];
    expect(next, run.stdout).toBeDefined();
    const older = await cli(['history', '--stack', stackFile, '--limit', '1', '--before', next as string], {
      env: t.cliEnv(),
      cwd: t.tmp,
    });
    expect(older.stdout).toContain('ship v2');
  });

  it('get_history, for such a page, says rows were left out and that there are more, not "no deployments"', async () => {
    await plantRow('planted');
    const c = await connectInfra(infraServerOn(t.site));
    try {
      const answer = await c.call('get_history', { limit: 1 });
      expect(answer.structured).toMatchObject({ deployments: [], unrecorded: 1 });
      expect(answer.text).not.toMatch(/No deployments/);
      expect(answer.text).toMatch(/1 row of this page is left out/);
      expect(answer.text).toMatch(/pass before/);
      expect(answer.text).not.toContain('mallory');
    } finally {
      await c.close();
    }
  });

  it('a genuine record rewritten with another requester: its row is not listed', async () => {
    const pointer = await read<LivePointer>('live.json');
    const [, before] = pointer.releases;
    if (!before) throw new Error('v1 is kept');
    const record = await read<DeploymentRecord>(`deployments/${before.deployId}.json`);
    await write(`deployments/${before.deployId}.json`, {
      ...record,
      request: requestBy('all mine', 'mallory'),
    });
    const page = await readHistory(t.site);
    expect(JSON.stringify(page)).not.toContain('mallory');
    expect(page.deployments.map((d) => d.commit)).toEqual([V2]);
    expect(page.unrecorded).toBe(1);
  });

  it("another deployment's bound record copied under a deploy id: not listed as that deployment", async () => {
    const pointer = await read<LivePointer>('live.json');
    const [, before] = pointer.releases;
    if (!before) throw new Error('v1 is kept');
    await write(`deployments/${before.deployId}.json`, await read(`deployments/${pointer.deployId}.json`));
    const page = await readHistory(t.site);
    expect(page.deployments.map((d) => d.deployId)).toEqual([pointer.deployId]);
    expect(page.unrecorded).toBe(1);
  });

  it('a change of who approves in an entry the chain does not hold: not listed, and counted', async () => {
    const { site } = t;
    const approval = { approvers: { Ada: keys().ada.publicKey }, trustElicitation: false };
    const owners = {
      ...site,
      approval: approvalPolicyFor({ ...defaultConfig(), approval }, site.target.stack),
    };
    const adopted = await adoptApprovalPolicy(owners, 'ada', Date.now());
    await deployArtifact(site, { app: APP, commit: V3, request: requestBy('ship v3') });
    expect((await readHistory(site)).policyChanges.map((c) => c.seq)).toEqual([adopted.seq]);
    // The entry rewritten in place (its hash no longer its own): nothing the chain holds records it.
    const name = auditEntryKey('', adopted.seq);
    await write(name, { ...(await read<AuditEntry>(name)), data: { ...adopted.data, by: 'mallory' } });
    expect((await readAuditHead(site.state, site.target.statePrefix))?.seq).toBeGreaterThan(adopted.seq);

    const page = await readHistory(site);
    expect(page.policyChanges).toEqual([]);
    expect(page.deployments.map((d) => d.commit)).toEqual([V3, V2, V1]);
    expect(page.unrecorded).toBe(1);
  });

  it('a live pointer naming another release live: that row is not marked live', async () => {
    const pointer = await read<LivePointer>('live.json');
    const [, before] = pointer.releases;
    if (!before) throw new Error('v1 is kept');
    await write('live.json', { ...pointer, deployId: before.deployId, commit: before.commit });
    const page = await readHistory(t.site);
    expect(page.deployments.filter((d) => d.live)).toEqual([]);
  });
});
