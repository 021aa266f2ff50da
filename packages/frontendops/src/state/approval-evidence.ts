/**
 * What a signed approval is, and how the audit chain's record of one is checked.
 *
 * An approver signs a statement (stack, action, deploy id, the digest of the change they were shown,
 * the request's nonce and expiry, who they are, their public key). The server accepts it only from a key the stack's configuration lists
 * (approvals.ts checkSignedApproval), and the chain records it twice: when it is given (`approval`)
 * and when a change uses it (`approval-used`). Both entries carry the signed statement itself, so
 * that the record cannot be made up by whoever can append to the chain (the deployer role): "Ada
 * approved" is only as good as Ada's signature under it.
 *
 * `audit verify` checks each such entry (checkApprovalEntries):
 * - the signature verifies under the statement's key, and the entry says what the statement says
 *   (stack, action, deploy id, approver, key): else TAMPERED;
 * - a change whose entry names the approval it used follows a use of it, and says what its statement
 *   says: its deploy id and, for a canary start, its share of visitors (changesHeldToTheirApprovals):
 *   else the change's entry is TAMPERED;
 * - it was recorded before the approval's hour ended, and each approval is used once: else TAMPERED
 *   (not "after it was signed": the approver's clock may run ahead of the server's). "Recorded" is
 *   not only the entry's own time, which its writer chose: an entry after one of a later time was
 *   written no earlier than that;
 * - the key is the one the approval policy the chain recorded before it lists under that name (a
 *   first use: the one it records itself; approval-policy.ts); in a chain that records none, the one
 *   the stack's configuration lists now: else it is left unchecked, with the reason;
 * - where the recorded policy changed, and each approval by an approver such a change added, is
 *   named (`adopted`): not a fault, but what a reader of the log should see;
 * - a use of a signed approval that adopted a policy accepting more than the one recorded before it
 *   adopted the one its statement names (policyDigest: what its approver was shown): else TAMPERED;
 *   where the statement names none (signed by a FrontendOps from before it did), unchecked;
 * - an entry without its statement (written by a FrontendOps from before entries carried it) is
 *   checked against the statement the server stored when the approval was given
 *   (`approvals/signed/<action>-<deploy id>.json`, bound by the chain): every signed approval ever
 *   accepted has one. None stored: nobody signed it, TAMPERED. Not given the store's statements (a
 *   caller without the bucket), such an entry is unchecked.
 *
 * Approvals on someone's word (a client's answer to the server's question, the server's own
 * approver, a GitHub environment's) carry nothing verify can check. A record of one the stack's
 * configuration does not accept now (`trustElicitation` off, no `github`) is unchecked, with the
 * reason: the configuration may have been changed since, or the record written by hand.
 */
import { z } from 'zod';
import { keyFingerprint, verifyStatement } from '../approval/keys.ts';
import { type ApprovalPolicy, acceptedByBoth } from '../config.ts';
import { DEPLOY_ID } from '../engine/ids.ts';
import { APPROVAL_ACTIONS, type ApprovalAction, type ObjectStore } from '../ports.ts';
import {
  canonicalPolicy,
  POLICY_ADOPTED,
  policyChanges,
  policyDigest,
  recordedIn,
  recordsPolicy,
} from './approval-policy.ts';
import type { AuditEntry, AuditProblem } from './audit-entry.ts';
import { APPROVALS_SIGNED, APPROVALS_USED, approvalName } from './names.ts';

