/**
 * Attacks by a GitHub Actions job on the OIDC approval path (approval/github-oidc.ts), with what a
 * job holds: its token request variables, which it may point anywhere, and any token it got. The
 * issuer is the test double of GitHub's provider (test/support/github-oidc-double.ts); a job's own
 * "token service" here is a small server that hands back a token the job got otherwise: one asked
 * for another audience (as for a cloud's role), or one it kept from an earlier step, now expired,
 * or replayed while it is valid (it counts as its run's one approval, whichever token carries it).
 * What the gate does with a grant (one change per run attempt and action, the actions listed, the
 * repository and environment) is tried end to end in mcp/infra/approval-gate.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { githubEnvironmentGrant, githubRunKey } from '../../src/approval/github-oidc.ts';
import { type OidcDouble, OWNER_ID, REPOSITORY_ID, startOidcDouble } from '../support/github-oidc-double.ts';

let oidc: OidcDouble;
let relay: Server;
let relayOrigin: string;
/** What the relay answers a job's token request with. */
let relayed = '';

beforeAll(async () => {
  oidc = await startOidcDouble();
  relay = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count: 1, value: relayed }));
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  relayOrigin = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
});
afterAll(async () => {
  relay?.closeAllConnections();
  await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
  await oidc?.close();
});

const policy = () => ({
  repository: 'sophia/dashboard',
  environment: 'production',
  actions: ['deploy' as const],
  issuer: oidc.issuer,
  audience: 'frontendops',
});

