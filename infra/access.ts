import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { deployerScope, publisherScope, type RoleScope, s3PolicyStatements } from 'frontendops/access';
import type { HostingConfig } from './config.ts';

const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

type AccessArgs = {
  config: HostingConfig;
  artifactsBucket: aws.s3.Bucket;
  hostingBucket: aws.s3.Bucket;
  stateBucket: aws.s3.Bucket;
  distribution: aws.cloudfront.Distribution;
  releaseStore: aws.cloudfront.KeyValueStore;
};

/**
 * Two roles CI assumes through GitHub's OIDC tokens (no stored keys):
 * - the deployer (deploy.yml, in the protected GitHub Environment whose reviewers approve) reads
 *   artifacts, copies them into the hosting bucket, keeps deploy state, invalidates this one
 *   distribution and switches releases in its one KeyValueStore — nothing else;
 * - the publisher (build-and-publish.yml, pushes to the branch) writes this app's artifacts, appends
 *   to the publish log and takes a commit's publish lock, and reads which environment the hosting
 *   bucket is; it cannot write the hosting bucket, the deploy chain, the rest of the deploy state or
 *   the CDN.
 * Where each reads and writes in S3, and what it may create but never replace or delete (audit
 * entries, "used" approval markers, published artifacts), is the tool's to say (frontendops/access):
 * its s3PolicyStatements translates it, the same statements the tool's tests hold it to, so a key the
 * tool starts to use cannot be missing from the policies.
 */
export function createGithubAccess(args: AccessArgs) {
  const { config } = args;
  const providerArn =
    config.githubOidcProviderArn ??
    new aws.iam.OpenIdConnectProvider('github-actions', {
      url: `https://${GITHUB_OIDC_HOST}`,
      clientIdLists: ['sts.amazonaws.com'],
    }).arn;

  // Both roles learn the stack's outputs from its Pulumi checkpoint when the Pulumi state lives in
  // the state bucket (a self-managed s3:// backend): the layout marker and this one stack's file.
  const stackFile = `.pulumi/stacks/${pulumi.getProject()}/${pulumi.getStack()}.json`;
  const readStackOutputs = {
    Sid: 'ReadStackOutputs',
    Effect: 'Allow',
    Action: ['s3:GetObject'],
    Resource: [
      pulumi.interpolate`${args.stateBucket.arn}/.pulumi/meta.yaml`,
      // .json, .json.gz or .json.zst
      pulumi.interpolate`${args.stateBucket.arn}/${stackFile}*`,
    ],
  };
  const bucketArns = pulumi
    .all([args.artifactsBucket.arn, args.hostingBucket.arn, args.stateBucket.arn])
    .apply(([artifacts, hosting, state]) => ({ artifacts, hosting, state }));
  // A role's policy: its S3 statements, from the tool's scope for it, then the others.
  const rolePolicy = (sid: string, scope: RoleScope, others: pulumi.Input<object>[]) =>
    pulumi.all([bucketArns, pulumi.output(others)]).apply(([arns, rest]) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [...s3PolicyStatements(sid, scope, arns), ...rest],
      }),
    );

  // Inside a job that uses an Environment, GitHub puts the environment (not the branch) in the
  // token's subject; the Environment's deployment-branch rule and required reviewers guard it.
  const deployer = new aws.iam.Role('deployer', {
    description: `FrontendOps deploys of ${config.appName} from ${config.githubRepository} (${config.githubEnvironment})`,
    maxSessionDuration: 3600,
    assumeRolePolicy: githubTrust(
      providerArn,
      `repo:${githubSubjectRepository(config)}:environment:${config.githubEnvironment}`,
    ),
  });
  new aws.iam.RolePolicy('deployer-policy', {
    role: deployer.id,
    policy: rolePolicy('Deployer', deployerScope(config.statePrefix), [
      readStackOutputs,
      {
        Sid: 'InvalidateThisDistribution',
        Effect: 'Allow',
        Action: ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
        Resource: args.distribution.arn,
      },
      {
        // Read the pointer and the store's ETag, write it conditionally; never delete, never list.
        Sid: 'SwitchReleases',
        Effect: 'Allow',
        Action: [
          'cloudfront-keyvaluestore:DescribeKeyValueStore',
          'cloudfront-keyvaluestore:GetKey',
          'cloudfront-keyvaluestore:PutKey',
          'cloudfront-keyvaluestore:UpdateKeys',
        ],
        Resource: args.releaseStore.arn,
      },
    ]),
  });

  const publisher = new aws.iam.Role('publisher', {
    // A fixed name, so the ARN for the repository variable is known without an extra stack output.
    name: `${config.appName}-publisher`,
    description: `Publishes ${config.appName} build artifacts from ${config.githubRepository}@${config.githubBranch}`,
    maxSessionDuration: 3600,
    assumeRolePolicy: githubTrust(
      providerArn,
      `repo:${githubSubjectRepository(config)}:ref:refs/heads/${config.githubBranch}`,
    ),
  });
  new aws.iam.RolePolicy('publisher-policy', {
    role: publisher.id,
    policy: rolePolicy('Publisher', publisherScope(config.appName, config.statePrefix), [readStackOutputs]),
  });

  return { deployer, publisher };
}

/**
 * The repository as a token's subject names it. With the ids configured, GitHub's immutable form
 * `OWNER@OWNER-ID/REPO@REPO-ID` only: a repository re-created under the name or an owner's name
 * taken by another account has other ids, and its owner can choose the name form for its tokens, so
 * the name form is not trusted beside it (the repository must use immutable subjects first).
 */
function githubSubjectRepository(
  config: Pick<HostingConfig, 'githubRepository' | 'githubOwnerId' | 'githubRepositoryId'>,
): string {
  if (config.githubOwnerId === undefined || config.githubRepositoryId === undefined) {
    return config.githubRepository;
  }
  const [owner, name] = config.githubRepository.split('/');
  return `${owner}@${config.githubOwnerId}/${name}@${config.githubRepositoryId}`;
}

function githubTrust(providerArn: pulumi.Input<string>, subject: string) {
  return pulumi.jsonStringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: providerArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
            [`${GITHUB_OIDC_HOST}:sub`]: subject,
          },
        },
      },
    ],
  });
}
