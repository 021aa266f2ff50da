/**
 * How much of the audit chain a page of `history` reads (GETs of its entries). A page reads from the
 * chain's newest entry back, in rounds (32 entries, then twice as many each round), until it has its
 * rows' bindings and has passed the start of the time it spans (its oldest row's start), so that it
 * lists every change of who approves in that time. Measured: the first page reads one round; a page
 * whose time starts at a round's edge reads the next round whole, for the one entry it needs to see
 * there; the last page (whose time starts at the chain's start) reads the whole chain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { readHistory } from '../../src/read/history.ts';
import { appendAudit, readAudit } from '../../src/state/audit.ts';
import { APP, request } from '../support/atomic-env.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';

const COMMITS = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'] as const;
const ROUND = 32;
/** The entry after the one the head names, looked for beside it (a head moved back): none here. */
const PAST_HEAD = 1;
let t: TestDeployEnv;
let chain: number;
let second: string;
let last: string;

/** An entry that records no deployment and no policy (an unpin), at `at`. */
const other = (at: number) =>
  appendAudit(t.site.state, t.target.statePrefix, t.site.locker, {
    type: 'unpin',
    data: { stack: t.target.stack, by: 'an operator' },
    at: new Date(at),
  });

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'history-read-requests' });
  await publishFixtureBuilds(t, APP, COMMITS);
  // 10 entries an hour before the first deployment, then three deployments.
  const old = Date.now() - 3_600_000;
  for (let i = 0; i < 10; i++) await other(old + i * 1000);
  for (const commit of COMMITS) await deployArtifact(t.site, { app: APP, commit, request: request() });
  // Then entries enough that those from the second deployment's start on fill the first round.
  const first = await readHistory(t.site, { limit: 1 });
  second = first.next as string;
  const page = await readHistory(t.site, { limit: 1, before: second });
  last = page.next as string;
  const from = Date.parse(page.deployments[0]?.startedAt ?? '');
  const since = (await readAudit(t.site.state, t.target.statePrefix)).filter((e) => Date.parse(e.at) >= from);
  for (let i = since.length; i < ROUND; i++) await other(Date.now());
  chain = (await readAudit(t.site.state, t.target.statePrefix)).length;
}, 180_000);
afterAll(() => t?.stop());

/** How many GETs of audit entries `read` sends. */
async function entryGets(read: () => Promise<unknown>): Promise<number> {
  await t.s3.settle();
  const from = t.s3.requests.length;
  await read();
  await t.s3.settle();
  return t.s3.requests.slice(from).filter((r) => r.method === 'GET' && /audit\/\d+\.json$/.test(r.key ?? ''))
    .length;
}

describe('how much of the chain a page of history reads', () => {
  it('the first page: one round', async () => {
    expect(await entryGets(() => readHistory(t.site, { limit: 1 }))).toBe(ROUND + PAST_HEAD);
  });

  it("a page whose time starts at a round's edge: the next round too (here the rest of the chain)", async () => {
    // Needed: the round, and the one entry before it (older than the page's time).
    expect(chain).toBeLessThan(3 * ROUND);
    expect(await entryGets(() => readHistory(t.site, { limit: 1, before: second }))).toBe(chain + PAST_HEAD);
  });

  it('the last page: the whole chain (every entry before its rows may record who approves)', async () => {
    const page = await readHistory(t.site, { limit: 1, before: last });
    expect(page.next).toBeNull();
    expect(await entryGets(() => readHistory(t.site, { limit: 1, before: last }))).toBe(chain + PAST_HEAD);
  });
});
