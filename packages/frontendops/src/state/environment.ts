/**
 * Protection follows the target, not the name. A hosting bucket knows which environment it is: the
 * first change writes `.frontendops/environment.json` into it — the environment's name, where its
 * state (history, audit chain) lives, and whether it is protected. Whoever opens that bucket later,
 * under any stack name or through an outputs file that names no stack, gets that name, that one
 * history and at least that protection. Protection is never lowered by a deploy: only someone who
 * can write the object in the bucket can, and every marker written is bound by an audit entry that
 * `audit verify` holds the bucket's marker against (an edited, deleted or copied marker is reported).
 *
 * The object is never pruned, and the edge (the release router function, the local edge) never
 * serves anything under `/.frontendops/`.
 */
import { z } from 'zod';
import { STACK_NAME } from '../engine/ids.ts';
import type { DeployTarget } from '../engine/types.ts';
import { FrontendOpsError } from '../errors.ts';
import type { ObjectStore } from '../ports.ts';
import type { Site } from '../site.ts';
import { appendAudit, stateDigest } from './audit.ts';
import { ENVIRONMENT_MARKER } from './names.ts';

const markerSchema = z.object({
  v: z.literal(1),
  stack: z.string().regex(STACK_NAME),
  stateBucket: z.string().min(3).max(63),
  statePrefix: z.string().max(1024),
  protected: z.boolean(),
});
export type EnvironmentMarker = z.infer<typeof markerSchema>;

/**
 * The bucket's marker; null when it has none. One this version cannot read (not JSON, or not a
 * version 1 marker: damaged, edited, or written by a newer FrontendOps) is refused (unreadableMarker,
 * TAMPERED): it may say protected, or name another environment, so it is never taken as no marker,
 * which would open the bucket unprotected and have the next change write over it.
 */
export async function readEnvironmentMarker(hosting: ObjectStore): Promise<EnvironmentMarker | null> {
  const object = await hosting.get(ENVIRONMENT_MARKER);
  if (!object) return null;
  let value: unknown;
  try {
    value = JSON.parse(object.body.toString('utf8'));
  } catch {
    throw unreadableMarker('it is not valid JSON');
  }
  const parsed = markerSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const version = (value as { v?: unknown } | null)?.v;
  throw unreadableMarker(
    version !== 1 && (typeof version === 'number' || typeof version === 'string')
      ? `it says version ${String(version).slice(0, 20)}, and this FrontendOps reads version 1`
      : 'it is not a marker FrontendOps writes (version 1: the environment, its state location, its protection)',
  );
}

/** Why a stack whose marker cannot be read is protected, in a refusal's words. */
export const UNREADABLE_PROTECTED =
  "its hosting bucket's environment marker cannot be read: until it can, the stack is treated as protected";

/**
 * The refusal of a marker that cannot be read (`why`): what it is, that nothing is done while it
 * cannot be read (it may say protected, or name another environment), and what to do.
 */
export const unreadableMarker = (why: string) =>
  new FrontendOpsError(
    'TAMPERED',
    `The hosting bucket's environment marker (${ENVIRONMENT_MARKER}) cannot be read: ${why}. It says which environment the bucket is, where its history lives and whether it is protected, so no change is made while it cannot be read: the stack is treated as protected, and nothing writes over the marker. Nothing was changed. ` +
      `If a newer FrontendOps wrote it, run the change with that version. Otherwise someone who can write the hosting bucket changed it: run \`frontendops audit verify\` on the stack by its own name (it reports the marker), and after checking delete it (or put back the one its entry records); the next change writes it again.`,
    { details: { object: ENVIRONMENT_MARKER } },
  );

/** The target as the environment knows itself: its own name and state location. */
export function adoptEnvironment(target: DeployTarget, marker: EnvironmentMarker): DeployTarget {
  return { ...target, stack: marker.stack, stateBucket: marker.stateBucket, statePrefix: marker.statePrefix };
}

export const sameEnvironment = (target: DeployTarget, marker: EnvironmentMarker) =>
  target.stack === marker.stack &&
  target.stateBucket === marker.stateBucket &&
  target.statePrefix === marker.statePrefix;

/** Why a stack its marker protects is protected, in a refusal's words. */
export const MARKED_PROTECTED =
  'its hosting bucket is marked protected: once protected, a stack stays protected, whatever a configuration says';

/** A site its environment marker protects, though it was opened as unprotected: from now on, said why. */
export function markProtected(site: Site): void {
  site.protected = true;
  site.protectedBy = MARKED_PROTECTED;
}

/**
 * Writes the marker before a change, under the deploy lock, when it is missing, names another
 * state location, or is less protected than this site is. The audit entry comes first, binding the
 * marker's digest and the bucket it goes to (`audit verify` holds the bucket's marker against it):
 * a process that ends between the two leaves the marker as it was, which the next change finds
 * still not what it wants, and writes again with a new entry. The other order would leave a marker
 * no entry binds, which the next change finds as wanted and never binds. `current` is the marker as
 * the deploy lock read it when it was taken (deploy-lock.ts: one that cannot be read is refused
 * there).
 *
 * Protection is learnt when a stack is opened, and a console or an MCP server keeps its stacks open
 * while it runs. A marker that says protected, read here under the lock, while this site was opened
 * as unprotected (another operator's configuration protects the environment since), stops the
 * change before its first write: it went through no approval. The site is protected from then on,
 * so the same change asked again goes through the approval every protected change needs.
 */
export async function markEnvironment(site: Site, current: EnvironmentMarker | null): Promise<void> {
  if (current?.protected && !site.protected) {
    markProtected(site);
    throw new FrontendOpsError(
      'CONFLICT',
      `${site.target.stack} is protected now: its hosting bucket was marked protected after this process opened the stack (another operator's configuration protects it). Nothing was changed. Ask for the change again: it needs an approval, as every change of a protected environment does.`,
    );
  }
  const wanted: EnvironmentMarker = {
    v: 1,
    stack: site.target.stack,
    stateBucket: site.target.stateBucket,
    statePrefix: site.target.statePrefix,
    protected: site.protected || (current?.protected ?? false),
  };
  if (current && sameEnvironment(site.target, current) && current.protected === wanted.protected) return;
  await appendAudit(site.state, site.target.statePrefix, site.locker, {
    type: 'environment',
    // The marker lives in the hosting bucket, not the state: its digest records what is written there.
    data: {
      stack: wanted.stack,
      protected: wanted.protected,
      previous: current?.stack ?? null,
      hostingBucket: site.target.hostingBucket,
      markerDigest: stateDigest(wanted),
    },
  });
  await site.hosting.put(ENVIRONMENT_MARKER, JSON.stringify(wanted, null, 2), {
    contentType: 'application/json',
    cacheControl: 'no-store',
  });
}
