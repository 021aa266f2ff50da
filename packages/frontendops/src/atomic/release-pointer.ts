/**
 * The release pointer of atomic releases: which release is live, which one is the canary and for
 * what share of visitors. It is ONE KeyValueStore key, read by the viewer-request function on every
 * non-asset request, so one conditional write switches everything at once (no copies, no
 * invalidation). The function (viewer-request.js) reads the same names; keep them in step.
 */
import { z } from 'zod';
import { badInput, isFrontendOpsError } from '../errors.ts';

/** The KVS key holding the pointer. */
export const RELEASE_KEY = 'frontendops-release';
/**
 * The KVS key naming the environment whose releases the store switches (releaseStoreOwner, made by
 * stacks/open.ts): written with a stack's first switch, and a stack whose hosting bucket it does not
 * name is refused before anything is written. A store switched before it was kept (a pointer, no
 * key) is named only by a stack whose own state records the live release it holds, or the switch to
 * it its own operation stopped at before its state followed, and names no other store as its newest
 * switch's (stacks/open.ts). A stack's
 * outputs name its store; whoever can change the configuration or an outputs file could otherwise
 * point one stack at another environment's store, and switch that environment's live release under
 * its own history and protection.
 */
export const ENVIRONMENT_KEY = 'frontendops-environment';
/** The KVS key holding the HMAC secret of preview links. */
export const PREVIEW_SECRET_KEY = 'frontendops-preview-secret';
/**
 * The KVS key holding the audit chain's head ("<seq>:<hash>") as it was after the newest approval
 * used on the stack: nothing else anchors an entry after the newest switch and deploy tag, and
 * whoever can write only the state bucket cannot write this store. A chain that does not hold it was
 * cut back or rewritten there (state/anchored-head.ts); every change checks it before it writes.
 */
export const AUDIT_HEAD_KEY = 'frontendops-audit-head';
/** KeyValueStore quota on one value. */
export const MAX_VALUE_BYTES = 1024;

/** Deploy ids (`<short commit>-<hash>`) and anything else safe in a key prefix and a cookie. */
export const releaseIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a release id is 1 to 64 letters, digits, "-" or "_"');

export const releasePointerSchema = z
  .object({
    live: releaseIdSchema,
    /** Shown to `weight` % of visitors, sticky per browser. */
    canary: releaseIdSchema.optional(),
    /** 0–100; 0 or no canary: everyone sees live; 100: everyone sees the canary. */
    weight: z.number().int().min(0).max(100).optional(),
    /**
     * true: "/dir/" is a client route too and gets the app's /index.html (a single-page app whose
     * router accepts trailing slashes); absent: "/dir/" gets its own /dir/index.html.
     */
    spa: z.boolean().optional(),
  })
  .strict()
  .refine((p) => p.canary === undefined || p.canary !== p.live, {
    message: 'the canary must be another release than the live one',
  })
  .refine((p) => !p.weight || p.canary !== undefined, {
    message: 'a weight needs a canary release',
  });

export type ReleasePointer = z.infer<typeof releasePointerSchema>;

/** The KVS value for a pointer; refuses an invalid pointer or one over the 1 KB value quota. */
export function encodeReleasePointer(pointer: ReleasePointer): string {
  const parsed = releasePointerSchema.safeParse(pointer);
  if (!parsed.success) {
    throw badInput(`The release pointer is not valid: ${issues(parsed.error)}.`);
  }
  const text = JSON.stringify(parsed.data);
  if (Buffer.byteLength(text) > MAX_VALUE_BYTES) {
    throw badInput(
      `The release pointer is ${Buffer.byteLength(text)} bytes; a KeyValueStore value holds 1,024.`,
    );
  }
  return text;
}

/** A stored value back into a pointer; null when it is not one (the function then serves the bucket root). */
export function decodeReleasePointer(text: string): ReleasePointer | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = releasePointerSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

const issues = (error: z.ZodError) =>
  error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');

/** The releases a pointer sends visitors to (the spa flag follows the configuration, as deploys compare). */
export const sameReleases = (a: ReleasePointer, b: ReleasePointer): boolean =>
  a.live === b.live && a.canary === b.canary && (a.weight ?? 0) === (b.weight ?? 0);

/**
 * The release store's reader refuses a value that is no release pointer (adapters/cloudfront-kvs.ts:
 * UPSTREAM, with the store's ETag in its details, for whoever writes a valid one): edges then serve
 * the bucket root. Any other failure is the store not answering.
 */
export const isInvalidReleasePointer = (error: unknown): boolean =>
  isFrontendOpsError(error, 'UPSTREAM') && typeof error.details?.etag === 'string';
