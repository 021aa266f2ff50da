// A minimal CLI entry for end-to-end tests of `mcp git` until src/cli/main.ts exists:
// `node --import tsx test/support/run-git-mcp.ts mcp git --repo <dir>`.
import { Command } from 'commander';
import { registerMcpCommand } from '../../src/cli/commands/mcp.ts';
import { isFrontendOpsError } from '../../src/errors.ts';

const program = new Command('frontendops').exitOverride();
registerMcpCommand(program);
try {
  await program.parseAsync(process.argv);
  process.exit(0);
} catch (error) {
  if (isFrontendOpsError(error)) {
    console.error(`error: ${error.message}`);
    process.exit(2);
  }
  if ((error as { code?: string }).code?.startsWith('commander.')) process.exit(2);
  throw error;
}
