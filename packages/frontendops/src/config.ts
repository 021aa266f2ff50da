/**
 * `frontendops.config.json` (at the project root — see findProjectRoot — or the path in
 * FRONTENDOPS_CONFIG). Optional: without it every default applies. Relative paths in it are resolved
 * against the file's own directory, so a loaded Config holds only absolute paths and means the same
 * from any working directory.
 */
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { appName, repoPath } from './contract/fields.ts';
import { closest } from './engine/closest.ts';
import {
  APPROVER_NAME,
  APPROVER_PUBLIC_KEY,
  canonicalPublicKey,
  STACK_NAME,
  STACK_NAME_RULE,
} from './engine/ids.ts';
import { clip } from './engine/text.ts';
import { badInput, isFrontendOpsError } from './errors.ts';
import { APPROVAL_ACTIONS } from './ports.ts';
import { readSmallFile } from './private-file.ts';
import { absoluteBackendUrl, namesStateBackend } from './stacks/backend-url.ts';
import { isOutputsFileRef } from './stacks/outputs-file.ts';

export const CONFIG_FILE = 'frontendops.config.json';
export const CONFIG_ENV = 'FRONTENDOPS_CONFIG';

/**
 * The directory a command run in `start` acts for, as git finds its repository: the nearest one from
 * `start` upwards that holds frontendops.config.json, looking no further up than the git top-level
 * (a configuration above the repository is not its own) or the filesystem root. Without one: the git
 * top-level in a git repository, else `start`. Its configuration and its local environment
 * (`.frontendops/env.json`) are the ones used, wherever in the repository the command was started.
 */
export async function findProjectRoot(start: string): Promise<string> {
  const from = resolve(start);
  const has = async (path: string, kind: 'file' | 'any') => {
    const info = await stat(path).catch(() => null);
    return info !== null && (kind === 'any' || info.isFile());
  };
  for (let dir = from; ; ) {
    if (await has(join(dir, CONFIG_FILE), 'file')) return dir;
    // A .git directory, or the .git file of a worktree or submodule: the top of this repository.
    if (await has(join(dir, '.git'), 'any')) return dir;
    const parent = dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
}

/** Pulumi's own names (project, organization, stack): letters, digits, -, _ and . */
const NAME = /^[A-Za-z0-9_.-]{1,100}$/;
const STACK_NAME_WORDS = `expected a stack name: ${STACK_NAME_RULE} (e.g. "dashboard-hosting-prod")`;

/** A relative path that stays inside its base: no absolute path, no ".." step out of it. */
const pathInside = (base: string) =>
  z
    .string()
    .min(1)
    .refine((path) => !isAbsolute(path) && !path.split(/[\\/]/).includes('..'), {
      message: `expected a path inside ${base}`,
    });
const BACKEND_HINT =
  'file://<dir>, s3://<bucket>[/prefix], env:<VARIABLE holding one of those>, pulumi-cloud, pulumi-cli or outputs';

/**
 * A record (names the file chooses) that refuses the name "__proto__": JSON.parse keeps it as an own
 * key, and zod's record skipped it without a word, so what was written under it vanished.
 */
const namedRecord = <K extends z.core.$ZodRecordKey, V extends z.ZodType>(key: K, value: V) =>
  z.preprocess(
    (input, ctx) => {
      if (input && typeof input === 'object' && Object.hasOwn(input, '__proto__')) {
        ctx.addIssue({
          code: 'custom',
          path: ['__proto__'],
          message: '"__proto__" is a name JavaScript objects reserve: expected another name; rename it',
        });
      }
      return input;
    },
    z.record(key, value),
  );

/**
 * A GitHub id as its OIDC tokens carry it: decimal digits, in a string. `field`: its name under
 * approval.github; `jq`: where `gh api repos/OWNER/REPO` answers it.
 */
const githubId = (field: string, jq: string) =>
  z
    .string({
      error: `expected ${field} as a string of decimal digits, in quotes (e.g. "123456789"): \`gh api repos/OWNER/REPO --jq ${jq}\` prints it`,
    })
    .regex(
      /^[1-9][0-9]{0,19}$/,
      `expected ${field} as decimal digits (e.g. "123456789"): \`gh api repos/OWNER/REPO --jq ${jq}\` prints it`,
    );

/**
 * Who may approve changes of a protected stack — principals the agent, its model and its MCP
 * clients cannot impersonate (see docs/security.md):
 * - approvers: people, by the Ed25519 public key of their approver key (`frontendops approver init`);
 * - github: a GitHub Actions job of this repository running in this deployment environment, whose
 *   required reviewers approved it (proved by the job's OIDC token, one use per run);
 * - trustElicitation: whether the MCP client's answer to the server's question (and the console's
 *   button) counts. Off unless the stack's owners trust every client that can reach its server.
 */
export const approvalConfigSchema = z.strictObject({
  approvers: namedRecord(
    z.string().regex(APPROVER_NAME, "expected a person's name: letters, digits, spaces and . _ @ ' -"),
    z
      .string()
      .regex(
        APPROVER_PUBLIC_KEY,
        'expected "ed25519:<43 base64url characters>" (frontendops approver init prints it)',
      ),
  ).default({}),
  github: z
    .strictObject({
      repository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'expected owner/repo'),
      /**
       * The ids GitHub gave the repository and its owner (its tokens' repository_id and
       * repository_owner_id): a repository deleted and re-created under the name, or the name taken
       * by another owner after a rename, has others. Absent: the name alone is checked.
       */
      repositoryId: githubId('repositoryId', '.id').optional(),
      ownerId: githubId('ownerId', '.owner.id').optional(),
      environment: z.string().min(1).max(255),
      /** What the environment's approval covers; a rollback is its own decision unless listed. */
      actions: z.array(z.enum(APPROVAL_ACTIONS)).min(1).default(['deploy']),
      issuer: z.url({ protocol: /^https?$/ }).default('https://token.actions.githubusercontent.com'),
      audience: z.string().min(1).max(200).default('frontendops'),
    })
    .optional(),
  trustElicitation: z.boolean().default(false),
});

