import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { HostingConfig } from './config.ts';

const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

type AccessArgs = {
  config: HostingConfig;
  artifactsBucket: aws.s3.Bucket;
  hostingBucket: aws.s3.Bucket;
  stateBucket: aws.s3.Bucket;
  distribution: aws.cloudfront.Distribution;
};

/**
 * Two roles CI assumes through GitHub's OIDC tokens (no stored keys):
 * - the deployer (deploy.yml, in the protected GitHub Environment whose reviewers approve) reads
 *   artifacts, copies them into the hosting bucket, keeps deploy state and invalidates this one
 *   distribution — nothing else;
 * - the publisher (build-and-publish.yml, pushes to the branch) writes this app's artifacts only.
 */
export function createGithubAccess(args: AccessArgs) {
  const { config } = args;
  const providerArn =
    config.githubOidcProviderArn ??
    new aws.iam.OpenIdConnectProvider('github-actions', {
      url: `https://${GITHUB_OIDC_HOST}`,
      clientIdLists: ['sts.amazonaws.com'],
    }).arn;

  // The stack's own checkpoint, should the Pulumi state live in the state bucket: the one
  // object the frontendops CLI reads to learn the stack's outputs.
  const checkpointKey = `.pulumi/stacks/${pulumi.getProject()}/${pulumi.getStack()}.json`;
  const readCheckpoint = {
    Sid: 'ReadStackOutputs',
    Effect: 'Allow',
    Action: 's3:GetObject',
    Resource: pulumi.interpolate`${args.stateBucket.arn}/${checkpointKey}`,
  };

  // Inside a job that uses an Environment, GitHub puts the environment (not the branch) in the
  // token's subject; the Environment's deployment-branch rule and required reviewers guard it.
  const deployer = new aws.iam.Role('deployer', {
    description: `FrontendOps deploys of ${config.appName} from ${config.githubRepository} (${config.githubEnvironment})`,
    maxSessionDuration: 3600,
    assumeRolePolicy: githubTrust(
      providerArn,
      `repo:${config.githubRepository}:environment:${config.githubEnvironment}`,
    ),
  });
  new aws.iam.RolePolicy('deployer-policy', {
    role: deployer.id,
    policy: pulumi.jsonStringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ReadArtifacts',
          Effect: 'Allow',
          Action: ['s3:GetObject'],
          Resource: pulumi.interpolate`${args.artifactsBucket.arn}/*`,
        },
        {
          Sid: 'ListArtifacts',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: args.artifactsBucket.arn,
        },
        {
          Sid: 'WriteHosting',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          Resource: pulumi.interpolate`${args.hostingBucket.arn}/*`,
        },
        { Sid: 'ListHosting', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: args.hostingBucket.arn },
        {
          Sid: 'ReadWriteDeployState',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          Resource: pulumi.interpolate`${args.stateBucket.arn}/${config.statePrefix}*`,
        },
        {
          Sid: 'ListDeployState',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: args.stateBucket.arn,
          Condition: { StringLike: { 's3:prefix': [`${config.statePrefix}*`] } },
        },
        readCheckpoint,
        {
          Sid: 'InvalidateThisDistribution',
          Effect: 'Allow',
          Action: ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
          Resource: args.distribution.arn,
        },
      ],
    }),
  });

  const publisher = new aws.iam.Role('publisher', {
    // A fixed name, so the ARN for the repository variable is known without an extra stack output.
    name: `${config.appName}-publisher`,
    description: `Publishes ${config.appName} build artifacts from ${config.githubRepository}@${config.githubBranch}`,
    maxSessionDuration: 3600,
    assumeRolePolicy: githubTrust(
      providerArn,
      `repo:${config.githubRepository}:ref:refs/heads/${config.githubBranch}`,
    ),
  });
  new aws.iam.RolePolicy('publisher-policy', {
    role: publisher.id,
    policy: pulumi.jsonStringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'WriteThisAppsArtifacts',
          Effect: 'Allow',
          // GetObject: publishing an already published commit is checked, not overwritten.
          Action: ['s3:GetObject', 's3:PutObject'],
          Resource: pulumi.interpolate`${args.artifactsBucket.arn}/${config.appName}/*`,
        },
        {
          Sid: 'ListThisAppsArtifacts',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: args.artifactsBucket.arn,
          Condition: { StringLike: { 's3:prefix': [`${config.appName}/*`] } },
        },
        readCheckpoint,
      ],
    }),
  });

  return { deployer, publisher };
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
