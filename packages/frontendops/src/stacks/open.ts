/**
 * Opening a site: resolve a --stack reference, read its outputs, build the deploy target and bind it
 * to the ports (S3 stores sharing one client, the CDN, the lock, the state records). The same path
 * for every stack: a source that knows how to reach its target (the embedded environment) says so
 * in its `access`; every other stack is reached through the standard AWS SDK chain.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join, win32 } from 'node:path';
import type { CloudFrontCdnOptions } from '../adapters/cloudfront.ts';
import { createFileLocker } from '../adapters/lock-file.ts';
import { createS3Locker } from '../adapters/lock-s3.ts';
import { createS3Client, createS3Store } from '../adapters/s3.ts';
import {
  type ApprovalPolicy,
  acceptedByBoth,
  approvalPolicyFor,
  type Config,
  NO_APPROVERS,
} from '../config.ts';
import { endpointIdentity } from '../deploy/deploy-lock.ts';
import { defaultStatePrefix } from '../engine/target.ts';
import { noteLine } from '../engine/text.ts';
import type { DeployTarget } from '../engine/types.ts';
import { badInput, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { isLoopbackName } from '../loopback.ts';
import type { Cdn, Locker, ObjectStore, ReleasePointer, SiteAccess } from '../ports.ts';
import type { PublishLogRef, Site } from '../site.ts';
import {
  adoptEnvironment,
  type EnvironmentMarker,
  MARKED_PROTECTED,
  markProtected,
  readEnvironmentMarker,
  sameEnvironment,
  UNREADABLE_PROTECTED,
} from '../state/environment.ts';
import { AUDIT_HEAD, CONDITIONAL_WRITE_PROBES, ENVIRONMENT_MARKER, PUBLISH_LOG } from '../state/names.ts';
import { createStateRecords, type StateRecords } from '../state/records.ts';
import { LOCAL_DISTRIBUTION_ID } from './local.ts';
import { type ReadStack, type ResolveOptions, readStack } from './resolve.ts';
import { isLoopbackEndpoint, unserialisedError, unserialisedNotice } from './serialisation.ts';

export interface ConnectSiteOptions {
  /** How to reach the target when not through the standard AWS SDK chain (see SiteAccess). */
  access?: SiteAccess;
  /** Where file locks live when the S3 endpoint ignores conditional writes (default: lockDirFor). */
  lockDir?: string;
  retain?: number;
  /** Atomic releases: SPA routing of "/dir/" (default false). */
  spa?: boolean;
  /** Atomic releases: the grace before replaced releases are pruned (default: access.propagationMs, else 60 s). */
  releaseGraceMs?: number;
  /** Whether changes need a person's approval (see Site.protected); default false. */
  protected?: boolean;
  /** Why (see Site.protectedBy). */
  protectedBy?: string;
  /** Who may approve them (see Site.approval); default: no one. */
  approval?: ApprovalPolicy;
  /** Told about things an operator should know (default: a "note:" line on stderr, once). */
  onNotice?: (notice: string) => void;
  /**
   * Change the target even when nothing can serialise its deploys (no conditional writes, and other
   * machines reach the endpoint): the configuration's allowUnserialisedDeploys. Default false.
   */
  allowUnserialised?: boolean;
  /**
   * The environment the command was given (default process.env): where the SDK's endpoint variables
   * (configuredEndpoint) and the lock directory (FRONTENDOPS_LOCK_DIR) are read.
   */
  env?: NodeJS.ProcessEnv;
}

/** How openSite opens a stack beyond what connectSite is told. */
interface OpenOptions {
  /**
   * Only as its hosting bucket's environment marker says: one that cannot be read, or that the
   * stack does not follow (the state location its outputs name holds a history of its own), is
   * refused (TAMPERED) rather than told. For a stack read from, never changed: another stack's
   * publish log (`buildsFrom`), which nothing but its marker ties to the environment.
   */
  asMarked?: boolean;
  /** The stack's outputs, where the caller has read them already (each read may be a request). */
  read?: ReadStack;
  /**
   * Told each target as it is read, before anything names it: the stack's as its outputs give it,
   * the environment its marker leads to, and those of the stacks it builds from (`buildsFrom`) as
   * they are opened. What an MCP server keeps from its clients learns them here (mcp/secrecy.ts):
   * a call that reads a `buildsFrom` stack never opens it by name.
   */
  onTarget?: (target: DeployTarget) => void;
}

