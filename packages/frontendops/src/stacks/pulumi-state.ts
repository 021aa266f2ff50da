/**
 * Pulumi self-managed ("DIY") backend state, read-only: `file://<dir>` or `s3://<bucket>[/prefix]`.
 * Layout as pkg/backend/diy writes it: `.pulumi/meta.yaml` `version: 1` means project-scoped stacks at
 * `.pulumi/stacks/<project>/<stack>.json`; no meta file (version 0) means the legacy
 * `.pulumi/stacks/<stack>.json`. A checkpoint may be gzip- or zstd-compressed (`.json.gz`, `.json.zst`,
 * detected by magic bytes as Pulumi does). Secrets stay ciphertext and are dropped: only names are kept.
 */
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import * as zlib from 'node:zlib';
import { z } from 'zod';
import { createS3Store } from '../adapters/s3.ts';
import { FrontendOpsError } from '../errors.ts';
import type { StackOutputs, StackSource } from '../ports.ts';
import { openRegularFile } from '../private-file.ts';
import { type BackendLocation, parseBackendUrl } from './backend-url.ts';
import { checkDeploymentVersion, checkPulumiName, extractStackOutputs } from './pulumi-deployment.ts';

type S3Credentials = Parameters<typeof createS3Store>[0]['credentials'];

export interface PulumiStateOptions {
  /** `file://<dir>` (relative to cwd, `~` for home) or `s3://<bucket>[/prefix][?region=…&endpoint=…]`. */
  backendUrl: string;
  /** The Pulumi project; found by listing when the backend holds the stack in exactly one project. */
  project?: string;
  cwd?: string;
  /** For s3:// only; default: the standard AWS SDK credential chain. */
  credentials?: S3Credentials;
}

const STACKS_DIR = '.pulumi/stacks/';
const META_FILE = '.pulumi/meta.yaml';
const EXTENSIONS = ['.json', '.json.gz', '.json.zst'];

const checkpointSchema = z.object({
  version: z.unknown(),
  checkpoint: z.object({ latest: z.unknown().optional() }),
});

