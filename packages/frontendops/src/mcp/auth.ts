/**
 * Bearer-token check for the HTTP transport. Both sides are hashed to a fixed length first so the
 * comparison is constant-time whatever the lengths (timingSafeEqual needs equal-length inputs).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { badInput } from '../errors.ts';

/** Environment variable the CLI reads the HTTP token from. */
export const MCP_TOKEN_ENV = 'FRONTENDOPS_MCP_TOKEN';
const MIN_TOKEN_LENGTH = 16;

export function isAuthorized(authorizationHeader: string | undefined, token: string): boolean {
  const match = /^Bearer (\S+)$/i.exec(authorizationHeader ?? '');
  const presented = match?.[1] ?? '';
  return timingSafeEqual(digest(presented), digest(token)) && presented.length > 0;
}

/** The token, checked: BAD_INPUT (saying how to make one) when it is missing or too short. */
export function usableToken(token: string | undefined): string {
  assertUsableToken(token);
  return token;
}

export function assertUsableToken(token: string | undefined): asserts token is string {
  if (!token || token.length < MIN_TOKEN_LENGTH) {
    throw badInput(
      `Serving MCP over HTTP needs a bearer token of at least ${MIN_TOKEN_LENGTH} characters in ` +
        `${MCP_TOKEN_ENV}${token ? ' (the one given is too short)' : ' (it is not set)'}. ` +
        `Set it, e.g. \`export ${MCP_TOKEN_ENV}=$(openssl rand -hex 32)\`, and give the same value to the client.`,
    );
  }
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
