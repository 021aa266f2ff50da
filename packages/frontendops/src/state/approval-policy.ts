/**
 * Who may approve a protected stack's changes, as the audit log records it. The configuration says
 * who approves, but whoever can change frontendops.config.json (a pull request merged without care,
 * a branch a workflow runs with its own checkout) could otherwise list their own key, point
 * `approval.github` at an environment without reviewers, or turn on `trustElicitation`, and approve
 * the next change themselves. So:
 * - each change made on an approval records, in its `approval-used` entry, the configured policy it
 *   was judged under (canonicalPolicy): the chain's newest such record is the stack's recorded policy;
 * - an approval counts only where both the configuration and the recorded policy accept it
 *   (acceptedByBoth, as for one environment under two names); with none recorded (a chain from
 *   before this record, a new environment) the configuration counts, and the first approved change
 *   records it: trust on first use;
 * - an approval that counts adopts the configured policy (its entry records it), so adding an
 *   approver takes one approval by an approver already recorded, who is shown what it adopts
 *   (policyChanges); removing one takes effect at once;
 * - when no recorded approver is left, whoever holds the deployer's credentials records the
 *   configured policy (`frontendops approvers adopt`: an `approval-policy` entry).
 * The reads and the adoption's entry are approval-in-force.ts's: this module only shapes and words the
 * policy, so the audit chain's checks (approval-evidence.ts) can use it without importing audit.ts back.
 */
import {
  type ApprovalPolicy,
  acceptedByBoth,
  approvalConfigSchema,
  approvalPolicyFor,
  type Config,
} from '../config.ts';
import { ADOPTS } from '../contract/approval-question.ts';
import type { AuditEntry } from './audit-entry.ts';
import { stateDigest } from './state-digest.ts';

/** The entry `frontendops approvers adopt` appends: the configured policy, recorded by the deployer. */
export const POLICY_ADOPTED = 'approval-policy';

/** Whether an entry records an approval policy (`data.policy`): a use of an approval, or an adoption. */
export const recordsPolicy = (entry: Pick<AuditEntry, 'type' | 'data'>): boolean =>
  (entry.type === 'approval-used' || entry.type === POLICY_ADOPTED) && entry.data.policy !== undefined;

