/**
 * The infra server opens stacks by the name a client sends. A name that is also a property every
 * JavaScript object has ("__proto__", "constructor", "toString") is an unknown stack like any other:
 * before, the alias table's prototype answered for it, and every stack-taking tool failed with
 * "INTERNAL: It failed unexpectedly (TypeError)".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalPolicyFor, defaultConfig } from '../../../src/config.ts';
import { createStackOpener } from '../../../src/mcp/infra/stacks.ts';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'frontendops-stacks-'));
});
afterAll(() => rm(cwd, { recursive: true, force: true }));

describe('a stack named like an object property', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    '%s is an unknown stack',
    async (name) => {
      const opener = createStackOpener(defaultConfig(), {
        aliases: { prod: 'prod.json' },
        cwd,
        onTarget: () => undefined,
      });
      try {
        await expect(opener.open(name)).rejects.toMatchObject({
          code: 'NOT_FOUND',
          message: expect.stringContaining(`Unknown stack "${name}"`),
        });
      } finally {
        opener.close();
      }
      expect(approvalPolicyFor(defaultConfig(), name)).toEqual(defaultConfig().approval);
    },
  );
});
