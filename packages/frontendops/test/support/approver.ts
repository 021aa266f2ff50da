/**
 * Approvers as the tests of protected stacks need them: their keys made for a file's tests, an infra
 * server of a protected stack they approve for, and a person approving an open request.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createApproverKey, loadApproverKey } from '../../src/approval/keys.ts';
import { approveRequest } from '../../src/cli/approve-deploy.ts';
import { type ApprovalPolicy, approvalPolicyFor, type Config } from '../../src/config.ts';
import type { Site } from '../../src/site.ts';
import { adoptApprovalPolicy } from '../../src/state/approval-in-force.ts';
import { type ApprovalAction, type ApprovalRequest, findStoredRequests } from '../../src/state/approvals.ts';
import { request } from './atomic-env.ts';
import { STACK } from './deploy-env.ts';
import { type OidcDouble, startOidcDouble } from './github-oidc-double.ts';
import {
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
  stopConnectedInfra,
} from './mcp-infra.ts';
import { cli } from './run-cli.ts';

export interface ApproverKey {
  /** The private key's file (no passphrase), as `--key` takes it. */
  path: string;
  /** Its public key, as a configuration lists an approver. */
  publicKey: string;
}

/**
 * An approver key for each of `names`, made in a folder of their own before the tests of the calling
 * file or describe, and removed after them. The keys by name, from the returned function, once made.
 */
export function approverKeysFor<const N extends string>(names: readonly N[]): () => Record<N, ApproverKey> {
  let dir: string | undefined;
  let keys: Record<N, ApproverKey> | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frontendops-keys-'));
    const made = {} as Record<N, ApproverKey>;
    for (const name of names) {
      const path = join(dir, `${name.toLowerCase()}.pem`);
      made[name] = { path, publicKey: await createApproverKey(path, undefined) };
    }
    keys = made;
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!keys) throw new Error('the approver keys are made in beforeAll: ask for them inside a test');
    return keys;
  };
}

/** The approvers a configuration lists for these keys: each name's public key. */
export const approversOf = (keys: Record<string, ApproverKey>): Record<string, string> =>
  Object.fromEntries(Object.entries(keys).map(([name, key]) => [name, key.publicKey]));

export interface ProtectedInfra<N extends string = string> {
  f: InfraFixture;
  keys: Record<N, ApproverKey>;
  /** The configuration protecting the fixture's stack, with the keys' names as its approvers. */
  config: Config;
  /** The fixture's site as the protected server opens it (protected, that approval policy). */
  site: Site;
  /** A client of the fixture's infra server under that configuration. */
  c: InfraClient;
}

/**
 * For the tests of the calling file or describe: startInfraFixture with its stack protected and
 * approved by `approvers` (a key each, approverKeysFor), and a client of its infra server. Started
 * before the tests (given up to three minutes on a loaded machine), stopped after them; what it holds,
 * from the returned function, once started.
 */
export function protectedInfraFor<const N extends string>(approvers: readonly N[]): () => ProtectedInfra<N> {
  const keys = approverKeysFor(approvers);
  let f: InfraFixture | undefined;
  let c: InfraClient | undefined;
  let started: ProtectedInfra<N> | undefined;
  beforeAll(async () => {
    f = await startInfraFixture();
    const config = f.config([STACK], { approvers: approversOf(keys()) });
    const site = { ...f.t.site, protected: true, approval: approvalPolicyFor(config, STACK) };
    c = await connectInfra(f.server({ config }));
    started = { f, keys: keys(), config, site, c };
  }, 180_000);
  afterAll(() => stopConnectedInfra(f, c));
  return () => {
    if (!started) throw new Error('the protected infra starts in beforeAll: ask for it inside a test');
    return started;
  };
}

export interface InfraWithOidc {
  /** The fixture, once started. */
  f: () => InfraFixture;
  /** A double of GitHub's OIDC provider, for the deployment environments a configuration trusts. */
  oidc: () => OidcDouble;
  /** The clients the tests connected: each closed after them. */
  clients: InfraClient[];
}

/**
 * For the tests of the calling file: startInfraFixture (its stack protected by whichever
 * configuration a test gives the server it starts) and a double of GitHub's OIDC provider, started
 * before the tests; after them the clients they connected are closed, then both stopped.
 */
export function infraWithOidcFor(): InfraWithOidc {
  let f: InfraFixture | undefined;
  let oidc: OidcDouble | undefined;
  const clients: InfraClient[] = [];
  beforeAll(async () => {
    f = await startInfraFixture();
    oidc = await startOidcDouble();
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await oidc?.close();
    await f?.t.stop();
  });
  const started = <T>(what: T | undefined): T => {
    if (!what) throw new Error('the infra fixture starts in beforeAll: ask for it inside a test');
    return what;
  };
  return { f: () => started(f), oidc: () => started(oidc), clients };
}

/**
 * The real CLI, in process, as a person runs it on the fixture's stack: `command`, then `--stack` and
 * the fixture's outputs file, then `extra`, under a configuration that protects the fixture's stack
 * with `approval`. What it printed, and its exit code.
 */
export async function cliOnProtected(
  f: InfraFixture,
  approval: Partial<ApprovalPolicy>,
  command: readonly string[],
  extra: readonly string[] = [],
) {
  const outputs = await f.t.writeOutputs();
  const config = join(f.t.tmp, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(config, JSON.stringify({ protected: [STACK], approval }));
  return cli([...command, '--stack', outputs, ...extra], {
    env: { FRONTENDOPS_CONFIG: config, ...f.t.cliEnv() },
    cwd: f.t.tmp,
  });
}

/**
 * `frontendops approve <deployId>` as a person runs it (cliOnProtected): with the approver key at
 * `keyPath`, answering yes (`--yes`). `extra` is more of its command line (`--action rollback`).
 */
export function approveWithCli(
  f: InfraFixture,
  deployId: string,
  keyPath: string,
  approval: Partial<ApprovalPolicy>,
  extra: readonly string[] = [],
) {
  return cliOnProtected(f, approval, ['approve', deployId], ['--key', keyPath, '--yes', ...extra]);
}

/**
 * A person approving an open request as `frontendops approve` does, in process: with the approver key
 * at `keyPath`, confirming whatever plan is shown. Returns what they were shown.
 */

export async function approveShown(
  site: Site,
  keyPath: string,
  deployId: string,
  action?: ApprovalAction,
): Promise<string> {
  let shown = '';
  await approveRequest(site, {
    deployId,
    ...(action ? { action } : {}),
    request: request('approve'),
    loadKey: () => loadApproverKey(keyPath, undefined),
    confirm: async (preview) => {
      shown = preview.description;
      return true;
    },
  });
  return shown;
}

/** Every approval request stored for this deploy id, as parsed (one per action at most). */
export const findApprovalRequests = async (site: Site, deployId: string): Promise<ApprovalRequest[]> =>
  (await findStoredRequests(site, deployId)).map((read) => read.request);

/**
 * The fixture's stack with `approval` recorded as its approval policy in the audit log, as the
 * deployer's `frontendops approvers adopt` records it: for a test that changes who approves a stack
 * whose earlier approvals recorded another policy.
 */
export async function adoptedPolicy(f: InfraFixture, approval: Partial<ApprovalPolicy>): Promise<void> {
  const site = { ...f.t.site, approval: approvalPolicyFor(f.config([STACK], approval), STACK) };
  await adoptApprovalPolicy(site, 'the tests', Date.now());
}