const stackConfigSchema = z
  .strictObject({
    backend: z
      .string()
      .refine(
        (value) =>
          ['pulumi-cloud', 'pulumi-cli', 'outputs'].includes(value) ||
          namesStateBackend(value) ||
          /^env:[A-Z_][A-Z0-9_]*$/.test(value),
        { message: `expected one of ${BACKEND_HINT}` },
      ),
    /** The Pulumi project (state backends: found by listing when omitted; required for pulumi-cloud). */
    project: z.string().regex(NAME, 'expected a Pulumi project name').optional(),
    organization: z.string().regex(NAME, 'expected a Pulumi organization name').optional(),
    /** The stack's name in the backend when it differs from the key (e.g. "prod"). */
    stack: z.string().regex(NAME, 'expected a Pulumi stack name').optional(),
    /** backend "outputs": the JSON file of outputs. */
    file: z.string().min(1).optional(),
    /** backend "pulumi-cloud": a self-hosted Pulumi Cloud API URL (default https://api.pulumi.com). */
    apiUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Who approves this stack's changes, in place of the top-level "approval". */
    approval: approvalConfigSchema.optional(),
    /**
     * Other configured stacks whose publish logs this stack deploys builds from, besides its own (a
     * build published once, to staging's log, deployed to staging and then to prod).
     */
    buildsFrom: z.array(z.string().regex(STACK_NAME, STACK_NAME_WORDS)).min(1).optional(),
  })
  .superRefine((stack, ctx) => {
    if (stack.backend === 'outputs' && !stack.file) {
      ctx.addIssue({
        code: 'custom',
        path: ['file'],
        message: 'backend "outputs" needs "file": the outputs JSON file',
      });
    }
    if (stack.backend === 'pulumi-cloud') {
      for (const key of ['organization', 'project'] as const) {
        if (!stack[key])
          ctx.addIssue({ code: 'custom', path: [key], message: `backend "pulumi-cloud" needs "${key}"` });
      }
    }
  });

