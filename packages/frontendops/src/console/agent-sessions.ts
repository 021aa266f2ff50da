/**
 * The console's agent, with its MCP sessions kept open: one infra server and one git server per
 * stack, in this process over linked in-memory transports, connected once and used by every chat
 * turn for the console's lifetime (spawning two server processes per turn took seconds). Turns of
 * one stack run one at a time, so each turn's approvals reach that turn only. The infra server's
 * own approver (asked only by clients that cannot elicit) is the same channel: the turn's
 * confirmation, which approves exactly the plan the page showed.
 */
import { InMemoryTransport } from '@modelcontextprotocol/client';
import type { McpServer } from '@modelcontextprotocol/server';
import type { ApproveFn } from '../agent/approval.ts';
import { runAgentRequest } from '../agent/index.ts';
import { createAgentMcpClient } from '../agent/mcp-clients.ts';
import type { AgentClients, PlannerChoice } from '../agent/types.ts';
import type { Config } from '../config.ts';
import { FrontendOpsError } from '../errors.ts';
import { createGitServer } from '../mcp/git-server.ts';
import { createInfraServer } from '../mcp/infra/server.ts';
import { createStackOpener } from '../mcp/infra/stacks.ts';
import { createSecrecy } from '../mcp/secrecy.ts';
import type { GitHost } from '../ports.ts';
import { resolveStackSource } from '../stacks/resolve.ts';
import type { ConsoleAgent } from './chat.ts';
import type { ConfigReader } from './config-reader.ts';

export interface AgentSessionsOptions {
  config: Config;
  /** The configuration now (console/config-reader.ts), read at each turn; default: `config` for good. */
  readConfig?: ConfigReader;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The repository the git server reads and tags; null: the console runs outside one. */
  git: GitHost | null;
  planner?: PlannerChoice;
}

export interface AgentSessions {
  agent: ConsoleAgent;
  close(): Promise<void>;
}

interface Session {
  /** The stack's name (the console knows it by its --stack reference). */
  stack: string;
  /** The configuration its servers were made with (whether the stack is protected, who approves). */
  config: Config;
  close(): Promise<void>;
  clients: AgentClients;
  /** The approval of the turn running now; null between turns. */
  turn: { approve: ApproveFn | null };
  /** The tail of this stack's queue of turns. */
  queue: Promise<unknown>;
}

export function createAgentSessions(options: AgentSessionsOptions): AgentSessions {
  const sessions = new Map<string, Promise<Session>>();
  const closers: Array<() => Promise<void> | void> = [];

  const readConfig = options.readConfig ?? (async () => options.config);

  /** `after`: the queue of the session it replaces, so turns of one stack still run one at a time. */
  const open = async (ref: string, config: Config, after?: Promise<unknown>): Promise<Session> => {
    const { stack } = await resolveStackSource(ref, {
      config,
      cwd: options.cwd,
      env: options.env,
    });
    // What the agent's server hides learns every stack its opener reads, `buildsFrom` stacks too,
    // beside the secret variables of the console's environment (the one the stacks are opened with).
    const secrecy = createSecrecy(options.env);
    // Read as the console was given them (its cwd and env), not the process's: `env:` backends too.
    const opener = createStackOpener(config, {
      aliases: { [stack]: ref },
      cwd: options.cwd,
      env: options.env,
      // The console shows operator notes on the stack's card; the agent's server says nothing twice.
      onNotice: () => undefined,
      onTarget: secrecy.learnTarget,
    });
    const turn: Session['turn'] = { approve: null };
    const infra = createInfraServer({
      config,
      openSite: opener.open,
      defaultStack: stack,
      secrecy,
      cwd: options.cwd,
      // What it hides of the configuration, and whether it runs in a GitHub Actions job (approvals).
      env: options.env,
      approver: {
        approve: async (request) =>
          turn.approve
            ? turn.approve(request, { asked: ['deploy', 'rollback'] })
            : { approved: false, by: 'nobody', via: 'no confirmation is open in the console' },
      },
    });
    const git = createGitServer({
      host: options.git ?? noRepository(),
      defaultPath: config.appPath,
      app: config.app,
      hide: [options.cwd],
      // The receipt key the infra server signs with, and the secrets hidden: the console's env.
      env: options.env,
    });
    const [infraClient, gitClient] = await Promise.all([link(infra), link(git)]).catch(async (error) => {
      await opener.close();
      throw error;
    });
    const clients: AgentClients = {
      infra: infraClient,
      git: gitClient,
      close: async () => {
        await Promise.allSettled([infraClient.close(), gitClient.close()]);
      },
    };
    let closed: Promise<void> | null = null;
    const close = () => {
      closed ??= (async () => {
        await clients.close?.();
        await opener.close();
      })();
      return closed;
    };
    closers.push(close);
    return { stack, config, close, clients, turn, queue: after ?? Promise.resolve() };
  };

  const sessionOf = async (ref: string): Promise<Session> => {
    const config = await readConfig();
    let session = sessions.get(ref);
    const current = await session?.catch(() => null);
    let after: Promise<unknown> | undefined;
    if (current && current.config !== config) {
      // The configuration was edited: this stack's servers are made again with it. The old ones
      // close once the turn running on them (if any) ends.
      sessions.delete(ref);
      session = undefined;
      after = current.queue;
      void current.queue.then(() => current.close());
    }
    if (!session) {
      session = open(ref, config, after);
      // A stack that cannot be reached yet is tried again on the next turn.
      session.catch(() => sessions.delete(ref));
      sessions.set(ref, session);
    }
    return session;
  };

  return {
    async agent(text, o) {
      const session = await sessionOf(o.stack);
      const run = session.queue.then(async () => {
        session.turn.approve = o.approve;
        try {
          return await runAgentRequest(text, {
            actor: o.actor,
            approve: o.approve,
            onEvent: o.onEvent,
            clients: session.clients,
            stack: session.stack,
            config: session.config,
            cwd: options.cwd,
            env: options.env,
            ...(options.planner ? { planner: options.planner } : {}),
          });
        } finally {
          session.turn.approve = null;
        }
      });
      session.queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      for (const close of closers.splice(0).reverse()) await Promise.resolve(close()).catch(() => undefined);
      sessions.clear();
    },
  };
}

async function link(server: McpServer) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = createAgentMcpClient();
  await client.connect(clientSide);
  return client;
}

/** The git server of a console started outside a repository: every call says so, and what to do. */
function noRepository(): GitHost {
  const refuse = async (): Promise<never> => {
    throw new FrontendOpsError(
      'NOT_FOUND',
      'This console was started outside a git repository, so the agent cannot read commits or make deploy tags. Start the console in the repository.',
    );
  };
  return {
    latestCommit: refuse,
    getCommit: refuse,
    commitsBetween: refuse,
    createTag: refuse,
    listTags: refuse,
    readTag: refuse,
  };
}
