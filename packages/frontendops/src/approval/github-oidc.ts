/**
 * Approval by a GitHub deployment environment. A job that names `environment: production` waits
 * until the environment's required reviewers approve it; only then does GitHub give the job an OIDC
 * token whose `environment` claim says so. The infra server asks GitHub for that token itself
 * (ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN, present when the job has `permissions: id-token: write`),
 * verifies its signature against the issuer's published keys, and checks the repository (and, where
 * the policy names them, its and its owner's ids: a name can be taken again, an id cannot) and the
 * environment the stack's configuration names. Neither the model nor an MCP client can produce one;
 * each run (and re-run attempt) approves one change.
 *
 * The same claim is what the deployer role's trust policy should require (see the Pulumi program):
 * then the cloud itself refuses credentials to a job the reviewers did not approve.
 */
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, type JWTPayload, jwtVerify } from 'jose';
import type { ApprovalPolicy } from '../config.ts';
import type { Approval, ApprovalAction } from '../ports.ts';

type GitHubPolicy = NonNullable<ApprovalPolicy['github']>;

export interface GitHubGrant {
  approval: Approval;
  /** Marks the run used (one change per run attempt). */
  grantKey: string;
}

interface ActionsClaims extends JWTPayload {
  repository?: string;
  repository_id?: string;
  repository_owner_id?: string;
  environment?: string;
  run_id?: string;
  run_attempt?: string;
  actor?: string;
  workflow_ref?: string;
}

/**
 * The grant for this change, if this process runs in a GitHub Actions job the policy trusts: null
 * outside Actions; `rejected` (with why) when a token is there but does not approve this.
 */
export async function githubEnvironmentGrant(
  policy: GitHubPolicy,
  action: ApprovalAction,
  env: NodeJS.ProcessEnv = process.env,
  fetchImpl: typeof fetch = fetch,
): Promise<GitHubGrant | { rejected: string } | null> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url && !bearer) return null;
  if (!url || !bearer) {
    return {
      rejected:
        'the job cannot request an OIDC token; give it `permissions: id-token: write` and run it in the environment',
    };
  }
  if (!policy.actions.includes(action)) {
    return {
      rejected: `the ${policy.environment} environment's approval covers ${policy.actions.join(' and ')}, not ${action}`,
    };
  }
  let claims: ActionsClaims;
  try {
    const token = await requestToken(url, bearer, policy.audience, fetchImpl);
    claims = await verifyToken(token, policy, fetchImpl);
  } catch (error) {
    return { rejected: `the job's OIDC token could not be verified (${(error as Error).message})` };
  }
  if ((claims.repository ?? '').toLowerCase() !== policy.repository.toLowerCase()) {
    return { rejected: `the token is for repository ${claims.repository}, not ${policy.repository}` };
  }
  const otherId = idsRefused(policy, claims);
  if (otherId) return { rejected: otherId };
  if (claims.environment !== policy.environment) {
    return {
      rejected: claims.environment
        ? `the job runs in environment "${claims.environment}", not "${policy.environment}"`
        : `the job runs in no deployment environment; it must run in "${policy.environment}", whose reviewers approve it`,
    };
  }
  return {
    approval: {
      by: githubEnvironmentBy(policy, claims),
      via: 'github-environment',
    },
    grantKey: githubRunKey({ ...claims, repository: claims.repository ?? policy.repository }, action),
  };
}

/**
 * Why a token's ids are not those the policy names (none named: none checked), in words; null: they are.
 * GitHub gives a repository deleted and re-created under its name, or a name another owner takes
 * after a rename, other ids: only they tell that job from the one the stack's owners configured.
 */
function idsRefused(policy: GitHubPolicy, claims: ActionsClaims): string | null {
  for (const [claim, field, what] of [
    ['repository_id', 'repositoryId', 'repository'],
    ['repository_owner_id', 'ownerId', 'owner'],
  ] as const) {
    const want = policy[field];
    if (want === undefined) continue;
    const got = claims[claim];
    if (got === undefined) {
      return `the token carries no ${claim}, and approval.github.${field} names the ${what} id ${want}: which ${policy.repository} the job is of cannot be told; only for an issuer that gives no ids (an older GitHub Enterprise Server) remove approval.github.repositoryId and ownerId`;
    }
    if (String(got) !== want) {
      return `the token is for ${policy.repository} with ${what} id ${String(got)}, not ${want} (approval.github.${field}): a repository of that name, but not the one configured (deleted and created again, or its owner's name taken)`;
    }
  }
  return null;
}

/**
 * The one approval of `action` a run attempt of a job in the environment gives: the "used" marker's
 * name, the same for the infra server's OIDC approval and the CLI's --yes in the job, so the two
 * count together. The repository in lower case: GitHub's names are not case-sensitive.
 */
export const githubRunKey = (
  run: { repository: string; run_id?: string; run_attempt?: string },
  action: ApprovalAction,
): string => {
  const key = `${run.repository.toLowerCase()}|${run.run_id}|${run.run_attempt}|${action}`;
  return `github-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
};

async function requestToken(url: string, bearer: string, audience: string, fetchImpl: typeof fetch) {
  const target = new URL(url);
  target.searchParams.set('audience', audience);
  const response = await fetchImpl(target, {
    headers: { authorization: `bearer ${bearer}`, accept: 'application/json; api-version=2.0' },
    signal: AbortSignal.timeout(15_000),
  });
  if (!response.ok) throw new Error(`the token request answered HTTP ${response.status}`);
  const body = (await response.json()) as { value?: unknown };
  if (typeof body.value !== 'string') throw new Error('the token request answered without a token');
  return body.value;
}

async function verifyToken(token: string, policy: GitHubPolicy, fetchImpl: typeof fetch) {
  const issuer = policy.issuer.replace(/\/$/, '');
  const discovery = await fetchImpl(`${issuer}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(15_000),
  });
  if (!discovery.ok) throw new Error(`the issuer's discovery document answered HTTP ${discovery.status}`);
  const { jwks_uri: jwksUri } = (await discovery.json()) as { jwks_uri?: unknown };
  if (typeof jwksUri !== 'string') throw new Error("the issuer's discovery document names no jwks_uri");
  const keys = createRemoteJWKSet(new URL(jwksUri), {
    [customFetch]: (input: string, init: RequestInit) => fetchImpl(input, init),
  });
  const { payload } = await jwtVerify<ActionsClaims>(token, keys, {
    issuer,
    audience: policy.audience,
    algorithms: ['RS256'],
  });
  return payload;
}

/** Who approved a job's change, as its audit entry names it: the environment, and the job's run. */
export const githubEnvironmentBy = (
  policy: Pick<GitHubPolicy, 'environment' | 'repository'>,
  run: { run_id?: string; run_attempt?: string; actor?: string },
): string =>
  `GitHub environment "${policy.environment}" of ${policy.repository} (run ${run.run_id ?? 'unknown'} attempt ${run.run_attempt ?? 'unknown'}, started by ${run.actor ?? 'unknown'})`;
