/**
 * The agent commands on their own (registerAgentCommands on a fresh commander program), so the CLI is
 * tested as a real process exactly as `frontendops agent` runs it, independently of src/cli/main.ts.
 */
import { Command } from 'commander';
import { registerAgentCommands } from '../../src/cli/commands/agent.ts';

const program = new Command('frontendops');
registerAgentCommands(program);
await program.parseAsync(process.argv);
