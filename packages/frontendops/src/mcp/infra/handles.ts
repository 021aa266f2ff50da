/**
 * Deploy-target handles: what `get_deploy_target` gives the model instead of bucket names. A handle
 * is `fo1.<claims>.<mac>`: the claims (stack, app, commit, planned deploy id, artifact digest,
 * expiry) in base64url JSON — nothing secret, so the `approve` CLI may read them — and an
 * HMAC-SHA256 over them with the server's secret, so a handle cannot be forged, altered (e.g. to
 * another stack or commit) or kept past its expiry.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { badInput, FrontendOpsError } from '../../errors.ts';
import { peek, seal, unseal } from '../sealed.ts';

export const HANDLE_TTL_MS = 15 * 60_000;
const PREFIX = 'fo1';

const claimsSchema = z.object({
  stack: z.string(),
  app: z.string(),
  commit: z.string(),
  /** The deploy id the plan had; run_sync applies exactly this plan or nothing. */
  deployId: z.string(),
  artifactDigest: z.string(),
  /** Expiry, ms since the epoch. */
  exp: z.number().int(),
});

export type HandleClaims = z.infer<typeof claimsSchema>;

export interface HandleSigner {
  issue(claims: Omit<HandleClaims, 'exp'>): { handle: string; expiresAt: string; claims: HandleClaims };
  /** The claims of a genuine, unexpired handle; BAD_INPUT (what to do) otherwise. */
  verify(handle: string): HandleClaims;
}

/** A fresh random secret: handles then live as long as the server process. */
export const createHandleSecret = (): Buffer => randomBytes(32);

export function createHandleSigner(options: {
  secret: Buffer;
  now?: () => number;
  ttlMs?: number;
}): HandleSigner {
  const now = options.now ?? Date.now;
  const ttl = options.ttlMs ?? HANDLE_TTL_MS;

  return {
    issue(partial) {
      const claims: HandleClaims = { ...partial, exp: now() + ttl };
      return {
        handle: seal(options.secret, PREFIX, claims),
        expiresAt: new Date(claims.exp).toISOString(),
        claims,
      };
    },
    verify(handle) {
      const opened = unseal(options.secret, PREFIX, handle);
      if (opened === 'malformed') throw malformed();
      if (opened === 'forged') {
        throw badInput(
          'The handle is not one this server issued (it was altered, or comes from another server or an ' +
            'earlier run of it). Call get_deploy_target again and pass the handle it returns unchanged.',
        );
      }
      const claims = parseClaims(opened.claims);
      if (claims.exp <= now()) {
        throw badInput(
          `The handle expired at ${new Date(claims.exp).toISOString()} (handles are valid for ` +
            `${Math.round(ttl / 60_000)} minutes). Call get_deploy_target again for a fresh one.`,
        );
      }
      return claims;
    },
  };
}

/**
 * The claims of a handle WITHOUT checking its signature — for the `approve` CLI, which has no
 * server secret. Safe because an approval names a deploy id, and run_sync verifies the handle itself.
 */
export function readHandleClaims(handle: string): HandleClaims {
  const read = peek(PREFIX, handle);
  if (read === 'malformed') throw malformed();
  return parseClaims(read.claims);
}

export const looksLikeHandle = (value: string): boolean => value.startsWith(`${PREFIX}.`);

const malformed = () =>
  badInput(
    `The handle is malformed: expected "${PREFIX}.<claims>.<signature>" exactly as get_deploy_target returned it. ` +
      'Call get_deploy_target and pass its handle unchanged.',
  );

function parseClaims(value: unknown): HandleClaims {
  const parsed = claimsSchema.safeParse(value);
  if (!parsed.success) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      'The handle is malformed: its claims cannot be read. Call get_deploy_target again.',
      { cause: parsed.error },
    );
  }
  return parsed.data;
}
