/**
 * With the repository's and owner's ids configured, the roles trust GitHub's immutable subject
 * (`repo:OWNER@OWNER-ID/REPO@REPO-ID:…`) and nothing else: a repository deleted and re-created under
 * the same name, or an owner renamed and its name taken, has other ids, and its owner can set its
 * subject to the name form (a repository's own subject template), so neither gets the roles.
 * The policies are evaluated as IAM evaluates StringEquals and StringLike on the token's claims.
 */
import { readFileSync } from 'node:fs';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

type Recorded = { type: string; name: string; inputs: Record<string, unknown> };

const OWNER_ID = '81234567';
const REPO_ID = '912345678';
const recorded: Recorded[] = [];
let stackConfig: Record<string, string>;

beforeAll(async () => {
  stackConfig = parse(
    readFileSync(new URL('../Pulumi.dashboard-hosting-prod.yaml', import.meta.url), 'utf8'),
  ).config;
  pulumi.runtime.setAllConfig({
    ...stackConfig,
    'dashboard-hosting:githubOwnerId': OWNER_ID,
    'dashboard-hosting:githubRepositoryId': REPO_ID,
  });
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: { ...args.inputs, arn: `arn:aws:test:::${args.name}` } };
      },
      call: (args) => {
        throw new Error(`the program made an unexpected provider call: ${args.token}`);
      },
    },
    'dashboard-hosting',
    'dashboard-hosting-prod',
  );
  const stack = await import('../index.ts');
  // Every output resolved: the program has registered its roles.
  await new Promise((resolve) => pulumi.output(stack.deployerRoleArn).apply(resolve));
});

describe.each([
  ['deployer', () => `environment:${stackConfig['dashboard-hosting:githubEnvironment']}`],
  ['publisher', () => `ref:refs/heads/${stackConfig['dashboard-hosting:githubBranch']}`],
])('the %s role, with the repository’s ids configured', (role, context) => {
  const subject = (repo: string) => `repo:${repo}:${context()}`;
  const names = () => String(stackConfig['dashboard-hosting:githubRepository']).split('/');

  it('is assumed by a job of the repository with those ids', () => {
    const [ownerName, repoName] = names();
    expect(admits(role, subject(`${ownerName}@${OWNER_ID}/${repoName}@${REPO_ID}`))).toBe(true);
  });

  it('refuses a job of a repository re-created under the name, or of a name taken by another owner', () => {
    const [ownerName, repoName] = names();
    for (const other of [
      `${ownerName}@${OWNER_ID}/${repoName}@${REPO_ID}1`,
      `${ownerName}@${OWNER_ID}1/${repoName}@${REPO_ID}`,
      `${ownerName}@${OWNER_ID}/${repoName}@999`,
      // The name form, which the owner of a re-created repository can choose for its tokens.
      `${ownerName}/${repoName}`,
    ]) {
      expect(admits(role, subject(other)), other).toBe(false);
    }
  });
});

type Condition = Record<string, Record<string, string | string[]>>;
type TrustStatement = { Effect: string; Action: string; Condition?: Condition };

/** Whether the role's trust policy lets a GitHub token with this subject assume it. */
function admits(role: string, sub: string): boolean {
  const found = recorded.find((r) => r.type === 'aws:iam/role:Role' && r.name === role);
  if (!found) throw new Error(`the program registered no role ${role}`);
  const claims: Record<string, string> = {
    'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
    'token.actions.githubusercontent.com:sub': sub,
  };
  const policy = JSON.parse(found.inputs.assumeRolePolicy as string) as { Statement: TrustStatement[] };
  return policy.Statement.some(
    (st) =>
      st.Effect === 'Allow' &&
      st.Action === 'sts:AssumeRoleWithWebIdentity' &&
      Object.entries(st.Condition ?? {}).every(([operator, keys]) =>
        Object.entries(keys).every(([key, wanted]) => {
          const value = claims[key];
          if (value === undefined) return false;
          if (operator === 'StringEquals') return [wanted].flat().includes(value);
          if (operator === 'StringLike') return [wanted].flat().some((w) => globMatches(w, value));
          throw new Error(`the test does not evaluate the ${operator} operator`);
        }),
      ),
  );
}

function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(value);
}
