/**
 * The Pulumi Cloud source against a local HTTP double of the REST API (Pulumi Cloud is not reachable from
 * this machine; see test/support/pulumi-cloud-double.ts for what it answers and why): the StackSource
 * contract (test/support/contracts/stack-source.ts), and what only this source does — the one
 * documented request it sends, and where its token comes from.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import { createPulumiCloudSource } from '../../src/stacks/pulumi-cloud.ts';
import { stackSourceContract } from '../support/contracts/stack-source.ts';
import { type PulumiCloudDouble, startPulumiCloudDouble } from '../support/pulumi-cloud-double.ts';
import { DASHBOARD_PROD_OUTPUTS } from '../support/pulumi-outputs.ts';
import { opsRefusal } from '../support/refusal.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/pulumi/cloud-export-dashboard-hosting-prod.json');
const TOKEN = 'pul-0123456789abcdef0123456789abcdef01234567';

stackSourceContract(
  'Pulumi Cloud (REST API double)',
  async () => {
    const text = await readFile(FIXTURE, 'utf8');
    const double = await startPulumiCloudDouble({
      token: TOKEN,
      stacks: { 'sophia/dashboard-hosting/dashboard-hosting-prod': JSON.parse(text) },
    });
    const open = (token: string, names = { organization: 'sophia', project: 'dashboard-hosting' }) =>
      createPulumiCloudSource({ ...names, apiUrl: double.url, token });
    return {
      source: open(TOKEN),
      stack: 'dashboard-hosting-prod',
      expected: {
        outputs: DASHBOARD_PROD_OUTPUTS,
        secretNames: ['deployRoleSecret'],
      },
      secretValues: [...text.matchAll(/"ciphertext": "([^"]+)"/g)].map((m) => m[1] as string),
      credentials: [TOKEN],
      unknownStack: 'dashboard-hosting-dev',
      // The export is the one request this source may send: anything else could change the stack.
      backendState: async () =>
        double.requests.filter((r) => r.method !== 'GET' || !r.path.endsWith('/export')),
      malformed: [
        {
          what: 'an organization that is not a Pulumi name',
          open: () => open(TOKEN, { organization: 'a/b', project: 'dashboard-hosting' }),
        },
        {
          what: 'a project that is not a Pulumi name',
          open: () => open(TOKEN, { organization: 'sophia', project: '' }),
        },
        { what: 'no token', open: () => open('') },
      ],
      wrongCredential: { credential: 'pul-wrong-token', open: () => open('pul-wrong-token') },
      cleanup: () => double.close(),
    };
  },
  { checksStackNames: true, canBeMalformed: true, takesCredential: true },
);

let cloud: PulumiCloudDouble;
let exportText: string;
beforeAll(async () => {
  exportText = await readFile(FIXTURE, 'utf8');
  cloud = await startPulumiCloudDouble({
    token: TOKEN,
    stacks: {
      'sophia/dashboard-hosting/dashboard-hosting-prod': JSON.parse(exportText),
      'sophia/dashboard-hosting/future': { version: 4, deployment: {} },
      'sophia/dashboard-hosting/empty': { version: 3, deployment: { resources: null } },
    },
  });
});
afterAll(() => cloud.close());

/** null: no token option, so the source falls back to PULUMI_ACCESS_TOKEN. */
const source = (token: string | null = TOKEN) =>
  createPulumiCloudSource({
    organization: 'sophia',
    project: 'dashboard-hosting',
    apiUrl: cloud.url,
    ...(token ? { token } : {}),
  });

describe('Pulumi Cloud stack export', () => {
  it('sends one documented GET with the token; its outputs make a deploy target', async () => {
    const from = cloud.requests.length;
    const outputs = await source().readOutputs('dashboard-hosting-prod');
    expect(outputs.source).toBe('pulumi cloud');
    expect(resolveDeployTarget(outputs).artifactsBucket).toBe('sophia-dashboard-build-artifacts');

    const sent = cloud.requests.slice(from);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      method: 'GET',
      path: '/api/stacks/sophia/dashboard-hosting/dashboard-hosting-prod/export',
    });
    expect(sent[0]?.headers.authorization).toBe(`token ${TOKEN}`);
    expect(sent[0]?.headers.accept).toBe('application/vnd.pulumi+8');
  });

  it('a wrong token is UPSTREAM naming the 401 and what to check', async () => {
    const error = await opsRefusal(source('pul-wrong-token').readOutputs('dashboard-hosting-prod'));
    expect(error.message).toMatch(/HTTP 401.*PULUMI_ACCESS_TOKEN/);
  });

  it('no token at all is BAD_INPUT saying where to get one, and sends nothing', async () => {
    const saved = process.env.PULUMI_ACCESS_TOKEN;
    delete process.env.PULUMI_ACCESS_TOKEN;
    try {
      const from = cloud.requests.length;
      const error = await opsRefusal(source(null).readOutputs('dashboard-hosting-prod'));
      expect(error.code).toBe('BAD_INPUT');
      expect(error.message).toContain('PULUMI_ACCESS_TOKEN');
      expect(cloud.requests.length).toBe(from);
    } finally {
      if (saved !== undefined) process.env.PULUMI_ACCESS_TOKEN = saved;
    }
  });

  it('takes the token from PULUMI_ACCESS_TOKEN', async () => {
    const saved = process.env.PULUMI_ACCESS_TOKEN;
    process.env.PULUMI_ACCESS_TOKEN = TOKEN;
    try {
      expect((await source(null).readOutputs('dashboard-hosting-prod')).secretNames).toEqual([
        'deployRoleSecret',
      ]);
    } finally {
      if (saved === undefined) delete process.env.PULUMI_ACCESS_TOKEN;
      else process.env.PULUMI_ACCESS_TOKEN = saved;
    }
  });

  it('refuses a deployment newer than version 3', async () => {
    const error = await opsRefusal(source().readOutputs('future'));
    expect(error.code).toBe('UPSTREAM');
    expect(error.message).toContain('newer than');
  });

  it('a stack without deployments has no outputs', async () => {
    expect((await source().readOutputs('empty')).outputs).toEqual({});
  });

  it('refuses names that would change the URL path before sending anything', async () => {
    const from = cloud.requests.length;
    expect((await opsRefusal(source().readOutputs('../../user/stacks'))).code).toBe('BAD_INPUT');
    expect((await opsRefusal(source().readOutputs('x%2F..'))).code).toBe('BAD_INPUT');
    expect(() => createPulumiCloudSource({ organization: 'a/b', project: 'p', token: TOKEN })).toThrow(
      FrontendOpsError,
    );
    expect(cloud.requests.length).toBe(from);
  });
});
