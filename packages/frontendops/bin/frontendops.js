#!/usr/bin/env node
import module from 'node:module';

// Node 22.1+ keeps the compiled code of the modules it loads (the AWS SDK's are most of the start-up)
// in a cache on disk, so every run after the first starts faster. Older Node lacks it: no change.
module.enableCompileCache?.();
// The SDK's notice about its future Node 22 requirement is for us (the maintainers), not for operators.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('/dist/cli/main.js'))
    throw error;
  process.stderr.write(
    'error: frontendops is not built. Run `npm run build -w frontendops` (or `npm ci`) first.\n',
  );
  process.exit(1);
}
process.exitCode = await cli.runCli(process.argv.slice(2), cli.processIo());