/** Why a stack is protected (the first of these that holds), or undefined when it is not. */
function protectedBy(listed: boolean, named: boolean, marked: boolean): string | undefined {
  if (listed) return 'the configuration lists it under "protected"';
  if (!named) return 'it was opened from an outputs file that does not say which stack it is';
  return marked ? MARKED_PROTECTED : undefined;
}

/**
 * Resolves a --stack reference (an outputs file, `local`, or a configured name) and opens it. When
 * the hosting bucket says it is another environment (see state/environment.ts), that environment is
 * opened: its name, its history, its approvers, and at least the protection of either.
 */
export async function openSite(
  ref: string,
  config: Config,
  cwd: string,
  {
    asMarked = false,
    read,
    onTarget,
    ...options
  }: Pick<ConnectSiteOptions, 'onNotice' | 'env'> & OpenOptions = {},
): Promise<Site> {
  // One environment for all it reads: `env:NAME` backends (its own and those it builds from), the
  // SDK's endpoint variables, the lock directory.
  const reading: ResolveOptions = { config, cwd, ...(options.env ? { env: options.env } : {}) };
  const { target, access, named } = read ?? (await readStack(ref, reading));
  onTarget?.(target);
  const open = (of: DeployTarget, marked = false) => {
    const listed = config.protected.includes(of.stack) || config.protected.includes(target.stack);
    const why = protectedBy(listed, named, marked);
    // Who approves follows the environment as its protection does: opened under a name of its own
    // (a configured alias, outputs naming another stack) that is not the environment's, both names'
    // entries must accept an approval, or the one that trusts more (often the top-level policy of
    // a name this configuration does not list) would approve for the other. A file that names no
    // stack has no name of its own: the environment's entry decides.
    const policy = approvalPolicyFor(config, of.stack);
    const approval =
      named && of.stack !== target.stack
        ? acceptedByBoth(approvalPolicyFor(config, target.stack), policy)
        : policy;
    return connectSite(of, {
      ...(access ? { access } : {}),
      retain: config.retain,
      spa: config.spa ?? false,
      ...(access?.propagationMs === undefined
        ? { releaseGraceMs: (config.releaseGraceSeconds ?? 60) * 1000 }
        : {}),
      allowUnserialised: config.allowUnserialisedDeploys,
      protected: why !== undefined,
      ...(why ? { protectedBy: why } : {}),
      approval,
      ...options,
    });
  };
  const site = withBuildsFrom(await open(target), ref, reading, onTarget);
  const marker = await readEnvironmentMarker(site.hosting).catch((error: unknown) => {
    // One that cannot be read may say protected, or name another environment: never taken as none.
    // The stack is opened as its outputs say, protected, and said why; every change refuses it
    // before anything is written (readEnvironmentMarker, under the deploy lock).
    if (!isFrontendOpsError(error, 'TAMPERED') || error.details?.object !== ENVIRONMENT_MARKER) throw error;
    if (asMarked) {
      site.close();
      throw error;
    }
    if (!site.protected) {
      site.protected = true;
      site.protectedBy = UNREADABLE_PROTECTED;
    }
    site.notify(error.message);
    return 'unreadable' as const;
  });
  if (!marker || marker === 'unreadable') return site;
  const where = (of: EnvironmentMarker | DeployTarget) => `s3://${of.stateBucket}/${of.statePrefix}`;
  if (sameEnvironment(target, marker)) {
    if (marker.protected && !site.protected) markProtected(site);
    return site;
  }
  // A marker leads an alias, or an outputs file that names no stack, to the environment's one
  // history. It never leads a stack away from the history its own state location holds: whoever
  // can write the hosting bucket could otherwise point it at a copy of that chain (under the state
  // prefix, outside the create-only entries), cut after the newest deploy tag, and every command,
  // `audit verify` included, would read the copy. The stack's own chain reports the marker instead.
  if (await site.state.head(`${target.statePrefix}${AUDIT_HEAD}`)) {
    if (marker.protected && !site.protected) markProtected(site);
    if (marker.stateBucket === target.stateBucket && marker.statePrefix === target.statePrefix) {
      // One history under two names (its outputs name the environment's state location): a change
      // under either name needs an approval both names' configurations accept, or whichever name
      // trusts more (its clients' answers, another approver) would approve the other's changes.
      site.approval = acceptedByBoth(site.approval, approvalPolicyFor(config, marker.stack));
      // Its entries name the environment's name, which the marker names this state location by.
      site.historyNamed = marker.stack;
      site.notify(
        `Stack ${target.stack} keeps the history of environment ${marker.stack} (its outputs name the same state location): its changes need an approval that the configuration of both names accepts.`,
      );
      return site;
    }
    if (asMarked) {
      site.close();
      throw new FrontendOpsError(
        'TAMPERED',
        `The hosting bucket of ${target.stack} is marked as environment ${marker.stack} with its history at ${where(marker)}, but ${target.stack}'s outputs name ${where(target)}, which holds a history too: the marker is not followed, and nothing is read there. Nothing was changed. Check where the configuration and the outputs file send ${target.stack} (\`git log -p frontendops.config.json\`, and the outputs file) and put them back; then run \`frontendops audit verify --stack ${ref}\`.`,
        { details: { object: ENVIRONMENT_MARKER } },
      );
    }
    const notice = `The hosting bucket of ${target.stack} is marked as environment ${marker.stack} with its history elsewhere, but ${target.stack}'s own history is where its outputs say: the marker is not followed. Run \`frontendops audit verify --stack ${ref}\`.`;
    site.notify(notice);
    return site;
  }
  // Followed from here (an alias, an outputs file that names no stack), the marker must not lead
  // away from its own environment's history either: where that environment keeps a chain at its
  // default location (in the state bucket these outputs name, or in the marker's), a marker naming
  // another location (a copy of that chain, in another bucket or under another prefix) is refused.
  // Nor may it name the hosting bucket, where no state is ever kept (the site would serve it, and
  // whoever writes the site could rewrite it). The stack opened by its name reports the marker.
  // Requests only when the marker names another bucket or prefix than the default ones.
  // Read from, never changed (`buildsFrom`): the marker leads it only within the state bucket its
  // outputs name. Of a stack with no history yet, whoever can write its hosting bucket could otherwise
  // mark it with a bucket of theirs, holding a publish log that "records" a build they put in the
  // artifacts bucket.
  if (asMarked && marker.stateBucket !== target.stateBucket) {
    site.close();
    throw new FrontendOpsError(
      'TAMPERED',
      `The hosting bucket of ${target.stack} is marked as environment ${marker.stack} with its history at ${where(marker)}, a state bucket ${target.stack}'s outputs do not name (they name ${where(target)}, which holds no history): the marker is not followed, and nothing is read there. Nothing was changed. If ${target.stack} was never deployed, whoever can write its hosting bucket wrote the marker: delete it; if ${target.stack} is another name of environment ${marker.stack}, name ${marker.stack} itself in "buildsFrom".`,
      { details: { object: ENVIRONMENT_MARKER } },
    );
  }
  const home = defaultStatePrefix(marker.stack);
  const inHosting = marker.stateBucket === target.hostingBucket;
  const elsewhere = () =>
    new FrontendOpsError(
      'TAMPERED',
      `The hosting bucket of ${named ? target.stack : 'this outputs file'} is marked as environment ${marker.stack}, but its marker names ${inHosting ? 'the hosting bucket itself as where its history is kept, where FrontendOps never keeps state (visitors could read it, and whoever writes the site rewrite it)' : `a state location other than ${marker.stack}'s own, which holds its history`}: the marker is not followed, and nothing was done. Open the stack by its name (its own outputs) and run \`frontendops audit verify\` there: it reports the marker, and its next deploy puts the marker back.`,
    );
  if (
    inHosting ||
    (marker.stateBucket !== target.stateBucket && (await site.state.head(`${home}${AUDIT_HEAD}`)))
  ) {
    site.close();
    throw elsewhere();
  }
  site.close();
  const environment = adoptEnvironment(target, marker);
  onTarget?.(environment);
  const adopted = withBuildsFrom(await open(environment, marker.protected), ref, reading, onTarget);
  if (marker.statePrefix !== home && (await adopted.state.head(`${home}${AUDIT_HEAD}`))) {
    adopted.close();
    throw elsewhere();
  }
  const notice = `${named ? `Stack ${target.stack}` : 'This outputs file'} writes to the hosting bucket of environment ${marker.stack}: using its name, history and protection.`;
  adopted.notify(notice);
  return adopted;
}

