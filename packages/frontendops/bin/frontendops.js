#!/usr/bin/env node
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

// Node 22.1+ keeps the compiled code of the modules it loads (the AWS SDK's are most of the start-up)
// in a cache on disk, so every run after the first starts faster. Older Node lacks it: no change.
// The cache is the user's own (not Node's default under the shared temp directory, where another
// user could plant compiled code for a tool that runs with deploy credentials); NODE_COMPILE_CACHE,
// when set, is the user's choice and wins.
module.enableCompileCache?.(
  process.env.NODE_COMPILE_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'frontendops', 'node-compile-cache'),
);
// The SDK's notice about its future Node 22 requirement is for us (the maintainers), not for operators.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
let cli;
try {
  cli = await import('../dist/bundle/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('/dist/bundle/main.js'))
    throw error;
  process.stderr.write(
    'error: frontendops is not built. Run `npm run build -w frontendops` (or `npm ci`) first.\n',
  );
  process.exit(1);
}
process.exitCode = await cli.runCli(process.argv.slice(2), cli.processIo());
