/**
 * The stack's security and safety properties, proven on the resources the program registers.
 * Pulumi's mocks stand in for the engine and the AWS provider (no CLI, no account): each resource's
 * inputs are recorded and it answers with the identifiers AWS would assign.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as pulumi from '@pulumi/pulumi';
import { defaultStatePrefix, resolveDeployTarget, TARGET_OUTPUT_NAMES } from 'frontendops/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

type Recorded = { type: string; name: string; inputs: Record<string, unknown> };

const ACCOUNT = '123456789012';
const DISTRIBUTION_ID = 'EDFDVBD6EXAMPLE';
const DISTRIBUTION_ARN = `arn:aws:cloudfront::${ACCOUNT}:distribution/${DISTRIBUTION_ID}`;
const RELEASE_STORE_ARN = `arn:aws:cloudfront::${ACCOUNT}:key-value-store/5f0d3c2a-9e41-4b7a-8c6d-releases`;
const OUTPUT_NAMES = [
  'artifactsBucket',
  'deployerRoleArn',
  'distributionId',
  'hostingBucket',
  'region',
  'releaseStoreArn',
  'siteUrl',
  'stateBucket',
];

const recorded: Recorded[] = [];
const waiters: { match: (r: Recorded) => boolean; resolve: (r: Recorded) => void }[] = [];
let stack: Record<string, unknown>;
let stackConfig: Record<string, string>;

beforeAll(async () => {
  stackConfig = parse(
    readFileSync(new URL('../Pulumi.dashboard-hosting-prod.yaml', import.meta.url), 'utf8'),
  ).config;
  pulumi.runtime.setAllConfig(stackConfig);
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const entry = { type: args.type, name: args.name, inputs: args.inputs };
        recorded.push(entry);
        for (const w of waiters.filter((w) => w.match(entry))) w.resolve(entry);
        return {
          id: idFor(args.type, args.name),
          state: { ...args.inputs, ...stateFor(args.type, args.name, args.inputs) },
        };
      },
      call: (args) => {
        throw new Error(`the program made an unexpected provider call: ${args.token}`);
      },
    },
    'dashboard-hosting',
    'dashboard-hosting-prod',
  );
  stack = await import('../index.ts');
});

describe('stack outputs', () => {
  it('exports exactly the seven outputs the infra server reads and the release store, none secret', async () => {
    expect(Object.keys(stack).sort()).toEqual(OUTPUT_NAMES);
    for (const name of OUTPUT_NAMES) {
      const value = stack[name];
      if (pulumi.Output.isInstance(value)) expect(await pulumi.isSecret(value), name).toBe(false);
      expect(typeof (await resolveOutput(value as pulumi.Input<string>)), name).toBe('string');
    }
  });

  it('names the buckets, the distribution, the region, the site and the deployer role', async () => {
    expect(await resolveOutput(stack.hostingBucket as pulumi.Output<string>)).toBe('hosting-7f3a');
    expect(await resolveOutput(stack.artifactsBucket as pulumi.Output<string>)).toBe('artifacts-7f3a');
    expect(await resolveOutput(stack.stateBucket as pulumi.Output<string>)).toBe('state-7f3a');
    expect(await resolveOutput(stack.distributionId as pulumi.Output<string>)).toBe(DISTRIBUTION_ID);
    expect(stack.region).toBe(stackConfig['aws:region']);
    expect(await resolveOutput(stack.siteUrl as pulumi.Output<string>)).toBe(
      'https://d111111abcdef8.cloudfront.net',
    );
    expect(await resolveOutput(stack.deployerRoleArn as pulumi.Output<string>)).toBe(
      `arn:aws:iam::${ACCOUNT}:role/deployer`,
    );
    expect(await resolveOutput(stack.releaseStoreArn as pulumi.Output<string>)).toBe(RELEASE_STORE_ARN);
  });

  it('are what FrontendOps reads: every one but the deployer role, making an atomic target', async () => {
    const read: readonly string[] = TARGET_OUTPUT_NAMES;
    expect(OUTPUT_NAMES.filter((name) => !read.includes(name))).toEqual(['deployerRoleArn']);
    const outputs: Record<string, unknown> = {};
    for (const name of OUTPUT_NAMES) outputs[name] = await resolveOutput(stack[name] as pulumi.Input<string>);
    const target = resolveDeployTarget({
      stack: 'dashboard-hosting-prod',
      outputs,
      secretNames: [],
      source: 'test',
    });
    expect(target).toMatchObject({ releaseStoreArn: RELEASE_STORE_ARN, distributionId: DISTRIBUTION_ID });
  });
});

describe('buckets', () => {
  it('blocks every kind of public access on all three buckets', async () => {
    for (const bucket of ['hosting', 'artifacts', 'state']) {
      const block = await registered(
        'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock',
        `${bucket}-public-access`,
      );
      expect(block.inputs).toMatchObject({
        bucket: `${bucket}-id`,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
      const ownership = await registered(
        'aws:s3/bucketOwnershipControls:BucketOwnershipControls',
        `${bucket}-ownership`,
      );
      expect(ownership.inputs.rule).toEqual({ objectOwnership: 'BucketOwnerEnforced' });
    }
  });

  it('versions the artifacts and expires their old versions by a lifecycle rule', async () => {
    const versioning = await registered('aws:s3/bucketVersioning:BucketVersioning', 'artifacts-versioning');
    expect(versioning.inputs).toMatchObject({
      bucket: 'artifacts-id',
      versioningConfiguration: { status: 'Enabled' },
    });
    const lifecycle = await registered(
      'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration',
      'artifacts-lifecycle',
    );
    expect(lifecycle.inputs.bucket).toBe('artifacts-id');
    expect(lifecycle.inputs.rules).toEqual([
      expect.objectContaining({
        status: 'Enabled',
        noncurrentVersionExpiration: {
          noncurrentDays: Number(stackConfig['dashboard-hosting:artifactsNoncurrentDays']),
        },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
      }),
    ]);
    // Current artifact versions never expire: rollback needs them.
    expect(JSON.stringify(lifecycle.inputs.rules)).not.toContain('"expiration"');
  });

  it('keeps deploy state versioned', async () => {
    const versioning = await registered('aws:s3/bucketVersioning:BucketVersioning', 'state-versioning');
    expect(versioning.inputs).toMatchObject({
      bucket: 'state-id',
      versioningConfiguration: { status: 'Enabled' },
    });
  });

  it('admits only this distribution, through the CloudFront service principal, to the hosting bucket', async () => {
    const policy = await registered('aws:s3/bucketPolicy:BucketPolicy', 'hosting-bucket-policy');
    expect(policy.inputs.bucket).toBe('hosting-id');
    const statements = statementsOf(policy.inputs.policy);
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(0);
    for (const s of allows) {
      expect(s.Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
      expect(s.Condition).toEqual({ StringEquals: { 'AWS:SourceArn': DISTRIBUTION_ARN } });
      expect([s.Action].flat().every((a) => a === 's3:GetObject' || a === 's3:ListBucket')).toBe(true);
    }
    expect(allows.find((s) => s.Action === 's3:GetObject')?.Resource).toBe('arn:aws:s3:::hosting-7f3a/*');
    const denyHttp = statements.find((s) => s.Effect === 'Deny' && s.Condition !== undefined);
    expect(denyHttp?.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    // FrontendOps' own objects (the environment marker names the state bucket) are never served.
    const denyOwn = statements.filter((s) => s.Effect === 'Deny' && s.Condition === undefined);
    expect(denyOwn).toEqual([
      expect.objectContaining({
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::hosting-7f3a/.frontendops/*',
      }),
    ]);
  });
});

describe('CloudFront', () => {
  it('reads the bucket through an Origin Access Control that signs every request', async () => {
    const oac = await registered('aws:cloudfront/originAccessControl:OriginAccessControl', 'hosting-oac');
    expect(oac.inputs).toMatchObject({
      originAccessControlOriginType: 's3',
      signingBehavior: 'always',
      signingProtocol: 'sigv4',
    });
    const distribution = await registered('aws:cloudfront/distribution:Distribution', 'dashboard');
    const origins = distribution.inputs.origins as Record<string, unknown>[];
    expect(origins).toHaveLength(1);
    expect(origins[0]).toMatchObject({
      domainName: 'hosting-7f3a.s3.eu-central-1.amazonaws.com',
      originAccessControlId: 'hosting-oac-id',
    });
    // No legacy origin access identity and no public website endpoint.
    expect(origins[0]?.s3OriginConfig).toBeUndefined();
    expect(origins[0]?.customOriginConfig).toBeUndefined();
  });

  it('redirects HTTP to HTTPS and attaches the security headers policy and the release router', async () => {
    const distribution = await registered('aws:cloudfront/distribution:Distribution', 'dashboard');
    expect(distribution.inputs.defaultCacheBehavior).toMatchObject({
      viewerProtocolPolicy: 'redirect-to-https',
      responseHeadersPolicyId: 'security-headers-id',
      // The cache key ignores cookies and the query: the router's rewritten URI names the release.
      cachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6',
      functionAssociations: [
        {
          eventType: 'viewer-request',
          functionArn: `arn:aws:cloudfront::${ACCOUNT}:function/release-router`,
        },
      ],
    });
    expect(distribution.inputs.orderedCacheBehaviors ?? []).toEqual([]);
  });

  it('never answers a missing asset with HTML, and never keeps a 404: the router’s rewrite only', async () => {
    const distribution = await registered('aws:cloudfront/distribution:Distribution', 'dashboard');
    // No page and no other status for an error, only how long it is kept: CloudFront keeps a 404
    // 10 s by default, so a visitor asking for the next build's asset before it is copied (its name
    // follows from its content) would have that edge answer the new page's asset 404 after the switch.
    expect(distribution.inputs.customErrorResponses).toEqual([{ errorCode: 404, errorCachingMinTtl: 0 }]);
    const fn = await registered('aws:cloudfront/function:Function', 'release-router');
    expect(fn.inputs).toMatchObject({ runtime: 'cloudfront-js-2.0', publish: true });
  });

  it('deploys the tool’s one function file, under the 10 KB quota, associated with the release store', async () => {
    const fn = await registered('aws:cloudfront/function:Function', 'release-router');
    const file = readFileSync(
      createRequire(import.meta.url).resolve('frontendops/cloudfront-function.js'),
      'utf8',
    );
    expect(fn.inputs.code).toBe(file);
    expect(Buffer.byteLength(file)).toBeLessThanOrEqual(10 * 1024);
    expect(fn.inputs.keyValueStoreAssociations).toEqual([RELEASE_STORE_ARN]);
    const store = await registered('aws:cloudfront/keyValueStore:KeyValueStore', 'releases');
    expect(store.inputs.comment).toMatch(/release pointer/);
  });

  it('sends nosniff, HSTS, frame options and a referrer policy', async () => {
    const policy = await registered(
      'aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy',
      'security-headers',
    );
    expect(policy.inputs.securityHeadersConfig).toMatchObject({
      contentTypeOptions: { override: true },
      strictTransportSecurity: {
        accessControlMaxAgeSec: 63_072_000,
        includeSubdomains: true,
        override: true,
      },
      frameOptions: { frameOption: 'DENY', override: true },
      referrerPolicy: { referrerPolicy: 'strict-origin-when-cross-origin', override: true },
    });
  });
});

describe('deployer role', () => {
  it('trusts only GitHub OIDC tokens of this repository in the protected environment', async () => {
    const role = await registered('aws:iam/role:Role', 'deployer');
    const [trust, ...others] = statementsOf(role.inputs.assumeRolePolicy);
    expect(others).toEqual([]);
    const repo = stackConfig['dashboard-hosting:githubRepository'];
    const environment = stackConfig['dashboard-hosting:githubEnvironment'];
    expect(trust).toEqual({
      Effect: 'Allow',
      Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: {
          'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
          'token.actions.githubusercontent.com:sub': `repo:${repo}:environment:${environment}`,
        },
      },
    });
    const provider = await registered(
      'aws:iam/openIdConnectProvider:OpenIdConnectProvider',
      'github-actions',
    );
    expect(provider.inputs).toMatchObject({
      url: 'https://token.actions.githubusercontent.com',
      clientIdLists: ['sts.amazonaws.com'],
    });
  });

  it('may read artifacts, copy into the hosting bucket, keep state, invalidate this one distribution and switch releases in its one store — nothing else', async () => {
    const policy = await registered('aws:iam/rolePolicy:RolePolicy', 'deployer-policy');
    expect(policy.inputs.role).toBe('deployer-id');
    const grants = statementsOf(policy.inputs.policy).map((s) => ({
      actions: [s.Action].flat().sort(),
      resources: [s.Resource].flat(),
      condition: s.Condition,
      effect: s.Effect,
    }));
    expect(grants.flatMap((g) => g.actions).some((a) => a.includes('*'))).toBe(false);
    expect(grants.flatMap((g) => g.resources).some((r) => r === '*')).toBe(false);
    const prefix = stackConfig['dashboard-hosting:statePrefix'];
    expect(grants).toEqual([
      grant(['s3:GetObject'], 'arn:aws:s3:::artifacts-7f3a/*'),
      grant(['s3:DeleteObject', 's3:GetObject', 's3:PutObject'], 'arn:aws:s3:::hosting-7f3a/*'),
      grant(['s3:DeleteObject', 's3:GetObject', 's3:PutObject'], `arn:aws:s3:::state-7f3a/${prefix}*`),
      ...listings,
      // Entries of the deploy chain and the publish log, and "used" approval markers: created,
      // never replaced or deleted.
      ...createOnly(`arn:aws:s3:::state-7f3a/${prefix}audit/0*`),
      ...createOnly(`arn:aws:s3:::state-7f3a/${prefix}publishes/audit/0*`),
      ...createOnly(`arn:aws:s3:::state-7f3a/${prefix}approvals/used/*`),
      readStackOutputs,
      {
        actions: ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
        resources: [DISTRIBUTION_ARN],
        condition: undefined,
        effect: 'Allow',
      },
      {
        actions: [
          'cloudfront-keyvaluestore:DescribeKeyValueStore',
          'cloudfront-keyvaluestore:GetKey',
          'cloudfront-keyvaluestore:PutKey',
          'cloudfront-keyvaluestore:UpdateKeys',
        ],
        resources: [RELEASE_STORE_ARN],
        condition: undefined,
        effect: 'Allow',
      },
    ]);
  });

  it('keeps state where the frontendops CLI looks for it', () => {
    expect(stackConfig['dashboard-hosting:statePrefix']).toBe(defaultStatePrefix('dashboard-hosting-prod'));
  });
});

describe('publisher role', () => {
  it('lets pushes to the branch write this app’s artifacts and the publish log, nothing in hosting or the CDN', async () => {
    const role = await registered('aws:iam/role:Role', 'publisher');
    const repo = stackConfig['dashboard-hosting:githubRepository'];
    const branch = stackConfig['dashboard-hosting:githubBranch'];
    const [trust] = statementsOf(role.inputs.assumeRolePolicy);
    expect(trust?.Condition).toEqual({
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': `repo:${repo}:ref:refs/heads/${branch}`,
      },
    });
    const policy = await registered('aws:iam/rolePolicy:RolePolicy', 'publisher-policy');
    const grants = statementsOf(policy.inputs.policy).map((st) => ({
      actions: [st.Action].flat().sort(),
      resources: [st.Resource].flat(),
      condition: st.Condition,
      effect: st.Effect,
    }));
    const prefix = stackConfig['dashboard-hosting:statePrefix'];
    // Nothing of the deploy state: not the deploy chain, the pointer, records, pins, approvals,
    // crash-recovery records or the deploy lock (test/deploy/role-scope.test.ts tries each).
    expect(grants).toEqual([
      grant(['s3:GetObject', 's3:PutObject'], 'arn:aws:s3:::artifacts-7f3a/sophia-dashboard/*'),
      grant(['s3:GetObject'], 'arn:aws:s3:::hosting-7f3a/.frontendops/environment.json*'),
      // The publish log: read all of it; write its entries and its head, nothing else beside them.
      grant(['s3:GetObject'], `arn:aws:s3:::state-7f3a/${prefix}publishes/audit/*`),
      grant(['s3:PutObject'], `arn:aws:s3:::state-7f3a/${prefix}publishes/audit/0*`),
      grant(['s3:PutObject'], `arn:aws:s3:::state-7f3a/${prefix}publishes/audit/head.json*`),
      grant(
        ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        `arn:aws:s3:::state-7f3a/${prefix}locks/publish-*`,
      ),
      grant(['s3:PutObject'], `arn:aws:s3:::state-7f3a/${prefix}probe/*`),
      ...listings,
      // A published build and the publish log's entries: created, never replaced or deleted.
      ...createOnly('arn:aws:s3:::artifacts-7f3a/sophia-dashboard/*'),
      ...createOnly(`arn:aws:s3:::state-7f3a/${prefix}publishes/audit/0*`),
      readStackOutputs,
    ]);
  });
});

// --- helpers ---------------------------------------------------------------------------------

/** One Allow statement as the tests compare them (actions sorted). */
function grant(actions: string[], resource: string | string[]) {
  return { actions, resources: [resource].flat(), condition: undefined, effect: 'Allow' };
}

