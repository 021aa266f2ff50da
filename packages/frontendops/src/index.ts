/**
 * FrontendOps as a library (the package's main entry, `frontendops`): what the CLI does, for
 * programs that drive it themselves — load the configuration, open a stack, publish a build, deploy
 * or roll back — and the `frontendops dev` environment. The pure engine is `frontendops/engine`,
 * the MCP servers `frontendops/mcp`, the agent `frontendops/agent`. Public API: every export here is
 * a promise; what is not exported may change.
 */

export { type CliIo, processIo } from './cli/io.ts';
export { runCli } from './cli/main.ts';
export { CONFIG_ENV, CONFIG_FILE, type Config, configSchema, defaultConfig, loadConfig } from './config.ts';
export {
  type DeployOptions,
  type DeploySummary,
  deployArtifact,
  finishSyncedDeploy,
  rollbackRelease,
} from './deploy/deploy.ts';
export { type PublishInput, type PublishResult, publishBuild, readManifest } from './deploy/publish.ts';
export { type ErrorCode, FrontendOpsError, isFrontendOpsError } from './errors.ts';
export { type LocalEnvironment, type StartLocalOptions, startLocalEnvironment } from './local/dev.ts';
export type { Site } from './site.ts';
export { LOCAL_STACK } from './stacks/local.ts';
export { openSite } from './stacks/open.ts';
export type { RequestInfo } from './state/records.ts';