const configObject = z
  .strictObject({
    $schema: z.string().optional(),
    stacks: namedRecord(z.string().regex(STACK_NAME, STACK_NAME_WORDS), stackConfigSchema)
      .superRefine((stacks, ctx) => {
        if (Object.hasOwn(stacks, 'local')) {
          ctx.addIssue({
            code: 'custom',
            path: ['local'],
            message: '"local" is the name of the embedded environment; call this stack something else',
          });
        }
      })
      .default({}),
    /**
     * The stack commands act on when none is named and no local environment runs: a stack's name, or
     * an outputs file (read as --stack reads one: isOutputsFileRef).
     */
    defaultStack: z
      .string()
      .refine((stack) => STACK_NAME.test(stack) || isOutputsFileRef(stack), {
        message: `${STACK_NAME_WORDS}, or an outputs JSON file (e.g. "stacks/prod.json")`,
      })
      .optional(),
    /** Environments whose deploys and rollbacks need a human approval. */
    protected: z.array(z.string().regex(STACK_NAME, STACK_NAME_WORDS)).default(['dashboard-hosting-prod']),
    /** Who approves changes of protected stacks (a stack's own "approval" replaces it). */
    approval: approvalConfigSchema.default({ approvers: {}, trustElicitation: false }),
    /**
     * Deploy even where nothing can serialise two operators: an S3 endpoint that ignores conditional
     * writes and that other machines can reach (see stacks/serialisation.ts). Set it only when every
     * deploy to such an endpoint runs on this one machine.
     */
    allowUnserialisedDeploys: z.boolean().default(false),
    /** How many releases' assets are kept when pruning. */
    retain: z.number().int().min(1).max(100).default(3),
    /** Atomic releases: "/dir/" is a client route too and gets the app's /index.html (a single-page app). */
    spa: z.boolean().optional(),
    /**
     * Atomic releases: how long after a switch CloudFront edges may still serve the release it
     * replaced (KeyValueStore updates reach every edge within seconds); its files are pruned after.
     * Default 60.
     */
    releaseGraceSeconds: z.number().int().min(0).max(86_400).optional(),
    app: appName.default('sophia-dashboard'),
    /** The app's directory in the git repository: its newest commit is "the latest". */
    // Also written into the model's system prompt (agent/model-planner.ts) and given to git: held to
    // what a repository path may be (contract/fields.ts), no quote or line break joins the prompt.
    appPath: pathInside(
      'the repository, relative to its root (e.g. "apps/sophia-dashboard", or "." for the root)',
    )
      .refine((path) => repoPath.safeParse(path).success, {
        message:
          'expected a path inside the repository made of letters, digits, spaces and . _ @ + - / (e.g. "apps/sophia-dashboard")',
      })
      .default('apps/sophia-dashboard'),
    /** How `frontendops dev` builds the app: an argument vector run in appPath (never a shell), and its output. */
    build: z
      .strictObject({
        command: z.array(z.string().min(1)).min(1).optional(),
        /** The built site, relative to appPath; without a command, the site is published as it is. */
        output: pathInside('the app\'s directory, relative to it (e.g. "dist")').default('.'),
      })
      .optional(),
  })
  .superRefine((config, ctx) => {
    // Checked when the file is read, not first by the command that uses it.
    const names = Object.keys(config.stacks);
    const known = `${names.length ? names.map((n) => `"${n}"`).join(', ') : 'none'}`;
    const stack = config.defaultStack;
    if (
      stack !== undefined &&
      !Object.hasOwn(config.stacks, stack) &&
      stack !== 'local' &&
      !isOutputsFileRef(stack)
    ) {
      const meant = closest(stack, names);
      ctx.addIssue({
        code: 'custom',
        path: ['defaultStack'],
        message: `"${stack}" names no stack of "stacks"${meant ? ` (did you mean "${meant}"?)` : ''}: expected a configured stack (${known}), "local" or an outputs JSON file; fix the name, or add the stack to "stacks"`,
      });
    }
    // An approver key written another way than `approver init` writes it (four texts name each key) is
    // refused here, in the file; a policy an audit entry recorded is read as it was written.
    const policies: Array<[(string | number)[], ApprovalPolicy | undefined]> = [
      [['approval'], config.approval],
      ...Object.entries(config.stacks).map(
        ([name, stack]): [(string | number)[], ApprovalPolicy | undefined] => [
          ['stacks', name, 'approval'],
          stack.approval,
        ],
      ),
    ];
    for (const [path, policy] of policies) {
      for (const [person, key] of Object.entries(policy?.approvers ?? {})) {
        const canonical = canonicalPublicKey(key);
        if (canonical === key) continue;
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'approvers', person],
          message: `"${key}" is the key ${canonical} written another way (its last character's unused bits set): write it as \`frontendops approver show\` prints it`,
        });
      }
    }
    for (const [name, stack] of Object.entries(config.stacks)) {
      for (const [i, from] of (stack.buildsFrom ?? []).entries()) {
        if (from !== name && Object.hasOwn(config.stacks, from)) continue;
        const meant = from === name ? undefined : closest(from, names);
        ctx.addIssue({
          code: 'custom',
          path: ['stacks', name, 'buildsFrom', i],
          message:
            from === name
              ? `"${name}" is this stack: its own publish log is always read; list only other stacks whose publishes it deploys`
              : `"${from}" names no stack of "stacks"${meant ? ` (did you mean "${meant}"?)` : ''}: expected another configured stack (${known}) whose publish log this one deploys builds from; fix the name, or add the stack to "stacks"`,
        });
      }
    }
  });