/** The two Denies that make a prefix create-only: a PutObject without If-None-Match, any DeleteObject. */
function createOnly(resource: string) {
  return [
    {
      actions: ['s3:PutObject'],
      resources: [resource],
      condition: { Null: { 's3:if-none-match': 'true' } },
      effect: 'Deny',
    },
    { actions: ['s3:DeleteObject'], resources: [resource], condition: undefined, effect: 'Deny' },
  ];
}

/** Listing each bucket (S3 answers a missing key with 404 only to a caller that may list, else 403). */
const listings = ['artifacts-7f3a', 'hosting-7f3a', 'state-7f3a'].map((bucket) =>
  grant(['s3:ListBucket'], `arn:aws:s3:::${bucket}`),
);

/** Reading this stack's outputs from its Pulumi checkpoint in the state bucket. */
const readStackOutputs = grant(
  ['s3:GetObject'],
  [
    'arn:aws:s3:::state-7f3a/.pulumi/meta.yaml',
    'arn:aws:s3:::state-7f3a/.pulumi/stacks/dashboard-hosting/dashboard-hosting-prod.json*',
  ],
);

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: unknown;
};

function statementsOf(policy: unknown): Statement[] {
  const document = typeof policy === 'string' ? JSON.parse(policy) : policy;
  return (document as { Statement: Statement[] }).Statement;
}

