/**
 * The stack's configuration is held to the tool's rules where it becomes an output the tool reads: a
 * statePrefix the program accepted is one `frontendops` can use (no "." or ".." segment, within S3's
 * key limit), and the default is the tool's own.
 */
import { readFileSync } from 'node:fs';
import * as pulumi from '@pulumi/pulumi';
import { defaultStatePrefix } from 'frontendops/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readHostingConfig } from '../config.ts';

let stackConfig: Record<string, string>;

beforeAll(async () => {
  stackConfig = parse(
    readFileSync(new URL('../Pulumi.dashboard-hosting-prod.yaml', import.meta.url), 'utf8'),
  ).config;
  await pulumi.runtime.setMocks(
    {
      newResource: () => {
        throw new Error('reading the configuration makes no resource');
      },
      call: () => {
        throw new Error('reading the configuration calls no provider');
      },
    },
    'dashboard-hosting',
    'dashboard-hosting-prod',
  );
});

const withPrefix = (statePrefix: string | undefined) => {
  const config = { ...stackConfig };
  delete config['dashboard-hosting:statePrefix'];
  if (statePrefix !== undefined) config['dashboard-hosting:statePrefix'] = statePrefix;
  pulumi.runtime.setAllConfig(config);
  return () => readHostingConfig();
};

describe('statePrefix', () => {
  it('defaults to the prefix the tool looks in for this stack', () => {
    expect(withPrefix(undefined)().statePrefix).toBe(defaultStatePrefix('dashboard-hosting-prod'));
  });

  it('refuses what the tool would refuse as an output: a "." or ".." segment, or too long for S3', () => {
    for (const bad of ['state/../other/', './state/', `${'x'.repeat(950)}/`]) {
      expect(withPrefix(bad), bad).toThrow(
        /invalid config \(statePrefix: (must be a relative key prefix|is \d+ bytes)/,
      );
    }
    expect(withPrefix('.frontendops/state/prod/')().statePrefix).toBe('.frontendops/state/prod/');
  });
});

describe('githubOwnerId and githubRepositoryId', () => {
  const withIds = (ids: Record<string, string>) => {
    pulumi.runtime.setAllConfig({ ...stackConfig, ...ids });
    return () => readHostingConfig();
  };
  const owner = 'dashboard-hosting:githubOwnerId';
  const repository = 'dashboard-hosting:githubRepositoryId';

  it('are read as GitHub’s decimal ids, both or neither', () => {
    expect(withIds({ [owner]: '81234567', [repository]: '912345678' })()).toMatchObject({
      githubOwnerId: '81234567',
      githubRepositoryId: '912345678',
    });
    const plain = withIds({})();
    expect([plain.githubOwnerId, plain.githubRepositoryId]).toEqual([undefined, undefined]);
  });

  it('refuse what is not an id, saying where to find it, and one without the other', () => {
    for (const bad of ['sophia-analytics', '0123', '-5', '12 34', '1e9', '']) {
      expect(withIds({ [owner]: '81234567', [repository]: bad }), bad).toThrow(
        /invalid config \(githubRepositoryId: expected githubRepositoryId as decimal digits.*`gh api repos\/OWNER\/REPO --jq \.id` prints it/,
      );
    }
    expect(withIds({ [repository]: '912345678' })).toThrow(
      /invalid config \(githubOwnerId: expected githubRepositoryId and githubOwnerId together or neither/,
    );
  });
});
