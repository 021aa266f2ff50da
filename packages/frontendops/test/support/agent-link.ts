/**
 * The agent's own MCP client of a server in this process, over an in-memory linked pair.
 */
import { type Client, InMemoryTransport } from '@modelcontextprotocol/client';
import type { McpServer } from '@modelcontextprotocol/server';
import { createAgentMcpClient } from '../../src/agent/mcp-clients.ts';

/**
 * A client as the agent makes one (createAgentMcpClient: it declares elicitation) of `server`.
 * `onToolCall` sees each tools/call the server receives, before the server handles it.
 */
export async function linkAgentClient(
  server: McpServer,
  onToolCall?: (name: string, args: Record<string, unknown>) => void,
): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  if (onToolCall) {
    const deliver = serverSide.onmessage;
    serverSide.onmessage = (message, extra) => {
      const m = message as {
        method?: string;
        params?: { name?: string; arguments?: Record<string, unknown> };
      };
      if (m.method === 'tools/call') onToolCall(String(m.params?.name), m.params?.arguments ?? {});
      deliver?.call(serverSide, message, extra);
    };
  }
  const client = createAgentMcpClient();
  await client.connect(clientSide);
  return client;
}