/** `dashboardPath`, the first name of `appPath`, is still read. */
export const configSchema = z.preprocess((value) => {
  if (value && typeof value === 'object' && !Array.isArray(value) && 'dashboardPath' in value) {
    const { dashboardPath, ...rest } = value as Record<string, unknown>;
    return 'appPath' in rest ? value : { ...rest, appPath: dashboardPath };
  }
  return value;
}, configObject);

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type ApprovalPolicy = z.infer<typeof approvalConfigSchema>;

/** The approval policy of a stack by its (canonical) name. */
export const approvalPolicyFor = (config: Config, stack: string): ApprovalPolicy =>
  (Object.hasOwn(config.stacks, stack) ? config.stacks[stack]?.approval : undefined) ?? config.approval;

/**
 * What two policies both accept: the approvers both list under one name with one key, the GitHub
 * environment both name (for the actions both cover, held to the ids either names), and clients' answers only where both trust
 * them. One environment configured under two names is held to it (stacks/open.ts).
 */
export function acceptedByBoth(a: ApprovalPolicy, b: ApprovalPolicy): ApprovalPolicy {
  const approvers = Object.fromEntries(
    Object.entries(a.approvers).filter(
      ([name, key]) => Object.hasOwn(b.approvers, name) && b.approvers[name] === key,
    ),
  );
  const [x, y] = [a.github, b.github];
  const actions = x && y ? x.actions.filter((action) => y.actions.includes(action)) : [];
  // An id one names and the other does not: both accept only the jobs of that id.
  const sameId = (key: 'repositoryId' | 'ownerId') =>
    x?.[key] === undefined || y?.[key] === undefined || x[key] === y[key];
  const [repositoryId, ownerId] = [x?.repositoryId ?? y?.repositoryId, x?.ownerId ?? y?.ownerId];
  const ids = {
    ...(repositoryId === undefined ? {} : { repositoryId }),
    ...(ownerId === undefined ? {} : { ownerId }),
  };
  const sameJob =
    x !== undefined &&
    y !== undefined &&
    x.repository.toLowerCase() === y.repository.toLowerCase() &&
    sameId('repositoryId') &&
    sameId('ownerId') &&
    x.environment === y.environment &&
    x.issuer === y.issuer &&
    x.audience === y.audience;
  return {
    approvers,
    ...(x && sameJob && actions.length > 0 ? { github: { ...x, ...ids, actions } } : {}),
    trustElicitation: a.trustElicitation && b.trustElicitation,
  };
}