/** How long a request (and so any approval of it) stays usable. */
export const APPROVAL_TTL_MS = 60 * 60_000;
/** How far another machine's clock may run ahead of this one's. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** What an approver signs: the request it answers, and who they are. */
export const statementSchema = z.object({
  v: z.literal(1),
  stack: z.string(),
  action: z.enum(APPROVAL_ACTIONS),
  deployId: z.string(),
  nonce: z.string(),
  expiresAt: z.string(),
  /** A canary's share of visitors, as the approver was shown it. */
  weight: z.number().optional(),
  /** The digest of the change the approver was shown (approvals.ts changeDigest); absent before it was named. */
  change: z.string().optional(),
  /**
   * The digest of the configuration's approval policy as the approver was shown what their approval
   * adopts of it (approvals.ts policyDigest); absent before it was named. Its use adopts that policy
   * only where the configuration still says it.
   */
  policy: z.string().optional(),
  approver: z.string(),
  publicKey: z.string(),
  signedAt: z.string(),
});
export type ApprovalStatement = z.infer<typeof statementSchema>;
export const signedSchema = z.object({ statement: statementSchema, signature: z.string() });
/** A statement with its signature: what `approvals/signed/…` holds, and what the entries carry (`signed`). */
export type SignedStatement = z.infer<typeof signedSchema>;

/** How a use of a signed approval names its approver (the `by` of its entry and of the change). */
export const signedApprover = (statement: Pick<ApprovalStatement, 'approver' | 'publicKey'>) =>
  `${statement.approver} (approver key ${keyFingerprint(statement.publicKey)})`;

/** Which approvals other than signed ones the stack's configuration accepts now. */
export interface ApprovalsAccepted {
  /** A client's answer to the server's question, or the server's approver (`trustElicitation`). */
  elicitation: boolean;
  /** A GitHub environment's approval (`approval.github`). */
  githubEnvironment: boolean;
}

/** Where an approval on someone's word came from, as the entries record it, and the setting that accepts it. */
const ON_WORD: Record<string, { from: string; setting: keyof ApprovalsAccepted; unset: string }> = {
  elicitation: { from: "an MCP client's answer", setting: 'elicitation', unset: 'trustElicitation is off' },
  approver: { from: "the server's approver", setting: 'elicitation', unset: 'trustElicitation is off' },
  'github-environment': {
    from: "a GitHub environment's approval",
    setting: 'githubEnvironment',
    unset: 'it has no approval.github',
  },
};

/** The decisions an `approval` entry records, and how an approval that counted came (what FrontendOps writes). */
const DECISIONS = new Set(['approved', 'declined', 'rejected']);
const APPROVED_VIA = new Set(['signed', 'elicitation', 'approver', 'github-environment']);

export interface ApprovalsChecked {
  /** Entries recording a signed approval whose statement, signature and key all check out. */
  checked: number;
  /** Entries recording a signed approval that could not be checked, and why (not a forgery shown, not one ruled out). */
  unchecked: { seq: number; reason: string }[];
  /**
   * Where the recorded approval policy changed (approval-policy.ts), and the approvals that counted
   * only through such a change (by an approver it added): what a reader of the log should know of.
   */
  adopted: { seq: number; reason: string }[];
}

/**
 * The chain's records of signed approvals, checked (see the module's comment). `approvers` is the
 * stack's configuration (name → public key); without it no key can be held against a name, and
 * every record stays unchecked after its signature and contents were.
 */
