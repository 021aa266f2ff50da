import { describe, expect, it } from 'vitest';
import { resolveDeployTarget } from '../../src/engine/target.ts';
import { FrontendOpsError } from '../../src/errors.ts';
import type { StackOutputs } from '../../src/ports.ts';

const stackOf = (outputs: Record<string, unknown>, secretNames: string[] = []): StackOutputs => ({
  stack: 'dashboard-hosting-prod',
  outputs,
  secretNames,
  source: 'test',
});

function refusal(stack: StackOutputs): FrontendOpsError {
  try {
    resolveDeployTarget(stack);
  } catch (error) {
    expect(error).toBeInstanceOf(FrontendOpsError);
    expect((error as FrontendOpsError).code).toBe('BAD_INPUT');
    return error as FrontendOpsError;
  }
  throw new Error('expected BAD_INPUT');
}

describe('resolveDeployTarget — explicit outputs', () => {
  it('applies every default', () => {
    expect(
      resolveDeployTarget(stackOf({ artifactsBucket: 'art-bucket', hostingBucket: 'host-bucket' })),
    ).toEqual({
      stack: 'dashboard-hosting-prod',
      artifactsBucket: 'art-bucket',
      hostingBucket: 'host-bucket',
      stateBucket: 'art-bucket',
      statePrefix: '.frontendops/state/dashboard-hosting-prod/',
      region: 'us-east-1',
      prune: true,
    });
  });

  it('takes every optional output', () => {
    const target = resolveDeployTarget(
      stackOf({
        artifactsBucket: 'art-bucket',
        hostingBucket: 'host-bucket',
        stateBucket: 'state-bucket',
        statePrefix: 'ops/state',
        distributionId: 'E2QWRUHAPOMQZL',
        region: 'eu-central-1',
        endpoint: 'http://127.0.0.1:4569/',
        siteUrl: 'https://dashboard.example.com',
        unrelated: { nested: true },
      }),
    );
    expect(target).toEqual({
      stack: 'dashboard-hosting-prod',
      artifactsBucket: 'art-bucket',
      hostingBucket: 'host-bucket',
      stateBucket: 'state-bucket',
      statePrefix: 'ops/state/',
      distributionId: 'E2QWRUHAPOMQZL',
      region: 'eu-central-1',
      endpoint: 'http://127.0.0.1:4569',
      siteUrl: 'https://dashboard.example.com/',
      prune: true,
    });
  });
});

describe('resolveDeployTarget — the seed syncCommand', () => {
  it('maps source → artifacts, destination → hosting, --delete → prune', () => {
    const target = resolveDeployTarget(
      stackOf({
        syncCommand:
          'aws s3 sync s3://sophia-dashboard-build-artifacts/latest s3://sophia-dashboard-hosting-prod --delete',
        distributionId: 'E2QWRUHAPOMQZL',
      }),
    );
    expect(target).toMatchObject({
      artifactsBucket: 'sophia-dashboard-build-artifacts',
      hostingBucket: 'sophia-dashboard-hosting-prod',
      stateBucket: 'sophia-dashboard-build-artifacts',
      distributionId: 'E2QWRUHAPOMQZL',
      region: 'us-east-1',
      prune: true,
    });
  });

  it('without --delete nothing is ever pruned; region and endpoint come from the command', () => {
    const target = resolveDeployTarget(
      stackOf({
        syncCommand:
          'aws s3 sync s3://src-bucket s3://dst-bucket --region ap-south-1 --endpoint-url http://127.0.0.1:9000',
      }),
    );
    expect(target).toMatchObject({ prune: false, region: 'ap-south-1', endpoint: 'http://127.0.0.1:9000' });
  });

  it('explicit region and endpoint outputs win over the command', () => {
    const target = resolveDeployTarget(
      stackOf({
        syncCommand: 'aws s3 sync s3://src-bucket s3://dst-bucket --region ap-south-1',
        region: 'eu-west-2',
        endpoint: 'https://s3.example.com',
      }),
    );
    expect(target).toMatchObject({ region: 'eu-west-2', endpoint: 'https://s3.example.com' });
  });

  it('refuses a destination prefix (the site is served from the bucket root)', () => {
    expect(
      refusal(stackOf({ syncCommand: 'aws s3 sync s3://src-bucket s3://dst-bucket/site' })).message,
    ).toContain('root of the hosting bucket');
  });

  it('passes a hostile command up as BAD_INPUT', () => {
    expect(
      refusal(stackOf({ syncCommand: 'aws s3 sync s3://src-bucket s3://dst-bucket; rm -rf /' })).message,
    ).toContain('never executed');
  });
});

