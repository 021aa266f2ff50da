/**
 * The outputs of the dashboard-hosting-prod stack as the Pulumi fixtures (test/fixtures/pulumi) hold
 * them: one stack read three ways (its checkpoint, the CLI's `stack output`, the Cloud export), so
 * every Pulumi source's contract expects exactly these.
 */
export const DASHBOARD_PROD_OUTPUTS = {
  artifactsBucket: 'sophia-dashboard-build-artifacts',
  hostingBucket: 'sophia-dashboard-hosting-prod',
  distributionId: 'E2QWRUHAPOMQZL',
  region: 'us-east-1',
  siteUrl: 'https://dashboard.sophia.example.com',
  cdnDomain: 'd111111abcdef8.cloudfront.net',
  tags: { team: 'platform', env: 'prod' },
};
