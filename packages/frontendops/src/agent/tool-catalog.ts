/**
 * The only tools the agent may call (the names fixed in the MCP contract), which server holds each,
 * how much it can change, and the gate's own strict schema for its arguments. A tool a server offers
 * that is not listed here is never offered to a planner; arguments outside these schemas never leave.
 */
import * as z from 'zod';

export type ServerName = 'infra' | 'git';

/** read: changes nothing. write: adds (a tag, an invalidation). destructive: overwrites or deletes hosting. */
export type ToolImpact = 'read' | 'write' | 'destructive';

export interface CatalogEntry {
  server: ServerName;
  impact: ToolImpact;
  args: z.ZodType<Record<string, unknown>>;
}

const NAME = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'expected a stack or app name (letters, digits, _ . -)');
const FULL_SHA = z.string().regex(/^[0-9a-f]{40}$/, 'expected a full 40-character lower-case commit sha');
const SHA = z.string().regex(/^[0-9a-fA-F]{7,40}$/, 'expected a commit sha (7–40 hex digits)');
const DEPLOY_ID = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'expected a deploy id returned by the infra server');
const HANDLE = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._~-]{0,1999}$/, 'expected the handle returned by get_deploy_target');
const REF = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/~^@{}+-]{0,199}$/, 'expected a branch, tag or commit sha');

/** Who asked, in what words, through which planner: the infra server records them with the deployment. */
const REQUEST_INFO = {
  request: z.string().min(1).max(2000).optional(),
  requestedBy: z.string().min(1).max(200).optional(),
  planner: z
    .string()
    .regex(/^[a-z][a-z0-9:._/-]{0,99}$/)
    .optional(),
};

export const TOOL_CATALOG: Record<string, CatalogEntry> = {
  // infra server
  get_deploy_target: {
    server: 'infra',
    impact: 'read',
    args: z.strictObject({ stack: NAME.optional(), app: NAME.optional(), commit: FULL_SHA, ...REQUEST_INFO }),
  },
  plan_deploy: {
    server: 'infra',
    impact: 'read',
    args: z.strictObject({ stack: NAME.optional(), app: NAME.optional(), commit: FULL_SHA }),
  },
  run_sync: {
    server: 'infra',
    impact: 'destructive',
    args: z.strictObject({ handle: HANDLE, ...REQUEST_INFO }),
  },
  invalidate_cdn: {
    server: 'infra',
    impact: 'write',
    args: z.strictObject({ deployId: DEPLOY_ID, stack: NAME.optional(), ...REQUEST_INFO }),
  },
  get_status: { server: 'infra', impact: 'read', args: z.strictObject({ stack: NAME.optional() }) },
  get_history: {
    server: 'infra',
    impact: 'read',
    args: z.strictObject({ stack: NAME.optional(), limit: z.number().int().min(1).max(100).optional() }),
  },
  rollback: {
    server: 'infra',
    impact: 'destructive',
    args: z.strictObject({
      stack: NAME.optional(),
      to: z.union([DEPLOY_ID, SHA]).optional(),
      ...REQUEST_INFO,
    }),
  },
  // git server
  latest_commit: {
    server: 'git',
    impact: 'read',
    args: z.strictObject({
      path: z
        .string()
        .regex(/^[\w.@+ -][\w.@+/ -]{0,499}$/, 'expected a repository-relative path')
        .optional(),
      ref: REF.optional(),
    }),
  },
  get_commit: { server: 'git', impact: 'read', args: z.strictObject({ ref: REF }) },
  create_deploy_tag: {
    server: 'git',
    impact: 'write',
    args: z.strictObject({
      deployId: DEPLOY_ID,
      commit: SHA,
      artifactDigest: z.string().regex(/^(sha256:)?[0-9a-f]{64}$/, 'expected sha256:<64 hex>'),
      request: z.string().min(1).max(2000),
    }),
  },
  list_deploy_tags: { server: 'git', impact: 'read', args: z.strictObject({}) },
};

export const isListedTool = (name: string): boolean => Object.hasOwn(TOOL_CATALOG, name);

/** Tools whose arguments name a stack: the gate pins them to the request's stack. */
export const STACK_SCOPED = new Set([
  'get_deploy_target',
  'plan_deploy',
  'invalidate_cdn',
  'get_status',
  'get_history',
  'rollback',
]);

/** Request-info arguments the gate fills in itself (when the server's schema takes them). */
export const REQUEST_INFO_KEYS = ['request', 'requestedBy', 'planner'] as const;
