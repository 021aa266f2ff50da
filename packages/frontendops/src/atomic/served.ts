/**
 * What a release store serves when FrontendOps refuses it as another environment's: status and
 * `audit verify` still hold that to the chain (release-pointer.ts says why the key exists).
 */
import { isFrontendOpsError } from '../errors.ts';
import type { ReleasePointerRead, ReleaseStore } from '../ports.ts';

/**
 * What a store refused as another environment's (its key ENVIRONMENT_KEY naming another, or none
 * beside a live release its stack's state does not record: CONFLICT) still serves: the refusal carries
 * its read (`details.served`), for readers that hold what the CDN serves to the chain (status, `audit
 * verify`). The deployer role can write that key as it can the pointer: rewritten beside a pointer it
 * switched, the refusal must not hide the switch as a store that did not answer. Undefined: no such
 * refusal (or its pointer is not valid: isInvalidReleasePointer says that).
 */
export function servedDespiteOwner(error: unknown): ReleasePointerRead | undefined {
  if (!isFrontendOpsError(error, 'CONFLICT')) return undefined;
  const served = error.details?.served as ReleasePointerRead | undefined;
  return served && typeof served.etag === 'string' ? served : undefined;
}

/** A reader of what `releases` serves, a refusal as another environment's read as what it serves. */
export const servedReader = (releases: Pick<ReleaseStore, 'read'>): Pick<ReleaseStore, 'read'> => ({
  read: () =>
    releases.read().catch((error: unknown) => {
      const served = servedDespiteOwner(error);
      if (served) return served;
      throw error;
    }),
});
