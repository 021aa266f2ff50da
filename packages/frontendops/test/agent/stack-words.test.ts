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

describe('a stack name no one writes by chance, named in any word order', () => {
  const stacks = [...known, 'dashboard-hosting-staging', 'eu2'];
  const refusal = (text: string) => otherStackNamed(text, stacks, 'dashboard-hosting-prod');

  it.each([
    ['Deploy dashboard-hosting-staging', 'dashboard-hosting-staging'],
    ['dashboard-hosting-staging: deploy the latest dashboard', 'dashboard-hosting-staging'],
    ['Roll back "dashboard-hosting-staging"', 'dashboard-hosting-staging'],
    ["what's live, eu2?", 'eu2'],
  ])('%s: refused, naming it', (text, name) => {
    expect(refusal(text)).toMatch(
      new RegExp(`^The request names ${name}, but this agent acts on dashboard-hosting-prod\\.`),
    );
  });

  it.each([
    'Deploy dashboard-hosting-prod',
    'Deploy the dashboard-hosting-staging-tested build',
    'Deploy my local build',
    'Deploy the staging build',
    'Deploy the latest dashboard, build eu21',
  ])('%s: no other stack', (text) => {
    expect(refusal(text)).toBeNull();
  });
});