/** A policy that trusts no one: what a stack opened without a configuration gets. */
export const NO_APPROVERS: ApprovalPolicy = { approvers: {}, trustElicitation: false };
export type Config = z.infer<typeof configSchema>;

export const defaultConfig = (): Config => configSchema.parse({});

/** Reads and validates the configuration; absent file → defaults; a bad file → BAD_INPUT naming the field. */
export async function loadConfig(
  cwd: string = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): Promise<Config> {
  const explicit = env[CONFIG_ENV];
  if (explicit !== undefined && explicit.trim() === '') {
    throw badInput(
      `${CONFIG_ENV} is set but empty: expected the path of a configuration file. Nothing was done: set it to the file, or unset it (\`unset ${CONFIG_ENV}\`) to use ${CONFIG_FILE} in the project.`,
    );
  }
  const file = resolve(cwd, explicit || CONFIG_FILE);
  let text: string;
  try {
    text = await readConfigText(file, explicit !== undefined);
  } catch (error) {
    if (isFrontendOpsError(error)) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return defaultConfig();
    throw badInput(
      `Cannot read the configuration file ${file}${explicit ? ` (named by ${CONFIG_ENV})` : ''}: ` +
        `${(error as Error).message}. Fix the path, or unset ${CONFIG_ENV} to use ${CONFIG_FILE} in the working directory.`,
    );
  }
  let json: unknown;
  try {
    // A byte order mark (some editors write one) is no part of the JSON.
    json = JSON.parse(text.replace(/^\ufeff/, ''));
  } catch (error) {
    throw badInput(`${file} is not valid JSON (${(error as Error).message}). Fix the syntax and try again.`);
  }
  const repeated = repeatedKey(text);
  if (repeated) {
    const key = shownPart(repeated.key);
    const where = repeated.path.length ? `in ${shownPart(repeated.path.join('.'))}` : 'at the top level';
    throw badInput(
      `${file} has the key "${key}" twice ${where}: only one of them could count, and JSON does not say which. Nothing was done: keep one "${key}" there and remove the other.`,
      { fields: [shownPart([...repeated.path, repeated.key].join('.'))] },
    );
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) =>
      shownPart(`${issue.path.join('.') || '(top level)'}: ${problemOf(issue)}${meantFor(issue)}`, 400),
    );
    // The stacks' rule only where a stack is what is wrong.
    const stacksWrong = parsed.error.issues.some((issue) => issue.path[0] === 'stacks');
    throw badInput(
      `${file} is invalid — ${problems.join('; ')}. Allowed top-level fields: ${TOP_LEVEL_FIELDS.join(', ')}` +
        `${stacksWrong ? `; each stack needs "backend" (${BACKEND_HINT})` : ''}.`,
      { fields: parsed.error.issues.map((issue) => issue.path.join('.')) },
    );
  }
  return absolutePaths(parsed.data, dirname(file));
}

/** A configuration is a few kilobytes; one larger than this is not read (the agent's MCP configuration too). */
export const CONFIG_MAX_BYTES = 1024 * 1024;

/**
 * The configuration's text (readSmallFile). What the file is, whoever changes the repository
 * chooses: a link to /dev/zero was read until memory ran out, one to a pipe or /dev/stdin (an MCP
 * server's requests) until it ended. Errors opening it are thrown as they are (ENOENT: none).
 */
async function readConfigText(file: string, explicit: boolean): Promise<string> {
  const read = await readSmallFile(file, CONFIG_MAX_BYTES);
  if ('text' in read) return read.text;
  const fix = `Nothing was done: put the JSON configuration itself at ${file}${explicit ? `, or point ${CONFIG_ENV} at it` : ''}.`;
  if (read.problem === 'too-large')
    throw badInput(`${file} is larger than 1 MiB: a configuration is a few kilobytes. ${fix}`);
  throw badInput(
    `${file} is not a regular file (${read.kind}): expected the JSON configuration file. ${fix}`,
  );
}

