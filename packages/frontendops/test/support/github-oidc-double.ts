/**
 * A test double of GitHub Actions' OIDC provider, which this machine cannot reach. It answers as
 * GitHub documents ("About security hardening with OpenID Connect"):
 * - `GET /.well-known/openid-configuration` → the discovery document naming `jwks_uri`;
 * - `GET /.well-known/jwks` → the RS256 public keys;
 * - the job's token request (`ACTIONS_ID_TOKEN_REQUEST_URL` + `&audience=…`, with
 *   `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`) → `{ "count": …, "value": "<jwt>" }`,
 *   a JWT whose claims are those of a job: sub, repository, repository_id, repository_owner_id,
 *   environment, run_id, run_attempt, actor, …
 * `job(claims)` gives the environment variables a job with `permissions: id-token: write` has.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** The ids a job's token carries where its claims name none: those of the repository the tests configure. */
export const REPOSITORY_ID = '700100200';
export const OWNER_ID = '600100200';

export interface JobClaims {
  repository: string;
  /** GitHub's numbers as strings; null: the token carries none (an older GitHub Enterprise Server's). */
  repository_id?: string | null;
  repository_owner_id?: string | null;
  environment?: string;
  run_id?: string;
  run_attempt?: string;
  actor?: string;
}

export interface OidcDouble {
  issuer: string;
  /**
   * The variables of a job whose token carries these claims; `issuedSecondsAgo`: its tokens are
   * issued that long ago (valid 5 minutes from then, as GitHub's are), a token kept since.
   */
  job(claims: JobClaims, options?: { issuedSecondsAgo?: number }): Record<string, string>;
  /** Tokens signed by a key the issuer does not publish (a forgery); `false`: its own key again. */
  forgeWithOtherKey(on?: boolean): void;
  close(): Promise<void>;
}

export async function startOidcDouble(): Promise<OidcDouble> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'double-1', alg: 'RS256', use: 'sig' };
  const jobs = new Map<string, { claims: JobClaims; issuedSecondsAgo: number }>();
  let forge = false;
  let issuer = '';

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: [
          'sub',
          'aud',
          'exp',
          'iat',
          'iss',
          'jti',
          'nbf',
          'ref',
          'repository',
          'repository_id',
          'repository_owner_id',
          'environment',
        ],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid'],
      });
    }
    if (url.pathname === '/.well-known/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/token') {
      const bearer = /^bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const found = jobs.get(bearer);
      if (!found) return json(401, { message: 'Unauthorized' });
      const { claims } = found;
      const issuedAt = Math.floor(Date.now() / 1000) - found.issuedSecondsAgo;
      const audience = url.searchParams.get('audience') ?? 'https://github.com/octo';
      const sub = claims.environment
        ? `repo:${claims.repository}:environment:${claims.environment}`
        : `repo:${claims.repository}:ref:refs/heads/main`;
      const { repository_id = REPOSITORY_ID, repository_owner_id = OWNER_ID, ...named } = claims;
      const value = await new SignJWT({
        ...named,
        ...(repository_id === null ? {} : { repository_id }),
        ...(repository_owner_id === null ? {} : { repository_owner_id }),
        run_id: claims.run_id ?? '1001',
        run_attempt: claims.run_attempt ?? '1',
        actor: claims.actor ?? 'octocat',
        ref: 'refs/heads/main',
        event_name: 'push',
        workflow_ref: `${claims.repository}/.github/workflows/deploy.yml@refs/heads/main`,
        runner_environment: 'github-hosted',
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'double-1', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(sub)
        .setJti(randomBytes(8).toString('hex'))
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(issuedAt + 300)
        .sign(forge ? other.privateKey : privateKey);
      return json(200, { count: 1, value });
    }
    json(404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    job(claims, options = {}) {
      const bearer = randomBytes(16).toString('hex');
      jobs.set(bearer, { claims, issuedSecondsAgo: options.issuedSecondsAgo ?? 0 });
      return {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: bearer,
      };
    },
    forgeWithOtherKey: (on = true) => {
      forge = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
