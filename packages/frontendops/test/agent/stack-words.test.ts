/**
 * Which words name another stack than the one the agent acts on (agent/stack-words.ts). The whole
 * refusal, end to end, is in runbook.test.ts; here, the words people write.
 */
import { describe, expect, it } from 'vitest';
import { otherStackNamed } from '../../src/agent/stack-words.ts';

const known = ['dashboard-hosting-prod', 'staging', 'local'];
const named = (text: string) => otherStackNamed(text, known, 'dashboard-hosting-prod');

describe('another stack named in the words', () => {
  it.each([
    'Deploy the latest dashboard to staging',
    'deploy the latest dashboard to "staging"',
    "what's live on 'staging'?",
    'what is live on `staging`',
    'Deploy the latest dashboard to “staging”.',
    'Deploy it into the staging',
  ])('%s: refused, naming it', (text) => {
    expect(named(text)).toMatch(
      /^The request names staging, but this agent acts on dashboard-hosting-prod\./,
    );
  });

  it.each([
    'Deploy the latest dashboard',
    'Deploy the latest dashboard to dashboard-hosting-prod',
    'Deploy the latest dashboard to "dashboard-hosting-prod"',
    'Deploy the locally built latest dashboard',
    'Deploy the staging-tested build',
  ])('%s: no other stack', (text) => {
    expect(named(text)).toBeNull();
  });
});
