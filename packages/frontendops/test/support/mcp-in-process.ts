/**
 * The agent's two MCP servers run in this process, for tests that run the CLI in process (runCli):
 * the same `frontendops mcp infra|git` commands the agent would spawn (defaultMcpConfig's), through
 * the same router, serving stdio over in-memory streams, with the agent's own client on the other
 * end. Spawning them costs each agent request two Node processes (about 0.6 s of CPU each); what
 * only a process boundary shows is left to the tests that spawn them (run-cli.ts: `mcp: 'spawn'`).
 *
 * Servers named by an --config file (their own environment) are connected as the CLI does
 * (connectAgentClients): there the process and its environment are the point.
 */
import { PassThrough } from 'node:stream';
import {
  type Client,
  type JSONRPCMessage,
  ReadBuffer,
  serializeMessage,
  type Transport,
} from '@modelcontextprotocol/client';
import {
  type ConnectMcp,
  connectAgentClients,
  createAgentMcpClient,
  type McpServerEntry,
} from '../../src/agent/mcp-clients.ts';
import { runCli } from '../../src/cli/main.ts';
import { BIN } from './cli.ts';

export const connectInProcess: ConnectMcp = async (config, options = {}) => {
  const { infra, git } = config.mcpServers;
  const ours = (entry: McpServerEntry): entry is Extract<McpServerEntry, { command: string }> =>
    'command' in entry && entry.command === process.execPath && entry.args[0] === BIN;
  if (!options.inheritEnv || !ours(infra) || !ours(git)) return connectAgentClients(config, options);
  const env = options.env ?? process.env;
  const say = options.onStderr ?? (() => undefined);
  const servers = await Promise.allSettled([serve(infra, env, say), serve(git, env, say)]);
  const opened = servers.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = servers.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(opened.map((s) => s.close()));
    throw failed.reason;
  }
  const [i, g] = opened as [Served, Served];
  return {
    infra: i.client,
    git: g.client,
    close: async () => {
      await Promise.allSettled([i.close(), g.close()]);
    },
  };
};

interface Served {
  client: Client;
  close(): Promise<void>;
}

/** `frontendops <args>` (an `mcp` command) in this process, and the agent's client connected to it. */
async function serve(
  entry: Extract<McpServerEntry, { command: string }>,
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): Promise<Served> {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let rest = '';
  const errors: string[] = [];
  const running = runCli(entry.args.slice(1), {
    stdin: toServer,
    // A stream, as process.stdout is: the SDK's stdio transport listens for its errors and drain.
    stdout: fromServer,
    stderr: {
      write: (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines.filter((l) => l.trim())) {
          errors.push(line);
          say(line);
        }
      },
    },
    env: { ...env, ...entry.env },
    cwd: entry.cwd ?? process.cwd(),
    untilStopped: () => stopped,
  });
  const client = createAgentMcpClient();
  const ended = running.then((code) => {
    throw new Error(
      `frontendops ${entry.args.slice(1).join(' ')} ended (exit ${code}) before it served: ${errors.join(' ')}`,
    );
  });
  ended.catch(() => undefined);
  await Promise.race([client.connect(streamTransport(fromServer, toServer)), ended]);
  return {
    client,
    async close() {
      await client.close();
      stop();
      await running;
    },
  };
}

/** A client transport over a pair of streams, framed as MCP's stdio transport frames it. */
function streamTransport(input: PassThrough, output: PassThrough): Transport {
  const buffer = new ReadBuffer();
  const transport: Transport = {
    async start() {
      input.on('data', (chunk: Buffer) => {
        buffer.append(chunk);
        for (;;) {
          let message: JSONRPCMessage | null;
          try {
            message = buffer.readMessage();
          } catch (error) {
            transport.onerror?.(error as Error);
            break;
          }
          if (!message) break;
          transport.onmessage?.(message);
        }
      });
    },
    async send(message) {
      output.write(serializeMessage(message));
    },
    async close() {
      output.end();
      input.removeAllListeners('data');
      transport.onclose?.();
    },
  };
  return transport;
}
