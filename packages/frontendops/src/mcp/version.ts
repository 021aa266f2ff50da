/** The version the MCP servers announce: the package's own. */
import { createRequire } from 'node:module';

export const SERVER_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string })
  .version;
