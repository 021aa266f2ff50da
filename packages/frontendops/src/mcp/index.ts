/**
 * The MCP servers as a library (`frontendops/mcp`): build the infra and git servers in your own
 * program and serve them over stdio or Streamable HTTP, as `frontendops mcp infra|git` does. Public
 * API: every export here is a promise; what is not exported may change.
 */

export { type GitHostFlags, selectGitHost } from '../adapters/git-host.ts';
export { MCP_TOKEN_ENV } from './auth.ts';
export { createGitServer, type GitServerOptions } from './git-server.ts';
export { createHandleSecret } from './infra/handles.ts';
export { createInfraServer, type InfraServerOptions } from './infra/server.ts';
export { createStackOpener, type SharedStackOpener, type StackOpener } from './infra/stacks.ts';
export { createSecrecy, type Secrecy } from './secrecy.ts';
export {
  type HttpServing,
  type ServeHttpOptions,
  type StdioStreams,
  serveHttp,
  serveStdio,
} from './serve.ts';
