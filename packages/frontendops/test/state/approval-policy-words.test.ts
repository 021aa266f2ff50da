/**
 * What an approver is shown an approval adopts (policyChanges), for approvers whose names are those of
 * a plain object's own properties: "constructor", "toString" and the like are names a person may
 * choose (APPROVER_NAME), and a configuration, a change to the repository, may list one.
 */
import { describe, expect, it } from 'vitest';
import type { ApprovalPolicy } from '../../src/config.ts';
import { policyChanges } from '../../src/state/approval-policy.ts';

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
});
