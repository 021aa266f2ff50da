/**
 * Which words name another stack than the one the agent acts on (agent/stack-words.ts). The whole
 * refusal, end to end, is in runbook.test.ts; here, the words people write.
 */
import { describe, expect, it } from 'vitest';
import { parseRequest } from '../../src/agent/intents.ts';
import {
  namedElsewhere,
  otherAppNamed,
  otherStackNamed,
  unknownNameNamed,
} from '../../src/agent/stack-words.ts';

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

describe('an app the configuration does not have, named after "the latest"', () => {
  const blog = { app: 'blog', appPath: 'site' };
  const otherApp = (text: string, own = blog) => otherAppNamed(text, own, ['staging', 'local']);
  it.each([
    ['Deploy the latest sophia-dashboard', 'sophia-dashboard'],
    ['Deploy the latest dashboard', 'dashboard'],
    ['deploy the newest shop to staging', 'shop'],
    ['promote the latest "shop".', 'shop'],
    ["ship the latest shop's build", 'shop'],
    ['deploy the latest shop, then the build', 'shop'],
    ['deploy the latest shop now', 'shop'],
    ['deploy the latest shop frontend to staging', 'shop'],
  ])('%s: refused, naming "%s" and the app there is', (text, word) => {
    expect(otherApp(text)).toBe(
      `The request names "${word}", but this repository's configuration (frontendops.config.json) has one app: blog. Nothing was done. ` +
        `To deploy blog, say "deploy the latest blog"; to deploy ${word}, ask in the repository whose configuration names it.`,
    );
  });

  it.each([
    'Deploy the latest blog',
    "deploy the latest blog's build",
    'deploy the latest Blog to staging',
    'deploy the latest site',
    'deploy the latest',
    'deploy the latest build',
    'deploy the latest to staging',
    'deploy the latest staging',
    'deploy the latest v1.4.2',
    'deploy the latest 3f2c1a9',
    'deploy the latest if it is not pinned',
    'promote the latest good one',
    'deploy the latest production build',
    'deploy the latest shiny version to staging',
    'ship the latest hotfix',
    'deploy the newest nightly',
    // Who made it, when, or a clause about it: no app's name.
    'deploy the latest I pushed',
    'deploy the latest Ada merged',
    'deploy the latest which passed CI',
    'deploy the latest just published',
    'deploy the latest today',
    'deploy the latest asap',
    'promote the latest anyway',
  ])('%s: not another app', (text) => {
    expect(otherApp(text)).toBeNull();
  });

  it("the app's name in parts and its directory are its own: the dashboard here", () => {
    const dashboard = { app: 'sophia-dashboard', appPath: 'apps/sophia-dashboard' };
    for (const text of [
      'Deploy the latest dashboard',
      'deploy the latest sophia-dashboard',
      'deploy the latest apps/sophia-dashboard',
    ]) {
      expect(otherApp(text, dashboard), text).toBeNull();
    }
    expect(otherApp('deploy the latest blog', dashboard)).toMatch(/has one app: sophia-dashboard\./);
  });
});

