/**
 * What an approver is shown an approval adopts (policyChanges), for approvers whose names are those of
 * a plain object's own properties: "constructor", "toString" and the like are names a person may
 * choose (APPROVER_NAME), and a configuration, a change to the repository, may list one.
 */
import { describe, expect, it } from 'vitest';
import type { ApprovalPolicy } from '../../src/config.ts';
import { canonicalPolicy, policyChanges, policyDigest, recordedIn } from '../../src/state/approval-policy.ts';

const KEY = `ed25519:${'A'.repeat(43)}`;
const policy = (approvers: Record<string, string>): ApprovalPolicy => ({
  approvers,
  trustElicitation: false,
});

describe('policyChanges', () => {
  it('an approver named "constructor" or "toString" is added, not said to replace a key', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      expect(policyChanges(policy({ ada: KEY }), policy({ ada: KEY, [name]: KEY }))).toEqual([
        `adds approver ${name} (${KEY})`,
      ]);
      expect(policyChanges(null, policy({ [name]: KEY }))).toEqual([
        `records it for the first time: it adds approver ${name} (${KEY})`,
      ]);
    }
  });

  it('the ids of a GitHub job’s repository are part of the policy: dropping them is a change, shown; none named is said', () => {
    const github = {
      repository: 'sophia/dashboard',
      environment: 'production',
      actions: ['deploy' as const],
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'frontendops',
    };
    const byName: ApprovalPolicy = { ...policy({}), github };
    const byIds: ApprovalPolicy = {
      ...policy({}),
      github: { ...github, repositoryId: '700100200', ownerId: '600100200' },
    };
    expect(canonicalPolicy(byIds).github).toMatchObject({ repositoryId: '700100200', ownerId: '600100200' });
    // A policy recorded before ids were keeps its digest: no key is added where none is named.
    expect(Object.keys(canonicalPolicy(byName).github ?? {})).not.toContain('repositoryId');
    expect(policyDigest(byIds)).not.toBe(policyDigest(byName));
    // What an entry records is read back with its ids; ids FrontendOps never writes are no policy.
    expect(recordedIn({ seq: 3, data: { policy: canonicalPolicy(byIds) } })).toEqual(canonicalPolicy(byIds));
    const written = { ...byIds, github: { ...github, repositoryId: 'sophia', ownerId: '600100200' } };
    expect(recordedIn({ seq: 3, data: { policy: written } })).toEqual({
      problem: 'entry 3 records an approval policy that FrontendOps never writes',
    });
    expect(policyChanges(byIds, byName)).toEqual([
      'replaces the GitHub environment "production" of sophia/dashboard (approving deploy; issuer https://token.actions.githubusercontent.com, audience frontendops; repository id 700100200, owner id 600100200) with the GitHub environment "production" of sophia/dashboard (approving deploy; issuer https://token.actions.githubusercontent.com, audience frontendops; by name only: no repositoryId or ownerId binds it)',
    ]);
  });
});
