// Pulumi program for stack dashboard-hosting-prod. Its exports are the stack outputs — the seven the
// FrontendOps infra server reads and the release store of atomic releases, none secret.
import { readHostingConfig } from './config.ts';
import { createDashboardHosting } from './hosting.ts';

const outputs = createDashboardHosting(readHostingConfig());

export const artifactsBucket = outputs.artifactsBucket;
export const hostingBucket = outputs.hostingBucket;
export const stateBucket = outputs.stateBucket;
export const distributionId = outputs.distributionId;
export const region = outputs.region;
export const siteUrl = outputs.siteUrl;
export const deployerRoleArn = outputs.deployerRoleArn;
export const releaseStoreArn = outputs.releaseStoreArn;