/** Resolves when the program has registered the resource (registration is asynchronous). */
function registered(type: string, name: string): Promise<Recorded> {
  const match = (r: Recorded) => r.type === type && r.name === name;
  const found = recorded.find(match);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => waiters.push({ match, resolve }));
}

function resolveOutput<T>(input: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(input).apply((v) => resolve(v as T)));
}

function idFor(type: string, name: string): string {
  return type === 'aws:cloudfront/distribution:Distribution' ? DISTRIBUTION_ID : `${name}-id`;
}

// What AWS assigns on create: bucket names (auto-named with a suffix), ARNs, domain names.
function stateFor(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case 'aws:s3/bucket:Bucket': {
      const bucket = `${name}-7f3a`;
      return {
        bucket,
        arn: `arn:aws:s3:::${bucket}`,
        bucketRegionalDomainName: `${bucket}.s3.eu-central-1.amazonaws.com`,
      };
    }
    case 'aws:cloudfront/distribution:Distribution':
      return { arn: DISTRIBUTION_ARN, domainName: 'd111111abcdef8.cloudfront.net' };
    case 'aws:cloudfront/function:Function':
      return { arn: `arn:aws:cloudfront::${ACCOUNT}:function/${name}` };
    case 'aws:cloudfront/keyValueStore:KeyValueStore':
      return { arn: RELEASE_STORE_ARN, etag: 'KV0AB12C3DEF456' };
    case 'aws:iam/role:Role':
      return { arn: `arn:aws:iam::${ACCOUNT}:role/${(inputs.name as string | undefined) ?? name}` };
    case 'aws:iam/openIdConnectProvider:OpenIdConnectProvider':
      return { arn: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` };
    default:
      return {};
  }
}
