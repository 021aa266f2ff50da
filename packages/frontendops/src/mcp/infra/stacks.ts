/**
 * Which stacks the infra server acts on. Tools take a stack NAME (never a path: a model must not
 * point the server at files); the server's own --stack reference (a name, an outputs file, `local`)
 * answers for its stack's name. Sites are opened once and shared by every MCP session of the process.
 */
import type { Config } from '../../config.ts';
import type { DeployTarget } from '../../engine/types.ts';
import type { Site } from '../../site.ts';
import { openSite } from '../../stacks/open.ts';

export type StackOpener = (stack: string) => Promise<Site>;

export interface SharedStackOpener {
  open: StackOpener;
  /** Closes every site opened so far. */
  close(): void;
}

/**
 * Opens stacks by name through openSite, caching each. `aliases` map a stack name to the reference
 * to open it by (e.g. the server's --stack outputs file).
 */
export function createStackOpener(
  config: Config,
  options: {
    aliases?: Record<string, string>;
    cwd: string;
    onNotice?: (notice: string) => void;
    /**
     * Told each target read, the opened stacks' and those they build from (openSite's onTarget):
     * required, since what a server hides (its secrecy's learnTarget) learns a `buildsFrom` stack's
     * buckets and state prefix only here.
     */
    onTarget: (target: DeployTarget) => void;
    /**
     * The environment the server was given (default process.env): where `env:NAME` backends, the
     * SDK's endpoint variables and the lock directory are read (openSite's env).
     */
    env?: NodeJS.ProcessEnv;
  },
): SharedStackOpener {
  const opened = new Map<string, Promise<Site>>();
  return {
    open(stack) {
      let site = opened.get(stack);
      if (!site) {
        // Own names only: "__proto__" or "toString" is an unknown stack, not the object's prototype.
        const ref =
          (options.aliases && Object.hasOwn(options.aliases, stack) && options.aliases[stack]) || stack;
        site = openSite(ref, config, options.cwd, {
          ...(options.onNotice ? { onNotice: options.onNotice } : {}),
          onTarget: options.onTarget,
          ...(options.env ? { env: options.env } : {}),
        });
        opened.set(stack, site);
        // A failure (unknown stack, unreadable outputs) is not cached: the next call tries again.
        site.catch(() => opened.delete(stack));
      }
      return site;
    },
    close() {
      for (const site of opened.values())
        site.then(
          (s) => s.close(),
          () => undefined,
        );
      opened.clear();
    },
  };
}