export function createPulumiStateSource(options: PulumiStateOptions): StackSource {
  const bucket = openBackend(options);
  return {
    async readOutputs(stackRef: string): Promise<StackOutputs> {
      const ref = parseStackRef(stackRef, options.project);
      const layout = await readLayoutVersion(bucket);
      // Only the stack's own keys when its place is known; every stack only to find its project.
      const own =
        layout === 0
          ? `${STACKS_DIR}${ref.stack}.json`
          : ref.project === undefined
            ? undefined
            : `${STACKS_DIR}${ref.project}/${ref.stack}.json`;
      const keys = await bucket.list(own ?? STACKS_DIR);
      const project = layout === 1 ? (ref.project ?? findProject(keys, ref.stack, bucket.kind)) : undefined;
      const base =
        project === undefined ? `${STACKS_DIR}${ref.stack}` : `${STACKS_DIR}${project}/${ref.stack}`;
      const key = EXTENSIONS.map((ext) => base + ext).find((candidate) => keys.includes(candidate));
      const body = key === undefined ? null : await bucket.read(key);
      if (body === null) throw notFound(ref.stack, bucket.kind, await bucket.list(STACKS_DIR));
      const where = `the Pulumi checkpoint of stack ${ref.stack}`;
      const parsed = checkpointSchema.safeParse(parseJson(decompress(body, where), where));
      if (!parsed.success) {
        throw new FrontendOpsError(
          'UPSTREAM',
          `${where} is not a versioned checkpoint {version, checkpoint}.`,
        );
      }
      checkDeploymentVersion(parsed.data.version, where);
      const { outputs, secretNames } = extractStackOutputs(parsed.data.checkpoint.latest, where);
      return { stack: ref.stack, outputs, secretNames, source: `pulumi state (${bucket.kind} backend)` };
    },
  };
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

interface StateBucket {
  kind: 'file' | 's3';
  read(key: string): Promise<Buffer | null>;
  /** Every key that starts with `prefix` (a folder or a name's start), relative to the backend root. */
  list(prefix: string): Promise<string[]>;
}

function openBackend(options: PulumiStateOptions): StateBucket {
  const location = parseBackendUrl(options.backendUrl, options.cwd ?? process.cwd());
  return location.kind === 'file' ? openDirectory(location.directory) : openS3(location, options.credentials);
}

function openDirectory(root: string): StateBucket {
  return {
    kind: 'file',
    async read(key) {
      // What the path is, whoever changes the repository may choose (a backend directory in it): a
      // named pipe nobody writes to would be read forever, a link to /dev/zero until memory ran out.
      let opened: Awaited<ReturnType<typeof openRegularFile>>;
      try {
        opened = await openRegularFile(join(root, key));
      } catch (error) {
        if (isMissing(error)) return null;
        throw upstream('could not read the file backend', error);
      }
      if ('problem' in opened) {
        throw new FrontendOpsError(
          'BAD_INPUT',
          `The file backend's ${key.slice(0, 200)} is not a regular file (${opened.kind}): expected a Pulumi checkpoint. Nothing was read: put the stack's checkpoint there (\`pulumi stack export\` writes one), or point the stack's backend at its state directory.`,
        );
      }
      try {
        return await opened.handle.readFile();
      } catch (error) {
        throw upstream('could not read the file backend', error);
      } finally {
        await opened.handle.close();
      }
    },
    async list(prefix) {
      const slash = prefix.lastIndexOf('/') + 1;
      const dir = join(root, prefix.slice(0, slash));
      const start = prefix.slice(slash);
      let entries: string[];
      try {
        entries = await readdir(dir, { recursive: start === '' });
      } catch (error) {
        if (isMissing(error)) return [];
        throw upstream('could not list the file backend', error);
      }
      return entries
        .filter((entry) => entry.startsWith(start))
        .map((entry) => relative(root, join(dir, entry)).split(sep).join('/'));
    },
  };
}

function openS3(
  location: Extract<BackendLocation, { kind: 's3' }>,
  credentials: S3Credentials | undefined,
): StateBucket {
  const { prefix } = location;
  const store = createS3Store({
    bucket: location.bucket,
    ...(location.region ? { region: location.region } : {}),
    ...(location.endpoint ? { endpoint: location.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
  return {
    kind: 's3',
    async read(key) {
      const object = await store.get(prefix + key);
      return object === null ? null : object.body;
    },
    async list(listPrefix) {
      const summaries = await store.list(prefix + listPrefix);
      return summaries.map((summary) => summary.key.slice(prefix.length));
    },
  };
}

function parseStackRef(stackRef: string, configuredProject: string | undefined) {
  const parts = stackRef.split('/');
  if (parts.length === 3) {
    // Pulumi's fully qualified DIY form: organization/<project>/<stack> (the organization is always literal).
    if (parts[0] !== 'organization') {
      throw new FrontendOpsError(
        'BAD_INPUT',
        `Stack reference "${stackRef.slice(0, 200)}": a self-managed backend's organization is always "organization".`,
      );
    }
    return {
      project: checkPulumiName(parts[1] as string, 'Pulumi project'),
      stack: checkPulumiName(parts[2] as string, 'Stack'),
    };
  }
  if (parts.length !== 1) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `Stack reference "${stackRef.slice(0, 200)}": expected <stack> or organization/<project>/<stack>.`,
    );
  }
  return {
    project:
      configuredProject === undefined ? undefined : checkPulumiName(configuredProject, 'Pulumi project'),
    stack: checkPulumiName(stackRef, 'Stack'),
  };
}

async function readLayoutVersion(bucket: StateBucket): Promise<number> {
  const meta = await bucket.read(META_FILE);
  if (meta === null) return 0;
  // meta.yaml holds a single `version: N` key; a YAML parser would be a dependency for one integer.
  const match = /^version:\s*(\d+)\s*$/m.exec(meta.toString('utf8'));
  const version = match ? Number(match[1]) : Number.NaN;
  if (version !== 0 && version !== 1) {
    throw new FrontendOpsError(
      'UPSTREAM',
      `The ${bucket.kind} backend's ${META_FILE} has no version or a version other than 0 or 1, which this reader ` +
        'does not understand. Check the backend with `pulumi stack ls`.',
    );
  }
  return version;
}

function findProject(keys: string[], stack: string, kind: string): string | undefined {
  const projects = new Set<string>();
  for (const key of keys) {
    const [project, file, extra] = key.slice(STACKS_DIR.length).split('/');
    if (extra === undefined && file !== undefined && EXTENSIONS.some((ext) => file === stack + ext)) {
      projects.add(project as string);
    }
  }
  if (projects.size > 1) {
    throw new FrontendOpsError(
      'BAD_INPUT',
      `Stack ${stack} exists in several projects of the ${kind} backend (${[...projects].sort().join(', ')}). ` +
        'Set "project" for this stack in frontendops.config.json, or use organization/<project>/<stack>.',
    );
  }
  return [...projects][0];
}

function notFound(stack: string, kind: string, keys: string[]): FrontendOpsError {
  const known = keys
    .filter((key) => EXTENSIONS.some((ext) => key.endsWith(ext)))
    .map((key) => key.slice(STACKS_DIR.length).replace(/\.json(\.gz|\.zst)?$/, ''))
    .sort();
  return new FrontendOpsError(
    'NOT_FOUND',
    `Stack ${stack} does not exist in the ${kind} Pulumi backend (known stacks: ${known.join(', ') || 'none'}). ` +
      'Nothing was created. Check the name, or the project set for it in frontendops.config.json.',
  );
}

function decompress(body: Buffer, where: string): Buffer {
  try {
    if (body[0] === 0x1f && body[1] === 0x8b) return zlib.gunzipSync(body);
    if (body.length >= 4 && body.readUInt32LE(0) === 0xfd2fb528) {
      // Node has zstd from 22.15; on older Node we say so instead of guessing.
      const zstd = (zlib as unknown as { zstdDecompressSync?: (input: Buffer) => Buffer }).zstdDecompressSync;
      if (!zstd) {
        throw new FrontendOpsError(
          'UPSTREAM',
          `${where} is zstd-compressed, which needs Node 22.15 or newer. Run on a newer Node, or switch the ` +
            "backend's zstd compression off and let `pulumi up` rewrite the checkpoint.",
        );
      }
      return zstd(body);
    }
  } catch (error) {
    if (error instanceof FrontendOpsError) throw error;
    throw upstream(`${where} could not be decompressed`, error);
  }
  return body;
}

function parseJson(body: Buffer, where: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw upstream(`${where} is not valid JSON`, error);
  }
}

const isMissing = (error: unknown) =>
  ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

const upstream = (what: string, cause: unknown) =>
  new FrontendOpsError('UPSTREAM', `Pulumi state: ${what}. Check the backend and try again.`, { cause });