describe('resolveDeployTarget — refusals name outputs, never values', () => {
  /** Two valid buckets: each case spreading them gets only the output it names wrong. */
  const VALID_BUCKETS = { artifactsBucket: 'a-bucket', hostingBucket: 'h-bucket' };
  it.each([
    ['nothing at all', {}, ['artifactsBucket, hostingBucket', 'syncCommand', 'outputs present: none']],
    ['only unrelated outputs', { cdnDomain: 'd1.cloudfront.net' }, ['outputs present: cdnDomain']],
    ['hostingBucket missing', { artifactsBucket: 'art-bucket' }, ['missing the output hostingBucket']],
    ['artifactsBucket missing', { hostingBucket: 'host-bucket' }, ['missing the output artifactsBucket']],
    [
      'non-string output',
      { artifactsBucket: 42, hostingBucket: 'host-bucket' },
      ['artifactsBucket must be a non-empty string'],
    ],
    [
      'empty string',
      { artifactsBucket: ' ', hostingBucket: 'host-bucket' },
      ['artifactsBucket must be a non-empty string'],
    ],
    [
      'invalid bucket name',
      { artifactsBucket: 'Bad_Bucket', hostingBucket: 'host-bucket' },
      ['artifactsBucket is not a valid'],
    ],
    [
      'same bucket twice',
      { artifactsBucket: 'one-bucket', hostingBucket: 'one-bucket' },
      ['the same bucket'],
    ],
    [
      'state in the hosting bucket (the site would serve its history)',
      { ...VALID_BUCKETS, stateBucket: 'h-bucket' },
      ['the state bucket is the hosting bucket', 'Set the stateBucket output to another bucket'],
    ],
    ['bad state bucket', { ...VALID_BUCKETS, stateBucket: 'x' }, ['stateBucket']],
    ['bad region', { ...VALID_BUCKETS, region: 'moon' }, ['output region']],
    ['bad endpoint', { ...VALID_BUCKETS, endpoint: 'ftp://x' }, ['output endpoint']],
    ['bad distribution', { ...VALID_BUCKETS, distributionId: 'E2/../x' }, ['distributionId']],
    ['bad site URL', { ...VALID_BUCKETS, siteUrl: 'javascript:alert(1)' }, ['siteUrl']],
    ['traversing state prefix', { ...VALID_BUCKETS, statePrefix: '../x/' }, ['statePrefix']],
    ['absolute state prefix', { ...VALID_BUCKETS, statePrefix: '/x/' }, ['statePrefix']],
  ])('%s', (_name, outputs, fragments) => {
    const error = refusal(stackOf(outputs));
    for (const fragment of fragments) expect(error.message).toContain(fragment);
    expect(error.message).toContain('dashboard-hosting-prod');
    for (const value of Object.values(outputs)) {
      if (typeof value === 'string' && value.length > 3) expect(error.message).not.toContain(value);
    }
  });

  it('refuses a secret output named like a target output, naming it only', () => {
    const error = refusal(stackOf({ artifactsBucket: 'art-bucket' }, ['hostingBucket', 'dbPassword']));
    expect(error.message).toContain('hostingBucket');
    expect(error.message).toContain('never decrypts');
    expect(error.message).not.toContain('dbPassword');
  });

  it('ignores other secret outputs', () => {
    const target = resolveDeployTarget(
      stackOf({ artifactsBucket: 'art-bucket', hostingBucket: 'host-bucket' }, ['dbPassword']),
    );
    expect(target.hostingBucket).toBe('host-bucket');
  });
});
