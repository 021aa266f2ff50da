import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { SITE_SECURITY_HEADERS, UNSERVED_PREFIX } from 'frontendops/access';
import { VIEWER_REQUEST_CODE } from './spa-rewrite.ts';

/** AWS managed cache policy "Managed-CachingOptimized": honours the objects' Cache-Control headers. */
export const CACHING_OPTIMIZED_POLICY_ID = '658327ea-f89d-4fab-a63d-7e88639e58f6';

type CdnArgs = {
  hostingBucket: aws.s3.Bucket;
  /** The bucket policy may only be written once public policies are blocked. */
  hostingPublicAccessBlock: aws.s3.BucketPublicAccessBlock;
  priceClass: string;
};

/**
 * CloudFront in front of the private hosting bucket: Origin Access Control signs every origin
 * request, and the bucket policy admits only this one distribution. The release router (viewer
 * request) picks the release from the KeyValueStore before the cache lookup, so the cache key is
 * the release's own object.
 */
export function createCdn(args: CdnArgs) {
  const oac = new aws.cloudfront.OriginAccessControl('hosting-oac', {
    description: 'CloudFront reads the Sophia Dashboard hosting bucket',
    originAccessControlOriginType: 's3',
    signingBehavior: 'always',
    signingProtocol: 'sigv4',
  });

  // Atomic releases: the live (and canary) release id is one key of this store; one conditional
  // write switches every edge within seconds, with no copy and no invalidation.
  const releaseStore = new aws.cloudfront.KeyValueStore('releases', {
    comment: 'FrontendOps release pointer (live, canary) and preview-link secret',
  });
  const releaseRouter = new aws.cloudfront.Function('release-router', {
    runtime: 'cloudfront-js-2.0',
    comment: 'Routes each request to the live, canary or previewed release; app routes get index.html',
    code: VIEWER_REQUEST_CODE,
    publish: true,
    keyValueStoreAssociations: [releaseStore.arn],
  });

  const headers = new aws.cloudfront.ResponseHeadersPolicy('security-headers', {
    comment: 'Security headers for the Sophia Dashboard',
    securityHeadersConfig: {
      contentTypeOptions: { override: true },
      strictTransportSecurity: {
        accessControlMaxAgeSec: SITE_SECURITY_HEADERS.hstsMaxAgeSec,
        includeSubdomains: SITE_SECURITY_HEADERS.hstsIncludeSubdomains,
        preload: SITE_SECURITY_HEADERS.hstsPreload,
        override: true,
      },
      frameOptions: { frameOption: SITE_SECURITY_HEADERS.frameOption, override: true },
      referrerPolicy: { referrerPolicy: SITE_SECURITY_HEADERS.referrerPolicy, override: true },
      contentSecurityPolicy: {
        contentSecurityPolicy: SITE_SECURITY_HEADERS.contentSecurityPolicy,
        override: true,
      },
    },
  });

  const originId = 'hosting-bucket';
  const distribution = new aws.cloudfront.Distribution('dashboard', {
    comment: 'Sophia Dashboard',
    enabled: true,
    isIpv6Enabled: true,
    httpVersion: 'http2and3',
    priceClass: args.priceClass,
    defaultRootObject: 'index.html',
    origins: [
      {
        originId,
        domainName: args.hostingBucket.bucketRegionalDomainName,
        originAccessControlId: oac.id,
      },
    ],
    defaultCacheBehavior: {
      targetOriginId: originId,
      viewerProtocolPolicy: 'redirect-to-https',
      allowedMethods: ['GET', 'HEAD', 'OPTIONS'],
      cachedMethods: ['GET', 'HEAD'],
      compress: true,
      cachePolicyId: CACHING_OPTIMIZED_POLICY_ID,
      responseHeadersPolicyId: headers.id,
      functionAssociations: [{ eventType: 'viewer-request', functionArn: releaseRouter.arn }],
    },
    // No error page: it would turn a missing asset into index.html. Only a 404 is never kept (10 s
    // by default): a visitor who asks for the next build's asset before a deploy copies it (its
    // name follows from its content) would otherwise have that edge answer the new page's asset 404
    // after the switch, and new assets are never invalidated.
    customErrorResponses: [{ errorCode: 404, errorCachingMinTtl: 0 }],
    restrictions: { geoRestriction: { restrictionType: 'none' } },
    viewerCertificate: { cloudfrontDefaultCertificate: true },
  });

  new aws.s3.BucketPolicy(
    'hosting-bucket-policy',
    {
      bucket: args.hostingBucket.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'CloudFrontReadsThroughOAC',
            Effect: 'Allow',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
            Resource: pulumi.interpolate`${args.hostingBucket.arn}/*`,
            Condition: { StringEquals: { 'AWS:SourceArn': distribution.arn } },
          },
          {
            // With ListBucket a missing key is an honest 404 rather than S3's 403 AccessDenied.
            Sid: 'CloudFrontSeesMissingKeys',
            Effect: 'Allow',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:ListBucket',
            Resource: args.hostingBucket.arn,
            Condition: { StringEquals: { 'AWS:SourceArn': distribution.arn } },
          },
          {
            // FrontendOps' own objects (the environment marker names where the state lives) are
            // never served, whatever the viewer-request function does.
            Sid: 'CloudFrontNeverReadsFrontendOpsObjects',
            Effect: 'Deny',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
            Resource: pulumi.interpolate`${args.hostingBucket.arn}/${UNSERVED_PREFIX}*`,
          },
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [args.hostingBucket.arn, pulumi.interpolate`${args.hostingBucket.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      }),
    },
    { dependsOn: [args.hostingPublicAccessBlock] },
  );

  return { distribution, releaseStore, siteUrl: pulumi.interpolate`https://${distribution.domainName}` };
}