describe('another app named where a change names what it acts on, wherever "the latest" is', () => {
  // A repository whose frontendops.config.json names the app "brochure", the agent acting on prod.
  const own = { app: 'brochure', appPath: 'apps/brochure' };
  const refusal = (text: string) =>
    namedElsewhere(text, parseRequest(text, own.app), {
      own,
      known: ['prod', 'staging', 'local'],
      acting: 'prod',
    });

  it.each([
    ['deploy shop', 'shop'],
    ['Deploy Shop', 'Shop'],
    ['deploy the shop', 'shop'],
    ['deploy the shop app', 'shop'],
    ['deploy the latest shop', 'shop'],
    ["deploy shop's latest build", 'shop'],
    ["deploy the shop's build", 'shop'],
    ['ship blog to production', 'blog'],
    ['release the shop now', 'shop'],
    ['redeploy shop, please', 'shop'],
    ['push shop live', 'shop'],
    ['promote shop', 'shop'],
    ['promote the shop to everyone', 'shop'],
    ['deploy the latest build of shop', 'shop'],
    ['give me a preview of the shop', 'shop'],
    ['deploy the docs', 'docs'],
    ['canary shop at 10%', 'shop'],
    ['can you deploy shop?', 'shop'],
    ['I want to deploy shop', 'shop'],
    ['we should deploy shop', 'shop'],
    ['redeploy the last deployment of shop', 'shop'],
    ['start a canary of shop at 10%', 'shop'],
    ['send 10% to a canary of the shop', 'shop'],
  ])('%s: refused before any tool, naming "%s" and brochure', (text, word) => {
    expect(refusal(text)).toBe(
      `The request names "${word}", but this repository's configuration (frontendops.config.json) has one app: brochure. Nothing was done. ` +
        `To deploy brochure, say "deploy the latest brochure"; to deploy ${word}, ask in the repository whose configuration names it.`,
    );
  });

  // A change that makes no build says how to ask for that change of this app, not for a deploy.
  it.each([
    ['roll back the shop', 'shop', 'roll back', 'roll back the brochure'],
    ['roll back shop', 'shop', 'roll back', 'roll back the brochure'],
    ["roll back shop to yesterday's version", 'shop', 'roll back', 'roll back the brochure'],
    ["roll back to yesterday's shop", 'shop', 'roll back', 'roll back the brochure'],
    ['revert the shop', 'shop', 'roll back', 'roll back the brochure'],
    ['pin the shop', 'shop', 'pin', 'pin the live release'],
    ['unpin shop', 'shop', 'unpin', 'unpin'],
    ['roll back the deployment of shop', 'shop', 'roll back', 'roll back the brochure'],
    ['undo the last deploy of shop', 'shop', 'roll back', 'roll back the brochure'],
    ['roll back the last rollout of shop', 'shop', 'roll back', 'roll back the brochure'],
  ])('%s: refused before any tool, naming "%s" and how to %s brochure', (text, word, verb, say) => {
    expect(refusal(text)).toBe(
      `The request names "${word}", but this repository's configuration (frontendops.config.json) has one app: brochure. Nothing was done. ` +
        `To ${verb} brochure, say "${say}"; to ${verb} ${word}, ask in the repository whose configuration names it.`,
    );
    // What it says to ask is read as asked.
    expect(refusal(say)).toBeNull();
  });

  it.each([
    'deploy the latest build',
    'ship it',
    'deploy the latest production build',
    "roll back to yesterday's version",
    'deploy the newest nightly',
    'update the brochure',
    'deploy brochure',
    'deploy the brochure',
    "deploy brochure's latest build",
    'roll back the brochure',
    'deploy apps/brochure',
    'deploy commit abc1234',
    'redeploy abc1234',
    'deploy v1.4.2',
    'promote the canary',
    'promote the latest',
    'promote it to everyone',
    'deploy',
    'deploy now',
    'deploy quickly',
    'deploy again, please',
    'deploy everything',
    'deploy the latest',
    'deploy the latest to prod',
    'deploy it to production',
    'deploy the fix',
    'deploy the shiny build',
    "deploy today's build",
    'deploy main',
    'ship the changes',
    'ship the latest hotfix',
    'push it live',
    'roll out the new version',
    'release the latest build to production',
    'deploy the latest build of the app',
    'update the site',
    'deploy to 10% first',
    'give me a preview of the latest build',
    'roll back',
    'roll back immediately',
    'roll back the last deploy',
    'roll back, the latest broke checkout',
    'undo the last deploy',
    'revert to the previous release',
    'roll back to the last good one',
    'pin the live release',
    'pin prod',
    'unpin',
    'invalidate the CDN',
    'abort the canary',
    'deploy the latest I pushed',
    "deploy Ada's fix",
    "deploy last night's build",
    'deploy the whole site',
    'deploy the static site',
    'push out the latest',
    'release the pin',
    'freeze deploys',
    "restore yesterday's build",
    'roll back, checkout is broken on the homepage',
    'deploy the latest, it fixes the header',
    'can you deploy the latest?',
    // A change's verb used as a noun, then what happened to it.
    'roll back, the deploy failed',
    'roll back, our update broke',
    "roll back, yesterday's release crashed",
    // What a change is called: no app's name.
    'deploy the redesign',
    'roll back the redesign',
    'deploy the refactor',
    'ship the rewrite',
    'deploy the feature',
    'ship the improvements',
    'deploy the upgrade',
    'deploy the migration',
    'deploy the experiment',
    'deploy the merge',
    'deploy the pr',
    'start a canary at 10%',
    'canary the latest build at 5%',
    'canary brochure at 10%',
    'start a canary of the latest build at 10%',
    'promote the canary to everyone',
    // A change someone else makes, said as the reason: not what is asked of the agent.
    'pin the release until we ship search',
    'pin it while we update checkout',
    'roll back the deployment of the checkout fix',
    'undo the deploy of the hotfix',
    'roll back the deploy of yesterday',
    'roll back the update of the pricing page',
    'roll back the update of the footer',
    'roll back until we update search',
    // Plans and a build's purpose: a check of "preview <word>" and "build for <word>", tried and
    // taken back this stop, refused all of these.
    'release notes please',
    'write release notes',
    'give me release notes for the next deploy',
    'release notes for the latest build',
    'preview the diff',
    'preview the plan',
    'preview the docs',
    'deploy the build for QA',
    'deploy the release for the demo',
    'deploy the latest build for review',
    'ship the version for testing',
    'promote the build for QA',
    'roll back to the version for the demo',
  ])('%s: read as asked, naming no other app', (text) => {
    expect(parseRequest(text, own.app).kind, text).not.toMatch(/^(refuse|unknown)$/);
    expect(refusal(text)).toBeNull();
  });
});
