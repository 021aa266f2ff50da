/**
 * The deploy lock belongs to the target, not to the name a stack goes by: one endpoint's hosting
 * bucket and state (bucket and prefix) are one site however many stack names, outputs files or
 * configurations point at it, so every deploy to them takes the same lock.
 */
import { hostname } from 'node:os';
import { lockName } from '../adapters/lock-holder.ts';
import type { DeployTarget } from '../engine/types.ts';
import { holding } from '../errors.ts';
import { isLoopbackName } from '../loopback.ts';
import type { HeldLock } from '../ports.ts';
import type { Site } from '../site.ts';
import { type AuditEntry, heldForAppends } from '../state/audit.ts';
import {
  assertMarkerAsRecorded,
  type EnvironmentMarker,
  readEnvironmentMarkerStored,
} from '../state/environment.ts';
import { assertStateAsRecorded } from '../state/recorded-state.ts';
import type { RequestInfo } from '../state/records.ts';

/** How long a deploy's lock lives without its holder renewing it. */
export const LOCK_TTL_MS = 120_000;

/**
 * The target's deploy lock (every deploy, rollback, canary step, preview and finish takes it). While
 * it is held, the audit chain's head is kept between the change's appends (state/audit.ts). Once it
 * is taken, the state objects the change acts on must be what the audit chain binds
 * (state/recorded-state.ts): TAMPERED otherwise, the lock let go, nothing written; a pin change
 * that stopped between its entry and pin.json is finished first. The hosting bucket's environment
 * marker is read meanwhile (takeDeployLockReading's `marker`, which a change marks its environment
 * from), and one that cannot be read is refused (readEnvironmentMarker: it may say protected, or
 * name another environment), as is one that is not the marker the audit chain last wrote to that
 * bucket (assertMarkerAsRecorded: deleted, rewritten, an older one put back), before that finish:
 * every change that takes the lock refuses it before its first write or any approval.
 */
export async function takeDeployLock(
  site: Site,
  options: { request: RequestInfo; waitMs?: number | undefined },
): Promise<HeldLock> {
  return (await takeDeployLockReading(site, options, async () => undefined)).lock;
}

/**
 * takeDeployLock, with the caller's own reads of the state sent while that state is checked against
 * the audit chain (two round trips) rather than after it: a deploy plans two round trips sooner.
 * `read` only reads. What it found reaches the caller once the check passed; a failed check lets the
 * lock go, and what was read is dropped, so nothing acts on state the chain does not bind.
 * `finishedPin`: the entry of a stopped pin change the check finished (its pin is in effect from now).
 * `first`: a check of the caller's own, sent with the state's check and passed before a stopped pin
 * change is finished (an atomic stack's anchored head: atomic-apply.ts readStoreHeldToAnchor), so a
 * chain it refuses has nothing finished on it; where no pin change is finished it is judged after
 * the state's check, so an object edited around the chain is said first; what it read comes back
 * as `first`, for the caller to act on (finishing a pin writes pin.json only).
 */
export async function takeDeployLockReading<T, F = undefined>(
  site: Site,
  options: { request: RequestInfo; waitMs?: number | undefined },
  read: () => Promise<T>,
  first?: () => Promise<F>,
): Promise<{
  lock: HeldLock;
  read: T;
  finishedPin: AuditEntry | null;
  marker: EnvironmentMarker | null;
  first: F | undefined;
}> {
  const lock = await acquireDeployLock(site, options.request.actor, options.waitMs);
  const held = heldForAppends(lock, site.state, site.target.statePrefix);
  const reading = read();
  reading.catch(() => {}); // judged once the state is known to be as recorded
  const firsting = first?.();
  firsting?.catch(() => {});
  // Sent with the check (one GET, no round trip more); one that cannot be read, or that is not the
  // one the chain last wrote there (held to the newest entry the check reads: no request more where
  // they agree), is refused before anything is written, the stopped pin change's finish included.
  const marking = readEnvironmentMarkerStored(site.hosting);
  marking.catch(() => {});
  let checked: Promise<EnvironmentMarker | null> | undefined;
  try {
    // A stopped pin change finished by the check: what was read of the pin meanwhile is stale, so
    // the reads are made again (once the first ones are done: nothing is left in flight).
    const finishedPin = await assertStateAsRecorded(site, {
      finish: true,
      check: (recorded) =>
        (checked ??= marking.then(async (read) => {
          await assertMarkerAsRecorded(site, read, recorded);
          return read.marker;
        })),
      // The caller's own check holds before a stopped pin change is finished; elsewhere it is judged
      // after the state's (a tracked object edited around the chain is said first, as before it).
      beforeFinish: () => firsting ?? Promise.resolve(),
    });
    const marker = await (checked ?? Promise.reject(new Error('the marker was not checked')));
    const passed = await firsting;
    if (finishedPin) {
      await Promise.allSettled([reading]);
      return { lock: held, read: await read(), finishedPin, marker, first: passed };
    }
    return { lock: held, read: await reading, finishedPin, marker, first: passed };
  } catch (error) {
    // The refusal is what is thrown (a failed release added to it), once the lock is let go and,
    // meanwhile, nothing read is left in flight.
    const refused = holding(held, () => Promise.reject(error));
    await Promise.allSettled([refused, reading, marking, checked, firsting]);
    return refused;
  }
}

/**
 * The target's deploy lock, taken by `actor` (a LOCKED refusal names them to whoever waits), without
 * takeDeployLock's checks of the state: what `approvers adopt` holds, which acts on no state but the
 * audit chain and its anchor, so no change's approval use and anchor come between its own.
 */
export function acquireDeployLock(
  site: Pick<Site, 'locker' | 'target' | 'notify'>,
  actor: string,
  waitMs: number | undefined,
): Promise<HeldLock> {
  return site.locker.acquire(deployLockName(site.target), {
    label: deployLockLabel(site.target),
    owner: `${actor} on ${hostname()} (pid ${process.pid})`,
    ttlMs: LOCK_TTL_MS,
    waitMs: waitMs ?? 0,
    onWait: (notice) => site.notify(notice),
  });
}

/**
 * The lock every deploy, rollback and finish of this target takes. Named by the stack's buckets and
 * state location, not by the endpoint as spelt: two operators who reach one server by two names
 * (`localhost`, `127.0.0.1`) must take one lock. Where the lock lives already tells servers apart:
 * an object in the state bucket, or a file lock directory per endpoint (stacks/open.ts lockDirFor).
 */
export function deployLockName(target: DeployTarget): string {
  return lockName('deploy', target.hostingBucket, target.stateBucket, target.statePrefix);
}

/** What a person reads when the lock is taken (the name itself is a hash). */
export const deployLockLabel = (target: DeployTarget) => `Deploying to ${target.stack}`;

/**
 * One spelling per endpoint: scheme, lower-case host, explicit non-default port, path without a
 * trailing slash ("http://LOCALHOST:80/" and "http://localhost" are one endpoint). Every name of this
 * machine (localhost, 127.0.0.0/8, ::1) is one host: "loopback". No endpoint is AWS.
 */
export function endpointIdentity(endpoint: string | undefined): string {
  if (endpoint === undefined) return 'aws';
  try {
    const url = new URL(endpoint);
    const host = isLoopbackName(url.hostname) ? `loopback${url.port ? `:${url.port}` : ''}` : url.host;
    return `${url.protocol}//${host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return endpoint;
  }
}