/**
 * `site`, reading the publish logs of the stacks its configuration names in `buildsFrom` (under the
 * name it was opened by) as well as its own: each stack is opened on first use as any stack is, its
 * hosting bucket's environment marker followed (openSite, asMarked: whoever can change the files the
 * tool reads could otherwise point its outputs at a publish log of their own), its notices told
 * here, and closed with the site. Reading its marker is one GET per stack, once.
 */
function withBuildsFrom(
  site: Site,
  ref: string,
  reading: ResolveOptions,
  onTarget: OpenOptions['onTarget'],
): Site {
  const { config, cwd, env } = reading;
  const from = Object.hasOwn(config.stacks, ref) ? config.stacks[ref]?.buildsFrom : undefined;
  if (!from) return site;
  const opened: Site[] = [];
  let logs: Promise<PublishLogRef[]> | undefined;
  const openLogs = () =>
    Promise.all(
      from.map(async (name): Promise<PublishLogRef> => {
        // Its outputs are read once (from Pulumi Cloud, say, a request each), opened or not.
        const read = await readStack(name, reading);
        let other: Site;
        try {
          other = await openSite(name, config, cwd, {
            asMarked: true,
            read,
            ...(env ? { env } : {}),
            ...(onTarget ? { onTarget } : {}),
            onNotice: (notice) => site.notify(notice),
          });
        } catch (unread) {
          // Its marker, or its buckets (not this configuration: a stack it cannot find, say): why
          // its log is not read, told by whatever would rely on it (PublishLogRef).
          if (isFrontendOpsError(unread) && !isFrontendOpsError(unread, 'TAMPERED')) throw unread;
          const { target } = read;
          return { stack: target.stack, log: `${target.statePrefix}${PUBLISH_LOG}`, unread };
        }
        opened.push(other);
        const { target } = other;
        return { stack: target.stack, state: other.state, log: `${target.statePrefix}${PUBLISH_LOG}` };
      }),
    );
  site.buildsFrom = () => {
    logs ??= openLogs();
    const these = logs;
    // Asked again next time where one was not read (a long-lived server outlives a passing failure).
    const again = () => {
      if (logs === these) logs = undefined;
    };
    these.then((all) => all.some((l) => l.unread !== undefined) && again(), again);
    return these;
  };
  const close = site.close;
  site.close = () => {
    close();
    for (const other of opened) other.close();
  };
  return site;
}