export function checkApprovalEntries(
  entries: readonly AuditEntry[],
  approvers?: Readonly<Record<string, string>>,
  accepts?: ApprovalsAccepted,
  /** For entries that do not carry their statement: what the store holds for them (storedStatements). */
  stored?: ReadonlyMap<number, StoredStatement>,
): ApprovalsChecked & { problems: AuditProblem[] } {
  const problems: AuditProblem[] = [];
  const unchecked: ApprovalsChecked['unchecked'] = [];
  const adopted: ApprovalsChecked['adopted'] = [];
  /** The approval policy the chain recorded up to the entry at hand (null: none yet). */
  let recorded: ApprovalPolicy | null = null;
  /** Each approver's key an adoption added after the first policy recorded, and the entry that did. */
  const addedBy = new Map<string, number>();
  const usedBy = new Map<string, number>();
  let checked = 0;
  const givenBy = new Map<string, number>();
  /** Uses of a signed approval that checked out (seq → the statement): what a change naming one is held to. */
  const checkedUses = new Map<number, ApprovalStatement>();
  /** The latest time any earlier entry records, and which: no entry is written before them. */
  let latest = { at: Number.NEGATIVE_INFINITY, seq: 0, text: '' };
  for (const entry of entries) {
    const before = latest;
    const time = Date.parse(entry.at);
    if (time > latest.at) latest = { at: time, seq: entry.seq, text: entry.at };
    // An approval is judged under the policy recorded before it; a first use, under the one it records.
    const judgedUnder = recorded;
    const own = recordsPolicy(entry) ? recordedIn(entry) : null;
    if (own && 'problem' in own) {
      problems.push({ kind: 'tampered', seq: entry.seq, reason: own.problem });
    } else if (own) {
      const changes = policyChanges(recorded, own);
      if (changes.length > 0 && (recorded !== null || entry.type === POLICY_ADOPTED)) {
        adopted.push({
          seq: entry.seq,
          reason:
            entry.type === POLICY_ADOPTED
              ? `${String(entry.data.by ?? 'someone').slice(0, 80)} adopted the approval policy without an approval (frontendops approvers adopt): it ${changes.join('; ')}`
              : `the approval it records used also adopted the approval policy of the configuration: it ${changes.join('; ')}`,
        });
        for (const [name, key] of Object.entries(own.approvers))
          if (recorded?.approvers[name] !== key) addedBy.set(`${name}\n${key}`, entry.seq);
      }
      recorded = own;
    }
    const ownPolicy = own && !('problem' in own) ? own : null;
    const policy =
      judgedUnder && ownPolicy ? acceptedByBoth(judgedUnder, ownPolicy) : (judgedUnder ?? ownPolicy);
    const use = entry.type === 'approval-used';
    const decision = entry.type === 'approval' ? entry.data.decision : undefined;
    const tampered = (reason: string) =>
      problems.push({ kind: 'tampered', seq: entry.seq, reason: `entry ${entry.seq}: ${reason}` });
    const shown = (value: unknown) => JSON.stringify(value ?? null).slice(0, 40);
    if (entry.type === 'approval' && !DECISIONS.has(String(decision))) {
      tampered(
        `it records an approval decided ${shown(decision)}, which FrontendOps never writes (approved, declined or rejected)`,
      );
      continue;
    }
    const given = decision === 'approved';
    if (!(use || given)) continue;
    const what = use ? 'a use of an approval' : 'an approval';
    const by = String(entry.data.by ?? '').slice(0, 80);
    if (!APPROVED_VIA.has(String(entry.data.via))) {
      // A spelling nothing checks ("Signed", none at all) would otherwise pass as an approval nobody vouches for.
      tampered(
        `it records ${what} by ${by} via ${shown(entry.data.via)}, which FrontendOps never writes (${[...APPROVED_VIA].join(', ')})`,
      );
      continue;
    }
    const onWord = ON_WORD[String(entry.data.via)];
    if (onWord) {
      if (policy) {
        const accepted =
          onWord.setting === 'elicitation' ? policy.trustElicitation : policy.github !== undefined;
        if (!accepted)
          unchecked.push({
            seq: entry.seq,
            reason: `it records ${what} by ${by} on ${onWord.from}, which the approval policy the audit log recorded then does not accept (${onWord.unset} there): written by hand, or by a FrontendOps that does not hold approvals to it`,
          });
        continue;
      }
      if (accepts && !accepts[onWord.setting])
        unchecked.push({
          seq: entry.seq,
          reason: `it records ${what} by ${by} on ${onWord.from}, which the stack's configuration does not accept now (${onWord.unset}): made under an earlier configuration, or written by hand`,
        });
      continue;
    }
    if (entry.data.via !== 'signed') continue;
    const carried = statementOf(entry, use, stored);
    if ('tampered' in carried) {
      tampered(`it records ${what} signed by ${by} ${carried.tampered}`);
      continue;
    }
    if ('unchecked' in carried) {
      unchecked.push({ seq: entry.seq, reason: `it records ${what} signed by ${by} ${carried.unchecked}` });
      continue;
    }
    const parsed = signedSchema.safeParse(carried.value);
    if (!parsed.success) {
      tampered('what it records as the signed statement of an approval is not one');
      continue;
    }
    const { statement, signature } = parsed.data;
    if (!verifyStatement(statement.publicKey, statement, signature)) {
      tampered(
        `the signature of the approval it records does not verify (the statement was edited after it was signed, or forged)`,
      );
      continue;
    }
    const differs = differences(entry, statement, use);
    if (differs.length > 0) {
      tampered(
        `${differs.map(([field, said, signed]) => `it says ${field} ${said}, but the statement ${statement.approver.slice(0, 40)} signed says ${signed}`).join('; ')}: it was not written from that approval`,
      );
      continue;
    }
    // An entry's `at` is its writer's word: one appended after an entry of a later time was written
    // no earlier than that (less the clocks' skew), whatever it says. So a late use backdated into
    // the approval's hour is still late.
    const expires = Date.parse(statement.expiresAt) + CLOCK_SKEW_MS;
    if (Date.parse(entry.at) > expires) {
      tampered(`it records the approval at ${entry.at}, after it expired at ${statement.expiresAt}`);
      continue;
    }
    if (before.at - CLOCK_SKEW_MS > expires) {
      tampered(
        `it records the approval at ${entry.at}, but it comes after entry ${before.seq} of ${before.text}, when the approval had expired (at ${statement.expiresAt}): it was written late and backdated`,
      );
      continue;
    }
    // Each approval is recorded as given once and as used once.
    const once = use ? usedBy : givenBy;
    const first = once.get(statement.nonce);
    if (first !== undefined) {
      tampered(
        use
          ? `it uses an approval already used by entry ${first} (request nonce ${statement.nonce}): an approval is good for one change`
          : `it records as given an approval entry ${first} already recorded (request nonce ${statement.nonce}): an approval is given once`,
      );
      continue;
    }
    once.set(statement.nonce, entry.seq);
    const unshown =
      use && judgedUnder && ownPolicy ? adoptedUnshown(judgedUnder, ownPolicy, statement) : null;
    if (unshown && 'tampered' in unshown) {
      tampered(
        `it records that the approval ${by} signed ${unshown.tampered}: it was not written from that approval`,
      );
      continue;
    }
    if (use) checkedUses.set(entry.seq, statement);
    if (unshown) {
      unchecked.push({
        seq: entry.seq,
        reason: `it records that the approval ${by} signed ${unshown.unchecked}`,
      });
      continue;
    }
    const listed = (policy?.approvers ?? approvers)?.[statement.approver];
    if (listed === statement.publicKey) {
      checked += 1;
      const through = addedBy.get(`${statement.approver}\n${statement.publicKey}`);
      if (through !== undefined)
        adopted.push({
          seq: entry.seq,
          reason: `it records ${what} signed by ${by}, an approver the policy entry ${through} adopted added`,
        });
    } else if (policy) {
      unchecked.push({
        seq: entry.seq,
        reason: `its statement is signed by the key ${keyFingerprint(statement.publicKey)}, which the approval policy the audit log recorded then does not list under "${statement.approver.slice(0, 40)}": written by hand, or by a FrontendOps that does not hold approvals to it`,
      });
    } else {
      unchecked.push({
        seq: entry.seq,
        reason: approvers
          ? `its statement is signed by the key ${keyFingerprint(statement.publicKey)}, which the stack's configuration does not list under "${statement.approver.slice(0, 40)}" now (a key replaced since, or one that never was an approver's): hold it against the configuration of that time`
          : `its signature and contents check out, but no approver list was given to hold the key ${keyFingerprint(statement.publicKey)} against`,
      });
    }
  }
  problems.push(...changesHeldToTheirApprovals(entries, checkedUses));
  return { checked, unchecked, adopted, problems };
}