/**
 * The first key that appears twice in one object of `text`, with the path of that object (keys, and
 * array indexes), or null. JSON.parse keeps the last of them without a word. `text` is known to be
 * valid JSON: a string right after an object's "{" or "," is a key; anything else is structure or a value.
 */
export function repeatedKey(text: string): { key: string; path: string[] } | null {
  // Each open object or array knows only its parent and its name in it: the path is made only for
  // the repeat found (copied at every level, a file nested 100,000 deep took minutes and gigabytes).
  type Open = { parent: Open | undefined; name: string } & (
    | { kind: 'object'; keys: Set<string>; key: string | null }
    | { kind: 'array'; index: number }
  );
  const pathOf = (open: Open | undefined): string[] => {
    const path: string[] = [];
    for (let at = open; at?.parent; at = at.parent) path.push(at.name);
    return path.reverse();
  };
  let top: Open | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (top?.kind === 'object' && top.key === null) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return { key, path: pathOf(top) };
        top.keys.add(key);
        top.key = key;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      const name = !top ? '' : top.kind === 'object' ? (top.key ?? '') : String(top.index);
      top =
        c === '{'
          ? { parent: top, name, kind: 'object', keys: new Set(), key: null }
          : { parent: top, name, kind: 'array', index: 0 };
    } else if (c === '}' || c === ']') top = top?.parent;
    else if (c === ',' && top?.kind === 'object') top.key = null;
    else if (c === ',' && top?.kind === 'array') top.index += 1;
  }
  return null;
}

const TOP_LEVEL_FIELDS = [
  'stacks',
  'defaultStack',
  'protected',
  'approval',
  'allowUnserialisedDeploys',
  'retain',
  'spa',
  'releaseGraceSeconds',
  'app',
  'appPath',
  'build',
];

/** For an unknown top-level field: the one meant, when it is a typo of one ("appPth" → appPath). */
/**
 * An issue's words. A record's key that breaks its rule (a stack's name, an approver's) zod says as
 * "Invalid key in record", its rule kept in the issue's own issues: said here with the key and what to do.
 */
/**
 * A key, a place or a problem as a refusal shows it: at most `max` characters. Whoever can change
 * the file chooses its keys and nesting (a key of 300,000 characters, a place 100,000 deep), and a
 * refusal goes to terminals and MCP clients.
 */
const shownPart = (text: string, max = 200): string => (text.length > max ? `${clip(text, max)}…` : text);

function problemOf(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_key') return issue.message;
  const key = String(issue.path.at(-1));
  const record = issue.path.at(-2);
  const rule = issue.issues.map((inner) => inner.message).join('; ');
  return `the key ${JSON.stringify(key)} is refused: ${rule}. Rename it${record === undefined ? '' : ` in "${String(record)}"`}`;
}

function meantFor(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'unrecognized_keys' || issue.path.length > 0) return '';
  const meant = issue.keys.flatMap((key) => {
    const name = closest(key, TOP_LEVEL_FIELDS);
    return name ? [`"${name}" for "${key}"`] : [];
  });
  return meant.length ? ` (did you mean ${meant.join(', ')}?)` : '';
}

function absolutePaths(config: Config, base: string): Config {
  const stacks: Config['stacks'] = {};
  for (const [name, stack] of Object.entries(config.stacks)) {
    const copy = { ...stack };
    if (copy.file && !isAbsolute(copy.file)) copy.file = resolve(base, copy.file);
    copy.backend = absoluteBackendUrl(copy.backend, base);
    stacks[name] = copy;
  }
  // A default stack that is an outputs file is a path in this file too, read as --stack reads one.
  const { defaultStack } = config;
  return defaultStack !== undefined && isOutputsFileRef(defaultStack)
    ? { ...config, stacks, defaultStack: resolve(base, defaultStack.trim()) }
    : { ...config, stacks };
}
