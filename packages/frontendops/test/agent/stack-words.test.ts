/**
 * Which words name another stack than the one the agent acts on (agent/stack-words.ts). The whole
 * refusal, end to end, is in runbook.test.ts; here, the words people write.
 */
import { describe, expect, it } from 'vitest';
import { otherStackNamed, unknownNameNamed } from '../../src/agent/stack-words.ts';

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

describe('a name-like word the agent cannot read, where a change names what or where', () => {
  const unknown = (text: string) =>
    unknownNameNamed(text, known, 'dashboard-hosting-prod', ['sophia-dashboard', 'apps/sophia-dashboard']);
  it.each([
    ['deploy the latest dashboard to prod-eu-1', 'prod-eu-1'],
    ['Deploy it on dashboard-hosting-prd', 'dashboard-hosting-prd'],
    ['deploy release-candidate', 'release-candidate'],
    ['ship the rc_2 build', 'rc_2'],
    ['promote build-42', 'build-42'],
    ['pin the hotfix.2 release', 'hotfix.2'],
    // A build described, not named: which one was tested on staging is not in the words.
    ['Deploy the staging-tested build', 'staging-tested'],
  ])('%s: refused, naming "%s"', (text, word) => {
    expect(unknown(text)).toMatch(
      new RegExp(
        `^"${word.replace('.', '\\.')}" is neither a stack this agent knows nor a release I can read`,
      ),
    );
  });

  it.each([
    'Deploy the latest dashboard',
    'deploy the latest dashboard to dashboard-hosting-prod',
    'deploy the latest sophia-dashboard',
    'deploy the latest dashboard to 10% first',
    'deploy 3f2c1a9',
    'deploy 3f2c1a9-0123456789',
    'promote v1.4.2',
    'ship tag v1.4.2-rc.1',
    'deploy dashboard-deploy-20261124-2',
    'deploy the latest to staging',
    'deploy the latest to everyone, e.g. now',
    're-deploy the latest',
  ])('%s: not this refusal', (text) => {
    expect(unknown(text)).toBeNull();
  });
});
