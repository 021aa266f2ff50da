/**
 * The digest the audit chain binds a state object with (an entry's `objects`), and the one a signed
 * approval names a policy by: kept apart from audit.ts so that what the chain's checks use
 * (approval-policy.ts, approval-evidence.ts) needs nothing of audit.ts, which imports them.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { badInput } from '../errors.ts';

/**
 * The digest a binding carries: sha256 of the canonical JSON (so formatting does not matter). Throws
 * BAD_INPUT for a value canonical JSON cannot carry (a lone UTF-16 surrogate, a number such as 1e999,
 * which JSON.parse reads as Infinity): the tool never binds one (state writes check first, see
 * records.ts), and verify reports an object holding one (digestOrNull) rather than throwing.
 */
export function stateDigest(value: unknown): string {
  let canonical: string | undefined;
  try {
    canonical = canonicalize(value);
  } catch (error) {
    throw badInput(
      `This cannot be recorded: ${(error as Error).message.replace(/\.$/, '')} (text with half of a UTF-16 surrogate pair, or a number JSON cannot carry). Nothing was written; send well-formed text.`,
    );
  }
  return `sha256:${createHash('sha256')
    .update(canonical ?? '')
    .digest('hex')}`;
}

/** stateDigest, or null for content no digest can be made of (what was read, never what the tool wrote). */
export function digestOrNull(value: unknown): string | null {
  try {
    return stateDigest(value);
  } catch {
    return null;
  }
}