/**
 * Where a use of a signed approval records a policy that accepts more than the one recorded before
 * it (`before`), it adopted that policy: the statement must name it (its policyDigest) as the one its
 * approver was shown. Whoever can append could otherwise record Ada's approval as adopting an
 * approver she never saw. A use that adds nothing (the policy recorded before, or less) needs no
 * naming; a statement naming none is from a FrontendOps from before statements named it, and its
 * adoption stays unchecked. null: nothing to say.
 */
function adoptedUnshown(
  before: ApprovalPolicy,
  own: ApprovalPolicy,
  statement: ApprovalStatement,
): { tampered: string } | { unchecked: string } | null {
  const addsNothing =
    JSON.stringify(canonicalPolicy(acceptedByBoth(own, before))) === JSON.stringify(canonicalPolicy(own));
  if (addsNothing || statement.policy === policyDigest(own)) return null;
  const what = `adopted the approval policy of the configuration (it ${policyChanges(before, own).join('; ')})`;
  return statement.policy === undefined
    ? {
        unchecked: `${what}, but its statement names no approval policy its approver was shown (signed by a FrontendOps from before statements named it), so whether they were shown it cannot be checked`,
      }
    : {
        tampered: `${what}, which is not the policy its statement says ${statement.approver.slice(0, 40)} was shown (${statement.policy.slice(0, 80)})`,
      };
}

