/**
 * Claims a server seals for a client to carry and hand back unchanged: `<prefix>.<claims>.<mac>`,
 * the claims in base64url JSON (readable, nothing secret) and an HMAC-SHA256 over the prefix and
 * them, so they cannot be forged or altered without the key. The prefix names the kind of token (a
 * deploy-target handle, a deployment receipt) and is under the MAC, so one kind never passes for
 * another. Each kind keeps its own schema and its own words for a refusal.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const mac = (key: Buffer, prefix: string, body: string) =>
  createHmac('sha256', key).update(`${prefix}.${body}`).digest();

export function seal(key: Buffer, prefix: string, claims: unknown): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${prefix}.${body}.${mac(key, prefix, body).toString('base64url')}`;
}

/**
 * What a token sealed with this key and prefix claims: `claims` is its JSON, still to be checked
 * against the kind's schema (undefined when unreadable). 'malformed': not `<prefix>.<claims>.<mac>`;
 * 'forged': the MAC does not match (altered, another key, another kind).
 */
export function unseal(
  key: Buffer,
  prefix: string,
  token: string,
): { claims: unknown } | 'malformed' | 'forged' {
  const parts = split(prefix, token);
  if (!parts) return 'malformed';
  const expected = mac(key, prefix, parts.body);
  const given = Buffer.from(parts.signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'forged';
  return { claims: readBody(parts.body) };
}

/** What a token claims WITHOUT checking its MAC: for showing what it says, never for trusting it. */
export function peek(prefix: string, token: string): { claims: unknown } | 'malformed' {
  const parts = split(prefix, token);
  return parts ? { claims: readBody(parts.body) } : 'malformed';
}

function split(prefix: string, token: string): { body: string; signature: string } | null {
  const parts = token.trim().split('.');
  return parts.length === 3 && parts[0] === prefix && parts[1] && parts[2]
    ? { body: parts[1], signature: parts[2] }
    : null;
}

function readBody(body: string): unknown {
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}