/** A token as GitHub hands it to the job, for the audience the job names. */
async function tokenFor(audience: string, issuedSecondsAgo = 0): Promise<string> {
  const job = oidc.job(
    { repository: 'sophia/dashboard', environment: 'production', run_id: '501' },
    { issuedSecondsAgo },
  );
  const url = new URL(job.ACTIONS_ID_TOKEN_REQUEST_URL as string);
  url.searchParams.set('audience', audience);
  const res = await fetch(url, {
    headers: { authorization: `bearer ${job.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
  });
  return ((await res.json()) as { value: string }).value;
}

/** The job's variables pointed at its own relay, which answers `token` whatever audience is asked. */
function relaying(token: string) {
  relayed = token;
  return { ACTIONS_ID_TOKEN_REQUEST_URL: `${relayOrigin}/token`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'any' };
}

describe('attack: a GitHub Actions job approves with a token that is not for this', () => {
  it('a token of the configured job, fetched as GitHub hands it, is a grant (the relay itself is no hindrance)', async () => {
    const grant = await githubEnvironmentGrant(policy(), 'deploy', relaying(await tokenFor('frontendops')));
    expect(grant).toMatchObject({ approval: { via: 'github-environment' } });
  });

  it('a token for another audience (a cloud role’s, sts.amazonaws.com) is refused', async () => {
    const grant = await githubEnvironmentGrant(
      policy(),
      'deploy',
      relaying(await tokenFor('sts.amazonaws.com')),
    );
    expect(grant).toEqual({ rejected: expect.stringMatching(/could not be verified \(.*"aud"/) });
  });

  it('a token kept past its expiry (5 minutes) is refused', async () => {
    // Issued 10 minutes ago: it expired 5 minutes ago.
    const job = relaying(await tokenFor('frontendops', 10 * 60));
    const grant = await githubEnvironmentGrant(policy(), 'deploy', job);
    expect(grant).toEqual({ rejected: expect.stringMatching(/could not be verified \(.*"exp"/) });
  });

  it('a token replayed, or a fresh one of the same run attempt, gets the run’s one key: one change per run and action', async () => {
    const token = await tokenFor('frontendops');
    const keyOf = async (env: Record<string, string>, action: 'deploy' | 'promote' = 'deploy') => {
      const grant = await githubEnvironmentGrant(
        { ...policy(), actions: ['deploy', 'promote'] },
        action,
        env,
      );
      return grant && 'grantKey' in grant ? grant.grantKey : grant;
    };
    const first = await keyOf(relaying(token));
    expect(first).toMatch(/^github-[0-9a-f]{40}$/);
    expect(await keyOf(relaying(token))).toBe(first);
    const fresh = oidc.job({ repository: 'sophia/dashboard', environment: 'production', run_id: '501' });
    expect(await keyOf(fresh)).toBe(first);
    // The key the CLI's --yes in that run counts under (cli/commands/deploy.ts): the two count together,
    // whichever way the repository's name is written.
    const cli = { repository: 'Sophia/Dashboard', run_id: '501', run_attempt: '1' };
    expect(githubRunKey(cli, 'deploy')).toBe(first);
    // Another action, or another attempt of the run (its reviewers approved it again), is its own.
    expect(await keyOf(relaying(token), 'promote')).not.toBe(first);
    const again = oidc.job({
      repository: 'sophia/dashboard',
      environment: 'production',
      run_id: '501',
      run_attempt: '2',
    });
    expect(await keyOf(again)).not.toBe(first);
  });

  it('a job in no deployment environment (a pull request’s, a push without one) is refused', async () => {
    const grant = await githubEnvironmentGrant(
      policy(),
      'deploy',
      oidc.job({ repository: 'sophia/dashboard', run_id: '502' }),
    );
    expect(grant).toEqual({ rejected: expect.stringMatching(/runs in no deployment environment/) });
  });

  it('an environment named in other letters ("Production") is another name, refused', async () => {
    const grant = await githubEnvironmentGrant(
      policy(),
      'deploy',
      oidc.job({ repository: 'sophia/dashboard', environment: 'Production', run_id: '503' }),
    );
    expect(grant).toEqual({ rejected: expect.stringMatching(/runs in environment "Production"/) });
  });
});

describe('attack: a repository deleted and re-created under the same name (or its owner’s name taken) approves', () => {
  /** The policy naming the ids of the repository its owners configured. */
  const bound = () => ({ ...policy(), repositoryId: REPOSITORY_ID, ownerId: OWNER_ID });

  it('a job of the configured repository, its ids those the policy names, is a grant', async () => {
    const grant = await githubEnvironmentGrant(
      bound(),
      'deploy',
      oidc.job({ repository: 'sophia/dashboard', environment: 'production', run_id: '601' }),
    );
    expect(grant).toMatchObject({ approval: { via: 'github-environment' } });
  });

  it('a job of a repository of the same name with another id, or another owner’s, is refused', async () => {
    for (const [other, words] of [
      [{ repository_id: '999000111' }, /repository id 999000111, not 700100200/],
      [{ repository_owner_id: '999000222' }, /owner id 999000222, not 600100200/],
    ] as const) {
      const grant = await githubEnvironmentGrant(
        bound(),
        'deploy',
        oidc.job({ repository: 'Sophia/Dashboard', environment: 'production', run_id: '602', ...other }),
      );
      expect(grant).toEqual({ rejected: expect.stringMatching(words) });
    }
  });

  it('a token that carries no ids is refused where the policy names them, in words', async () => {
    const grant = await githubEnvironmentGrant(
      bound(),
      'deploy',
      oidc.job({
        repository: 'sophia/dashboard',
        environment: 'production',
        run_id: '603',
        repository_id: null,
        repository_owner_id: null,
      }),
    );
    expect(grant).toEqual({
      rejected: expect.stringMatching(
        /carries no repository_id, and approval\.github\.repositoryId names the repository id 700100200/,
      ),
    });
  });

  it('a policy naming no ids is held to the name alone, as before', async () => {
    const grant = await githubEnvironmentGrant(
      policy(),
      'deploy',
      oidc.job({
        repository: 'sophia/dashboard',
        environment: 'production',
        run_id: '604',
        repository_id: '999000111',
      }),
    );
    expect(grant).toMatchObject({ approval: { via: 'github-environment' } });
  });
});