/** A policy in the one form entries record it: approvers by name, GitHub's job, trustElicitation. */
export function canonicalPolicy(policy: ApprovalPolicy): ApprovalPolicy {
  const approvers = Object.fromEntries(
    Object.entries(policy.approvers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const github = policy.github;
  return {
    approvers,
    ...(github
      ? {
          github: {
            repository: github.repository,
            // Only where named: a policy recorded before ids were keeps its digest.
            ...(github.repositoryId === undefined ? {} : { repositoryId: github.repositoryId }),
            ...(github.ownerId === undefined ? {} : { ownerId: github.ownerId }),
            environment: github.environment,
            actions: [...new Set(github.actions)].sort(),
            issuer: github.issuer,
            audience: github.audience,
          },
        }
      : {}),
    trustElicitation: policy.trustElicitation,
  };
}

/**
 * The digest of a configured approval policy, as a signed approval names the one its approver was
 * shown what it adopts of: the same policy in any order of its keys has the same digest.
 */
export const policyDigest = (policy: ApprovalPolicy): string => stateDigest(canonicalPolicy(policy));

/** The policy an entry records, or why it is none FrontendOps writes. */
export function recordedIn(entry: Pick<AuditEntry, 'seq' | 'data'>): ApprovalPolicy | { problem: string } {
  const parsed = approvalConfigSchema.safeParse(entry.data.policy);
  return parsed.success
    ? canonicalPolicy(parsed.data)
    : { problem: `entry ${entry.seq} records an approval policy that FrontendOps never writes` };
}

/** The policy that decides an approval now, and the two it comes from. */
export interface PolicyInForce {
  /** What both accept (acceptedByBoth), or the configuration's where none is recorded. */
  policy: ApprovalPolicy;
  /** The configuration's: what an approval that counts records (and adopts). */
  configured: ApprovalPolicy;
  /** The chain's newest record of one; null where none is recorded. */
  recorded: ApprovalPolicy | null;
}

/** The policy in force where the configuration says `configured` and the chain records `recorded` (null: none). */
export function policyInForce(configured: ApprovalPolicy, recorded: ApprovalPolicy | null): PolicyInForce {
  const mine = canonicalPolicy(configured);
  return recorded
    ? { policy: canonicalPolicy(acceptedByBoth(mine, recorded)), configured: mine, recorded }
    : { policy: mine, configured: mine, recorded: null };
}

const approverWords = (name: string, key: string) => `approver ${name} (${key})`;
const githubWords = (github: NonNullable<ApprovalPolicy['github']>) =>
  `the GitHub environment "${github.environment}" of ${github.repository} (approving ${github.actions.join(', ')}; issuer ${github.issuer}, audience ${github.audience}; ${githubIdsWords(github)})`;

/**
 * The ids a GitHub policy holds a job's repository to, in words; where it names none, that its name
 * alone is checked: a repository re-created under it, or the name taken by another owner, approves.
 */
export const githubIdsWords = (
  github: Pick<NonNullable<ApprovalPolicy['github']>, 'repositoryId' | 'ownerId'>,
) =>
  github.repositoryId === undefined && github.ownerId === undefined
    ? 'by name only: no repositoryId or ownerId binds it'
    : [
        github.repositoryId === undefined ? 'any repository id' : `repository id ${github.repositoryId}`,
        github.ownerId === undefined ? 'any owner id' : `owner id ${github.ownerId}`,
      ].join(', ');

/**
 * The protected stacks whose GitHub job is named by its repository's name only (approval.github
 * without repositoryId and ownerId), a warning each, for the server that checks the jobs' tokens.
 */
export function unboundJobWarnings(config: Config): string[] {
  return [...new Set(config.protected)].flatMap((stack) => {
    const github = approvalPolicyFor(config, stack).github;
    const missing = (['repositoryId', 'ownerId'] as const).filter((key) => github?.[key] === undefined);
    if (!github || missing.length === 0) return [];
    return [
      `approval.github of ${stack} names ${github.repository} without ${missing.join(' or ')}: a repository deleted and created again under that name, or the name taken by another owner, would approve its changes through a "${github.environment}" environment of its own. Add ${missing.map((key) => `"${key}"`).join(' and ')} to it in frontendops.config.json (\`gh api repos/${github.repository} --jq '.id, .owner.id'\` prints the repository's and the owner's).`,
    ];
  });
}

/**
 * What adopting `to` changes of `from` (the recorded policy; null: none recorded), in words, one
 * part each: what an approver is shown before their approval adopts it. Empty: nothing.
 */
export function policyChanges(from: ApprovalPolicy | null, to: ApprovalPolicy): string[] {
  const was = from ?? { approvers: {}, trustElicitation: false };
  const changes: string[] = [];
  for (const [name, key] of Object.entries(to.approvers)) {
    // Own names only: "constructor" is a name a person may have, and every object's inherited one.
    const before = Object.hasOwn(was.approvers, name) ? was.approvers[name] : undefined;
    if (before === undefined) changes.push(`adds ${approverWords(name, key)}`);
    else if (before !== key) changes.push(`replaces the key of approver ${name} with ${key}`);
  }
  for (const name of Object.keys(was.approvers))
    if (!Object.hasOwn(to.approvers, name)) changes.push(`removes approver ${name}`);
  const [a, b] = [was.github, to.github];
  if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null)) {
    if (a && b) changes.push(`replaces ${githubWords(a)} with ${githubWords(b)}`);
    else if (b) changes.push(`adds ${githubWords(b)}`);
    else if (a) changes.push(`removes ${githubWords(a)}`);
  }
  if (was.trustElicitation !== to.trustElicitation)
    changes.push(`turns trustElicitation ${to.trustElicitation ? 'on' : 'off'}`);
  if (from === null && changes.length > 0) return [`records it for the first time: it ${changes.join(', ')}`];
  return changes;
}

const CONFIGURED = 'the approval policy in frontendops.config.json';

/** The sentence an approver is shown when their approval would adopt the configuration's policy; null: it adopts nothing new. */
export function adoptionWords(inForce: PolicyInForce): string | null {
  if (inForce.recorded === null) return null;
  const changes = policyChanges(inForce.recorded, inForce.configured);
  return changes.length > 0 ? `${ADOPTS}${CONFIGURED}: ${changes.join('; ')}.` : null;
}

/**
 * What `frontendops approve` tells an approver whose configuration is not the one the server asked
 * under (`asked`: the request's policyDigest; absent from requests from before it was named): their
 * approval then adopts no policy (it names none), since what it would adopt was not shown to them.
 * null: the same, or not known.
 */