export async function connectSite(target: DeployTarget, options: ConnectSiteOptions = {}): Promise<Site> {
  const credentials = options.access?.credentials;
  const env = options.env ?? process.env;
  const s3Endpoint = target.endpoint ?? configuredEndpoint(env, 'S3');
  const client = createS3Client({
    region: target.region,
    ...(s3Endpoint ? { endpoint: s3Endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  });
  // The probe for conditional writes goes where the deployer and the publisher may both write (src/access.ts).
  const state = createS3Store({
    bucket: target.stateBucket,
    client,
    probePrefix: `${target.statePrefix}${CONDITIONAL_WRITE_PROBES}`,
  });
  const store = (bucket: string) => createS3Store({ bucket, client, conditionalWritesOf: state });
  const notices: string[] = [];
  const notify = (notice: string, told?: Set<string>) => {
    if (told ? told.has(notice) : notices.includes(notice)) return;
    told?.add(notice);
    if (!notices.includes(notice)) notices.push(notice);
    (options.onNotice ?? printNotice)(notice);
  };
  // Which lock to use is decided at the first lock, not at open: read-only commands write nothing.
  let chosen: Promise<Locker> | undefined;
  const chooseLocker = async (): Promise<Locker> => {
    if (await state.supportsConditionalWrites()) return createS3Locker(state, target.statePrefix);
    const local = await isLoopbackEndpoint(target.endpoint);
    if (!local && !options.allowUnserialised) throw unserialisedError(target.stack);
    const notice = local
      ? 'The S3 endpoint ignores conditional writes, so deploys are serialised by a file lock on this machine only.'
      : unserialisedNotice(target.stack);
    notify(notice);
    return createFileLocker(options.lockDir ?? lockDirFor(target, env));
  };
  const locker: Locker = {
    acquire: async (name, lockOptions) => {
      chosen ??= chooseLocker();
      return (await chosen).acquire(name, lockOptions);
    },
  };
  const cdnEndpoint = options.access?.cdnEndpoint ?? configuredEndpoint(env, 'CLOUDFRONT');
  const unavailable = cdnEndpoint ? null : unreachableLocalEdge(target);
  const cdn = target.distributionId
    ? {
        ...lazyCloudFrontCdn({
          distributionId: target.distributionId,
          ...(cdnEndpoint ? { endpoint: cdnEndpoint } : {}),
          ...(credentials ? { credentials } : {}),
        }),
        ...(unavailable ? { unavailable } : {}),
      }
    : null;
  const records = createStateRecords(state, target.statePrefix);
  const kvsEndpoint = options.access?.kvsEndpoint ?? configuredEndpoint(env, 'CLOUDFRONT_KEYVALUESTORE');
  // Only an atomic stack loads the KeyValueStore client and its SigV4A signer (about 10 ms of every
  // command's start-up otherwise).
  const releases = target.releaseStoreArn
    ? (await import('../adapters/cloudfront-kvs.ts')).createCloudFrontReleaseStore({
        kvsArn: target.releaseStoreArn,
        owner: {
          value: releaseStoreOwner(target),
          stack: target.stack,
          // Asked only of a store switched before stores named their environment.
          owns: (served) => recordsServed(target, state, records, served),
        },
        ...(kvsEndpoint ? { endpoint: kvsEndpoint } : {}),
        ...(credentials ? { credentials } : {}),
      })
    : null;
  return {
    target,
    artifacts: store(target.artifactsBucket),
    hosting: store(target.hostingBucket),
    state,
    records,
    locker,
    cdn,
    retain: options.retain ?? 3,
    protected: options.protected ?? false,
    ...(options.protectedBy ? { protectedBy: options.protectedBy } : {}),
    approval: options.approval ?? NO_APPROVERS,
    notices,
    notify,
    mode: releases ? 'atomic' : 'in-place',
    releases,
    releaseGraceMs: options.releaseGraceMs ?? options.access?.propagationMs ?? 60_000,
    spa: options.spa ?? false,
    close: () => client.destroy(),
  };
}

/**
 * What a stack's release store keeps under ENVIRONMENT_KEY (atomic/release-pointer.ts): its hosting
 * bucket, and where that is (no endpoint: AWS; any name of this machine: "loopback", whatever its
 * port, which the local environment may change between runs).
 */
export function releaseStoreOwner(target: Pick<DeployTarget, 'hostingBucket' | 'endpoint'>): string {
  const { endpoint } = target;
  const where =
    endpoint === undefined
      ? undefined
      : isLoopbackName(URL.canParse(endpoint) ? new URL(endpoint).hostname : '')
        ? 'loopback'
        : endpointIdentity(endpoint);
  return JSON.stringify({ v: 1, hostingBucket: target.hostingBucket, ...(where ? { endpoint: where } : {}) });
}

/**
 * Whether a stack's own state records the pointer a release store names that names no environment
 * yet (switched before stores named theirs): its live release, or the switch its own operation made
 * and stopped at before its state followed (a crash under a FrontendOps from before; its next run
 * finishes it). That operation's crash-recovery record is the stack's (its plan names it), was
 * planned from the live release the state records, saw no error before its switch, and switches to
 * exactly what the store names. Another stack's record copied into this one's state names another
 * stack, or another live release than its state records. Never where the state records no switch of
 * a store (no atomic/state.json) or names another store as its newest switch's (its releaseStore): a
 * stack that deployed another environment's live build in place, or to its own store, records that
 * environment's release id too.
 */
async function recordsServed(
  target: DeployTarget,
  state: ObjectStore,
  records: StateRecords,
  served: ReleasePointer,
): Promise<boolean> {
  const [{ releaseIdFor, samePointer }, { createAtomicRecords }] = await Promise.all([
    import('../engine/atomic-plan.ts'),
    import('../state/atomic.ts'),
  ]);
  const atomic = createAtomicRecords(state, target.statePrefix);
  const [live, { stored, state: atomicState }] = await Promise.all([
    records.readPointer(),
    atomic.readStateVersion(),
  ]);
  // No switch of a store (its live release deployed in place), or its newest of another store (its
  // own, where it deployed that environment's live build): its release ids say nothing of this one.
  if (stored === null || (atomicState.releaseStore ?? target.releaseStoreArn) !== target.releaseStoreArn)
    return false;
  const recorded = live && releaseIdFor(live.value);
  if (served.live === recorded) return true;
  const stopped = await atomic.readPending();
  if (!stopped || stopped.switched || stopped.stoppedBy !== undefined) return false;
  const { plan } = stopped;
  return (
    plan?.stack === target.stack &&
    (plan.pointerBefore?.live ?? null) === recorded &&
    samePointer(plan.pointerAfter, served)
  );
}

/**
 * The embedded environment's edge answers the CloudFront API on an endpoint of its own, which only
 * `--stack local` (from the directory `frontendops dev` runs in) knows. Reached another way (an
 * outputs file naming its buckets) with no endpoint set for the SDK, invalidations would go to
 * CloudFront itself and fail after the release went live: say so before anything is written.
 */
function unreachableLocalEdge(target: DeployTarget): string | null {
  if (target.distributionId !== LOCAL_DISTRIBUTION_ID) return null;
  return (
    `Stack ${target.stack} is served by the local CDN edge of \`frontendops dev\` (distribution ${LOCAL_DISTRIBUTION_ID}), ` +
    'but its CloudFront API endpoint is unknown here, so the new release could not be invalidated once live. Nothing was changed. ' +
    'Run the command with `--stack local` in the directory where `frontendops dev` runs, or set AWS_ENDPOINT_URL_CLOUDFRONT ' +
    'to the "cdnEndpoint" of that directory\'s .frontendops/env.json.'
  );
}

/**
 * The endpoint the AWS SDK takes from the environment for a service (AWS_ENDPOINT_URL_<SERVICE>, else
 * AWS_ENDPOINT_URL, none where AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is "true"), read from the
 * environment the command was given and handed to the client: the SDK itself reads process.env, which
 * is not the environment of a server or a console given its own.
 */
export function configuredEndpoint(env: NodeJS.ProcessEnv, service: string): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return undefined;
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}

/** Overrides where file locks live (tests; a machine whose /tmp is not shared by its deployers). */
export const LOCK_DIR_ENV = 'FRONTENDOPS_LOCK_DIR';

/**
 * Where the file locks of this machine live: one directory for every process, user, working
 * directory and TMPDIR, or two deploys would not meet. POSIX: /tmp/frontendops-locks (not os.tmpdir(),
 * which follows TMPDIR — on macOS a per-user directory); Windows: %ProgramData%\frontendops\locks.
 * FRONTENDOPS_LOCK_DIR (an absolute path) overrides it.
 */
export function lockRoot(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const explicit = env[LOCK_DIR_ENV];
  if (explicit) {
    if (!isAbsolute(explicit)) {
      throw badInput(
        `${LOCK_DIR_ENV} must be an absolute path, got "${explicit.slice(0, 200)}": a relative one would differ between working directories. Unset it to use the machine-wide default.`,
      );
    }
    return explicit;
  }
  if (platform === 'win32') {
    return win32.join(env.ProgramData || env.ALLUSERSPROFILE || 'C:\\ProgramData', 'frontendops', 'locks');
  }
  return '/tmp/frontendops-locks';
}

/** One lock directory per state location, so unrelated endpoints never contend. */
export function lockDirFor(target: DeployTarget, env: NodeJS.ProcessEnv = process.env): string {
  const where = createHash('sha256').update(
    `${endpointIdentity(target.endpoint)}|${target.stateBucket}|${target.statePrefix}`,
  );
  return join(lockRoot(env), where.digest('hex').slice(0, 16));
}

const printNotice = (notice: string) => process.stderr.write(noteLine(notice));

/**
 * The CloudFront client is loaded when a change begins (`prepare`) or the first invalidation is
 * sent, not when the stack opens: most commands (status, history, the MCP servers' reads and their
 * start-up) never invalidate, and its code is about 45 ms of start-up.
 */
function lazyCloudFrontCdn(options: CloudFrontCdnOptions): Cdn {
  let loading: Promise<Cdn> | undefined;
  const load = () =>
    (loading ??= import('../adapters/cloudfront.ts').then(({ createCloudFrontCdn }) =>
      createCloudFrontCdn(options),
    ));
  return {
    invalidate: async (request) => (await load()).invalidate(request),
    prepare: async () => {
      await load();
    },
  };
}
