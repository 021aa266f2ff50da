/**
 * Which stacks the infra server acts on. Tools take a stack NAME (never a path: a model must not
 * point the server at files); the server's own --stack reference (a name, an outputs file, the
 * local environment) answers for its stack's name. Environments are opened once and shared by
 * every MCP session of the process.
 */
import { z } from 'zod';
import type { Config } from '../config.ts';
import { type Environment, openStack } from '../environment.ts';

export type StackOpener = (stack: string) => Promise<Environment>;

export const stackNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/, {
    message: 'expected a stack name such as "dashboard-hosting-prod" (letters, digits, -, _, .)',
  })
  .refine((name) => !/\.json$/i.test(name), {
    message: 'expected a stack name, not a file name; the server operator chooses outputs files',
  });

export interface SharedStackOpener {
  open: StackOpener;
  /** Closes every environment opened so far. */
  close(): void;
}

/**
 * Opens stacks by name through openStack (config, local environment), caching each. `aliases` map
 * a stack name to the reference to open it by (e.g. the server's --stack outputs file).
 */
export function createStackOpener(
  config: Config,
  options: { aliases?: Record<string, string>; cwd?: string; open?: typeof openStack } = {},
): SharedStackOpener {
  const opened = new Map<string, Promise<Environment>>();
  const open = options.open ?? openStack;
  return {
    open(stack) {
      let env = opened.get(stack);
      if (!env) {
        const ref = options.aliases?.[stack] ?? stack;
        env = open(ref, config, options.cwd);
        opened.set(stack, env);
        // A failure (unknown stack, unreadable outputs) is not cached: the next call tries again.
        env.catch(() => opened.delete(stack));
      }
      return env;
    },
    close() {
      for (const env of opened.values())
        env.then(
          (e) => e.close(),
          () => undefined,
        );
      opened.clear();
    },
  };
}