/** Each type, and the type its change is recorded under when it stopped and was superseded (atomic). */
function orSuperseded(...types: string[]): string[] {
  return types.flatMap((type) => [type, `${type}-superseded`]);
}

/**
 * The entry types of the changes each approval action covers (the tool contract's approval of each
 * change tool: run_sync → deploy; rollback; promote_release, a deploy, and promote_canary → promote;
 * start_canary → canary; abort_canary → abort). A change stopped and recorded as superseded keeps
 * its type in place, and is `<op>-superseded` on an atomic stack: either names the approval it used.
 */
const CHANGES_OF: Readonly<Record<ApprovalAction, readonly string[]>> = {
  deploy: orSuperseded('deploy'),
  rollback: orSuperseded('rollback'),
  promote: orSuperseded('deploy', 'canary-promote'),
  canary: orSuperseded('canary-start'),
  abort: orSuperseded('canary-abort'),
};

/**
 * A change that names the approval it used (its entry's `approval`: the request's nonce, who gave it,
 * how; written by every approved change since it existed) is held to it: an entry before it records that
 * approval used (the entry binding its "used" marker), by the same person, and where that use is of a
 * signed approval that checked out, the change is of the deploy id its approver signed and, for a
 * canary start, of the share of visitors she signed (a canary keeps its deploy id whatever its share,
 * so the share is what an approval of 5% used for 99% would differ in). Whoever can append could
 * otherwise record Ada's approval used, then a change she never approved, claiming it.
 *
 * A change naming no approval claims none, and is not held: the operator's own commands and the
 * console change a protected stack without one (their confirmation is the operator's), and a use
 * whose change stopped before its entry may be followed by such a change of the same deploy id.
 */
