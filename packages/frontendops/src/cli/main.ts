/**
 * The `frontendops` CLI: a thin router, one file per command group in ./commands. Errors are caught
 * once, here: a FrontendOpsError is a message for a person (no stack trace); anything else is a bug
 * and shows its stack only with FRONTENDOPS_DEBUG=1.
 */
import { Command, CommanderError } from 'commander';
import { FrontendOpsError } from '../errors.ts';
import { registerAgentCommands } from './commands/agent.ts';
import { registerApproveCommand } from './commands/approve.ts';
import { registerConsoleCommand } from './commands/console.ts';
import { registerDeployCommands } from './commands/deploy.ts';
import { registerDevCommand } from './commands/dev.ts';
import { registerMcpCommand } from './commands/mcp.ts';
import { registerPublishCommand } from './commands/publish.ts';
import { registerStatusCommands } from './commands/status.ts';

const program = new Command('frontendops')
  .description('Deploy the Sophia Dashboard to S3 + CloudFront, safely, fast and traceably')
  .showHelpAfterError('(run frontendops --help for the commands)')
  .exitOverride();

registerPublishCommand(program);
registerDeployCommands(program);
registerStatusCommands(program);
registerDevCommand(program);
registerMcpCommand(program);
registerApproveCommand(program);
registerConsoleCommand(program);
registerAgentCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (error instanceof FrontendOpsError) {
    process.stderr.write(`error: ${error.message}\n`);
    return error.code === 'BAD_INPUT' ? 2 : 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message}\n`);
  if (process.env.FRONTENDOPS_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write('(this looks like a bug; run with FRONTENDOPS_DEBUG=1 for details)\n');
  return 1;
}
