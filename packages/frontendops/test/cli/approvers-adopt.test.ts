/**
 * `frontendops approvers adopt` records the configured approval policy of a protected stack. On a
 * stack that is not protected, or under a configuration that does not parse, it says what is wrong
 * and appends nothing.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit } from '../../src/state/audit.ts';
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
async function adopt(config: unknown) {
  const path = join(t.tmp, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, JSON.stringify(config));
  return cli(['approvers', 'adopt', '--yes', '--stack', outputs], {
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