export function otherPolicyWords(asked: string | undefined, inForce: PolicyInForce): string | null {
  if (asked === undefined || asked === policyDigest(inForce.configured)) return null;
  return `The server asked for this approval under another approval policy than the one in your frontendops.config.json (your checkout is not the configuration the server runs with, or one of them changed since): this approval counts for this change but adopts no approval policy.`;
}

/**
 * What a change's result says of an approval that counted but adopted nothing (it records the
 * policy in force) where the configuration accepts more: what it did not adopt, and why (`why`).
 * null: the configuration accepts nothing more, or none was recorded (the first use records it).
 */
export function adoptedNothingWords(inForce: PolicyInForce, why: string): string | null {
  if (inForce.recorded === null) return null;
  const changes = policyChanges(inForce.policy, inForce.configured);
  return changes.length > 0 ? `it adopted nothing of ${CONFIGURED} (it ${changes.join('; ')}): ${why}` : null;
}

/**
 * Who approved a change and how, as its result says (the infra server's `approvedBy`, the CLI job's
 * --yes), with what it did not adopt (`note`: adoptedNothingWords); null where nothing needed approving.
 */
export const approvedByOf = (gate: { by: string; via: string; note?: string | null }): string | null =>
  gate.via === 'unprotected' ? null : `${gate.by} (${gate.via}${gate.note ? `; ${gate.note}` : ''})`;

/**
 * What an entry that records `to` (recordsPolicy) changed of who approves, where `from` was recorded
 * before it (null: none), in words, as the history lists it: who adopted it (`approvers adopt`, or
 * an approval), then policyChanges; null where it changed nothing (an approval under the same policy).
 */
export function adoptedWords(
  entry: Pick<AuditEntry, 'type' | 'data'>,
  from: ApprovalPolicy | null,
  to: ApprovalPolicy,
): string | null {
  const changes = policyChanges(from, to);
  if (changes.length === 0) return null;
  const { by, via, action, deployId } = entry.data;
  const who =
    entry.type === POLICY_ADOPTED
      ? `${by} adopted ${CONFIGURED} without an approval (\`frontendops approvers adopt\`)`
      : `The approval of ${action} ${deployId} by ${by}, ${via}, also adopted ${CONFIGURED}`;
  return `${who}: ${changes.join('; ')}.`;
}

/**
 * What the configuration accepts that the audit log does not record for `stack` (so it does not
 * count), in words, one part each; and, where there is any, how it is adopted. `job`: only the parts
 * that decide a GitHub job's approval (its environment and actions), for a job's refusal: the
 * approvers and trustElicitation are for `approve` and the infra server.
 */
export function notRecorded(inForce: PolicyInForce, stack: string, of: 'all' | 'job' = 'all'): string[] {
  const { configured, policy } = inForce;
  const parts: string[] = [];
  for (const [name, key] of of === 'job' ? [] : Object.entries(configured.approvers)) {
    if (policy.approvers[name] !== key)
      parts.push(`the audit log does not record "${name}" (${key}) as an approver of ${stack}`);
  }
  const github = configured.github;
  const missing = github?.actions.filter((action) => !policy.github?.actions.includes(action)) ?? [];
  if (github && missing.length > 0) {
    parts.push(
      policy.github
        ? `the audit log does not record that the GitHub environment "${github.environment}" of ${github.repository} approves ${missing.join(', ')} of ${stack}`
        : `the audit log does not record the GitHub environment "${github.environment}" of ${github.repository} as one that approves ${stack}'s changes`,
    );
  }
  if (of === 'all' && configured.trustElicitation && !policy.trustElicitation)
    parts.push(
      `the audit log does not record trustElicitation for ${stack} (an MCP client's answer counting as an approval)`,
    );
  return parts;
}

/** How a configured policy the audit log does not record comes to count. */
export function howToAdopt(inForce: PolicyInForce, stack: string): string {
  const recorded = Object.keys(inForce.policy.approvers);
  return `only what the audit log records counts: an approval by an approver it records${recorded.length > 0 ? ` (${recorded.join(', ')})` : ''} adopts the approval policy in frontendops.config.json with the change it approves; if none of them can approve, whoever holds the deployer's credentials records it with \`frontendops approvers adopt --stack ${stack}\``;
}