function changesHeldToTheirApprovals(
  entries: readonly AuditEntry[],
  checkedUses: ReadonlyMap<number, ApprovalStatement>,
): AuditProblem[] {
  const problems: AuditProblem[] = [];
  /** nonce → the entry recording that approval used (by the "used" marker it binds). */
  const usedBy = new Map<string, AuditEntry>();
  for (const entry of entries) {
    if (entry.type === 'approval-used') {
      for (const name of Object.keys(entry.objects ?? {})) {
        if (name.startsWith(APPROVALS_USED) && name.endsWith('.json'))
          usedBy.set(name.slice(APPROVALS_USED.length, -'.json'.length), entry);
      }
      continue;
    }
    const named = entry.data.approval;
    if (named === undefined) continue;
    const tampered = (reason: string) =>
      problems.push({ kind: 'tampered', seq: entry.seq, reason: `entry ${entry.seq}: ${reason}` });
    const { nonce, by, via } = (typeof named === 'object' && named !== null ? named : {}) as {
      nonce?: unknown;
      by?: unknown;
      via?: unknown;
    };
    if (typeof nonce !== 'string' || typeof by !== 'string') {
      tampered(
        `it names the approval it used as ${JSON.stringify(named).slice(0, 60)}, which FrontendOps never writes`,
      );
      continue;
    }
    const use = usedBy.get(nonce);
    if (!use) {
      tampered(
        `it names the approval of request nonce ${nonce.slice(0, 40)} (by ${by.slice(0, 80)}) as the one it used, but no entry before it records that approval used: nobody gave it for this change`,
      );
      continue;
    }
    // What the use's own entry says (its approval's action, deploy id, who and how), whatever kind
    // of approval it was: a change of another kind or deploy id is not the one it was given for.
    const differs: string[] = [];
    const action = String(use.data.action);
    // Own keys only: an action spelt "constructor" names no list (and must not crash verify).
    const covered = Object.hasOwn(CHANGES_OF, action) ? CHANGES_OF[action as ApprovalAction] : [];
    if (!covered.includes(entry.type))
      differs.push(
        `it is a ${entry.type.slice(0, 30)}, which an approval of a ${action.slice(0, 20)} does not cover`,
      );
    if (entry.data.deployId !== use.data.deployId)
      differs.push(
        `it is of deploy id ${String(entry.data.deployId).slice(0, 40)}, the use of ${String(use.data.deployId).slice(0, 40)}`,
      );
    if (use.data.by !== by)
      differs.push(
        `it says it was given by ${by.slice(0, 80)}, the use by ${String(use.data.by).slice(0, 80)}`,
      );
    if (use.data.via !== via)
      differs.push(
        `it says it came ${JSON.stringify(via ?? null).slice(0, 30)}, the use ${JSON.stringify(use.data.via ?? null).slice(0, 30)}`,
      );
    if (differs.length > 0) {
      tampered(
        `it names the approval entry ${use.seq} records used, but ${differs.join('; ')}: it was not made with that approval`,
      );
      continue;
    }
    const statement = checkedUses.get(use.seq);
    // A use of an approval on someone's word has no statement to hold the change to; a use of a
    // signed one that did not check out is reported at that use.
    if (!statement) continue;
    // The use's deploy id is its statement's (checkApprovalEntries held it to it): only the share remains.
    const departs: string[] = [];
    if (entry.type === 'canary-start' && statement.weight !== undefined) {
      const pointer = entry.data.pointer as { canary?: unknown; weight?: unknown } | undefined;
      const shares = [entry.data.weight, ...(pointer?.canary ? [pointer.weight ?? 0] : [])];
      const other = shares.findIndex((share) => share !== statement.weight);
      if (other !== -1) {
        const share = shares[other];
        departs.push(
          `sends ${typeof share === 'number' ? `${share}%` : `a share of ${JSON.stringify(share ?? null).slice(0, 20)}`} of visitors to the canary where the statement says ${statement.weight}%`,
        );
      }
    }
    if (departs.length > 0)
      tampered(
        `it names the approval entry ${use.seq} records used, signed by ${statement.approver.slice(0, 40)}, but ${departs.join(', and ')}: it was not made with that approval`,
      );
  }
  return problems;
}

/** Where an entry says otherwise than the statement it carries: [field, the entry's, the statement's]. */
function differences(
  entry: AuditEntry,
  statement: ApprovalStatement,
  use: boolean,
): [string, string, string][] {
  const said = (name: string) => String(entry.data[name] ?? '(nothing)').slice(0, 80);
  const found: [string, string, string][] = [];
  const compare = (field: string, name: string, signed: string) => {
    if (entry.data[name] !== signed) found.push([field, said(name), signed]);
  };
  compare('deploy id', 'deployId', statement.deployId);
  compare('action', 'action', statement.action);
  compare('stack', 'stack', statement.stack);
  if (use) {
    compare('approver', 'by', signedApprover(statement));
  } else {
    compare('approver', 'by', statement.approver);
    compare('key', 'key', keyFingerprint(statement.publicKey));
  }
  return found;
}

