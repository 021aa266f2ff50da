/**
 * `frontendops approvers adopt` records the configured approval policy of a protected stack. On a
 * stack that is not protected, or under a configuration that does not parse, it says what is wrong
 * and appends nothing.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeDeployLock } from '../../src/deploy/deploy-lock.ts';
import { type AuditEntry, readAudit } from '../../src/state/audit.ts';
import { auditEntryKey, rehash } from '../support/audit-forgery.ts';
import { STACK, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { cli } from '../support/run-cli.ts';

let t: TestDeployEnv;
let outputs: string;
beforeAll(async () => {
  t = await startDeployEnv();
  outputs = await t.writeOutputs();
});
afterAll(() => t?.stop());

const entries = async () => (await readAudit(t.site.state, t.site.target.statePrefix)).length;
const ADA = `ed25519:${'A'.repeat(43)}`;
const BOB = `ed25519:${'B'.repeat(42)}A`;
async function adopt(config: unknown, extra: readonly string[] = []) {
  const path = join(t.tmp, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, JSON.stringify(config));
  return cli(['approvers', 'adopt', '--yes', '--stack', outputs, ...extra], {
    env: { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_CONFIG: path },
    cwd: t.tmp,
  });
}

describe('approvers adopt where there is nothing to adopt', () => {
  it('a stack that is not protected: refused, saying so and how to protect it; nothing appended', async () => {
    const before = await entries();
    const run = await adopt({ protected: [], approval: { approvers: { Ada: `ed25519:${'A'.repeat(43)}` } } });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(
      new RegExp(
        `${STACK} is not protected: no approval of its changes is asked, so there is no approval policy to adopt\\. Nothing was changed\\. To protect it, list it under "protected"`,
      ),
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(await entries()).toBe(before);
  });

  it('a configuration whose approval does not parse: refused, saying which key; nothing appended', async () => {
    const before = await entries();
    const run = await adopt({ protected: [STACK], approval: { approvers: { Ada: 'not-a-key' } } });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/approval\.approvers\.Ada/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(await entries()).toBe(before);
  });
});

describe('approvers adopt while a change of the stack holds its deploy lock', () => {
  it('past --wait: refused, naming the change under way and its holder, saying what to do; nothing appended', async () => {
    // Bob's change is under way: between its check of the policy recorded and its approval's use
    // (and, on an atomic stack, the head it anchors after it), no adoption may land. Before, the
    // adoption ran beside it (exit 0).
    const held = await takeDeployLock(t.site, {
      request: { text: 'deploy', actor: 'bob', planner: 'cli', at: new Date().toISOString() },
    });
    const before = await entries();
    let run: Awaited<ReturnType<typeof adopt>>;
    try {
      run = await adopt({ protected: [STACK], approval: { approvers: { Ada: ADA } } }, ['--wait', '0']);
    } finally {
      await held.release();
    }
    expect(run.code, run.stderr).not.toBe(0);
    expect(run.stderr).toMatch(
      new RegExp(
        `Deploying to ${STACK} is locked by bob on \\S+ \\(pid \\d+\\) \\(since [^)]+\\); waited 0s\\. One deploy per environment runs at a time: wait for it to finish and try again\\. The approval policy was not adopted: nothing was changed\\. Pass --wait <seconds> to wait longer\\.`,
      ),
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).not.toMatch(/Adopted/);
    expect(await entries()).toBe(before);
  });
});

describe('approvers adopt where the newest recorded policy is damaged', () => {
  const key = (seq: number) => auditEntryKey(t.site.target.statePrefix, seq);
  /** One approver adopted, then that entry's stored text replaced by `damage` of it. */
  async function damagedAdoption(damage: (stored: string) => string) {
    // An approver of its own each time: each case adopts a policy the log does not record yet.
    const name = `Ada${Math.random().toString(36).slice(2, 8)}`;
    const adopted = await adopt({ protected: [STACK], approval: { approvers: { [name]: ADA } } });
    expect(adopted.code, adopted.stderr).toBe(0);
    const seq = Number(/entry (\d+) of the audit log/.exec(adopted.stdout)?.[1]);
    const stored = await t.site.state.get(key(seq));
    if (!stored) throw new Error(`entry ${seq} is not stored`);
    const text = stored.body.toString('utf8');
    await t.site.state.put(key(seq), damage(text), { contentType: 'application/json' });
    return { seq, restore: () => t.site.state.put(key(seq), text, { contentType: 'application/json' }) };
  }

  it.each([
    [
      'its approvers edited (its hash no longer matches)',
      (text: string) => text.replace(ADA, BOB),
      /changed after it was written/,
    ],
    ['cut short (not JSON)', (text: string) => text.slice(0, 40), /is damaged \(it is not valid JSON/],
    [
      'its policy replaced by one FrontendOps never writes, hashed again',
      (text: string) => {
        const entry = JSON.parse(text) as AuditEntry;
        return JSON.stringify(rehash({ ...entry, data: { ...entry.data, policy: { approvers: 'anyone' } } }));
      },
      /says who approves its changes in a way FrontendOps never writes/,
    ],
  ])(
    '%s: refused, saying what is wrong, that nothing changed, and to run audit verify and restore it',
    async (_, damage, what) => {
      const { seq, restore } = await damagedAdoption(damage);
      try {
        const before = await entries().catch(() => null);
        const run = await adopt({ protected: [STACK], approval: { approvers: { Ada: ADA, Bob: BOB } } });
        expect(run.code, run.stderr).not.toBe(0);
        expect(run.stderr).toMatch(what);
        expect(run.stderr).toMatch(new RegExp(`entry ${seq}|${String(seq).padStart(10, '0')}`));
        expect(run.stderr).toMatch(/Nothing was changed/);
        expect(run.stderr).toMatch(/frontendops audit verify/);
        expect(run.stderr).toMatch(/restore (it|entry \d+) from the bucket's versions/);
        expect(run.stderr).not.toMatch(/\n\s+at /);
        expect(run.stdout).not.toMatch(/Adopted/);
        await restore();
        if (before !== null) expect(await entries()).toBe(before);
      } finally {
        await restore();
      }
    },
  );
});