/**
 * The statements stored for the chain's records of a signed approval that do not carry theirs (seq →
 * the stored object's JSON; absent when none is stored or it is not JSON): what checkApprovalEntries
 * holds such a record against. One read per such record; chains written since records carry their
 * statement have none.
 */
export async function storedStatements(
  store: Pick<ObjectStore, 'get'>,
  prefix: string,
  entries: readonly AuditEntry[],
  /** How the chain digests a state object (audit.ts stateDigest). */
  digestOf: (value: unknown) => string,
): Promise<Map<number, StoredStatement>> {
  const bare = entries.filter(
    (e) =>
      isBareSigned(e) &&
      APPROVAL_ACTIONS.includes(e.data.action as ApprovalAction) &&
      typeof e.data.deployId === 'string' &&
      DEPLOY_ID.test(e.data.deployId),
  );
  const found = new Map<number, StoredStatement>();
  await Promise.all(
    bare.map(async (e) => {
      const object = await store.get(
        `${prefix}${APPROVALS_SIGNED}${approvalName(String(e.data.action), String(e.data.deployId))}`,
      );
      if (!object) return;
      try {
        const value: unknown = JSON.parse(object.body.toString('utf8'));
        found.set(e.seq, { value, digest: digestOf(value) });
      } catch {
        // Not JSON: nothing stored that could be a statement.
      }
    }),
  );
  return found;
}

/** A statement stored under approvals/signed/, as read, with the digest the chain binds it by. */
export interface StoredStatement {
  value: unknown;
  digest: string;
}

/**
 * The signed statement a record of a signed approval stands on: the one it carries, else the one
 * stored for its request when that is its own approval's; or why there is none to check.
 */
function statementOf(
  entry: AuditEntry,
  use: boolean,
  stored: ReadonlyMap<number, StoredStatement> | undefined,
): { value: unknown } | { tampered: string } | { unchecked: string } {
  if (!isBareSigned(entry)) return { value: entry.data.signed };
  const bare = 'without the statement its approver signed';
  const older = `${bare} (written by a FrontendOps from before entries carried it)`;
  if (!stored) return { unchecked: `${older}, and the statements stored were not read` };
  const found = stored.get(entry.seq);
  const object = `${APPROVALS_SIGNED}${approvalName(String(entry.data.action).slice(0, 20), String(entry.data.deployId).slice(0, 40))}`;
  if (found === undefined) {
    return {
      tampered: `${bare}, and no signed statement of any approval of that request is stored (${object}): nobody signed it`,
    };
  }
  // The object holds the newest approval of the request (one asked again after its hour, a canary's
  // new share): it vouches for this record only if it is this record's approval.
  if (!isTheirs(entry, use, found, object))
    return {
      unchecked: `${older}, and the statement stored for that request (${object}) is of a later approval of it`,
    };
  return { value: found.value };
}

/** A record of a signed approval given or used that does not carry its statement. */
const isBareSigned = (e: AuditEntry) =>
  (e.type === 'approval-used' || (e.type === 'approval' && e.data.decision === 'approved')) &&
  e.data.via === 'signed' &&
  e.data.signed === undefined;

/**
 * Whether the statement stored for a request is the one of this bare record's approval: a "given"
 * record bound that object with this digest when it was written; a use bound the "used" marker of
 * its approval's nonce, which the statement names.
 */
function isTheirs(entry: AuditEntry, use: boolean, stored: StoredStatement, object: string): boolean {
  const bound = entry.objects ?? {};
  if (!use) return bound[object] === stored.digest;
  const nonce = (stored.value as { statement?: { nonce?: unknown } } | null)?.statement?.nonce;
  return typeof nonce === 'string' && `${APPROVALS_USED}${nonce}.json` in bound;
}
