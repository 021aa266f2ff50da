/**
 * Signed, expiring preview links for atomic releases: `<site>/<path>?fo_preview=<token>` shows a
 * retained release before it is live, for the browser session. The viewer-request function checks
 * the token with the same algorithm (HMAC-SHA256, the one cloudfront-js-2.0's crypto module offers)
 * and the secret kept in the KeyValueStore, so a link can be neither forged nor extended.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { badInput } from '../errors.ts';
import { PREVIEW_HOURS, previewSeconds } from './preview-hours.ts';
import { releaseIdSchema } from './release-pointer.ts';

export const PREVIEW_PARAM = 'fo_preview';
/**
 * The cookie the function keeps a preview session in (its SESSION): a `__Host-` name, which a browser
 * takes only from the site's own host, so a site on a sibling host cannot set it for the site's visitors.
 */
export const PREVIEW_COOKIE = '__Host-fo_preview';
/** Longest a link may live (PREVIEW_HOURS.max). */
export const MAX_PREVIEW_SECONDS = previewSeconds(PREVIEW_HOURS.max);

export interface PreviewTokenInput {
  releaseId: string;
  expiresAt: Date;
  secret: string;
}

/** `<releaseId>.<expiry in epoch seconds>.<base64url HMAC>` */
export function signPreviewToken(input: PreviewTokenInput, now = Date.now()): string {
  const id = releaseIdSchema.safeParse(input.releaseId);
  if (!id.success)
    throw badInput(`Cannot sign a preview link for "${input.releaseId}": ${id.error.issues[0]?.message}.`);
  const expiry = Math.floor(input.expiresAt.getTime() / 1000);
  if (!Number.isFinite(expiry) || expiry * 1000 <= now) {
    throw badInput('A preview link must expire in the future.');
  }
  if (expiry * 1000 - now > MAX_PREVIEW_SECONDS * 1000) {
    throw badInput(`A preview link may live at most ${PREVIEW_HOURS.max} hours.`);
  }
  if (input.secret.length < 32) throw badInput('The preview secret must have at least 32 characters.');
  return `${id.data}.${expiry}.${signature(input.secret, id.data, String(expiry))}`;
}

/** The release a token shows, or why it does not (the same answers as the function). */
export function verifyPreviewToken(
  token: string,
  secret: string,
  now = Date.now(),
):
  | { ok: true; releaseId: string; expiresAt: Date }
  | { ok: false; reason: 'malformed' | 'forged' | 'expired' } {
  const [id = '', expiry = '', mac = '', ...rest] = token.split('.');
  if (rest.length > 0 || !releaseIdSchema.safeParse(id).success || !/^\d{1,12}$/.test(expiry)) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = Buffer.from(signature(secret, id, expiry));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'forged' };
  if (Number(expiry) * 1000 <= now) return { ok: false, reason: 'expired' };
  return { ok: true, releaseId: id, expiresAt: new Date(Number(expiry) * 1000) };
}

/** The link a person opens: the site (any path) with the token in the query. */
export function previewUrl(siteUrl: string, token: string, path = '/'): string {
  const url = new URL(path, siteUrl);
  url.searchParams.set(PREVIEW_PARAM, token);
  return url.toString();
}

/** A fresh secret for the KeyValueStore (256 bits, base64url). */
export const newPreviewSecret = () => randomBytes(32).toString('base64url');

const signature = (secret: string, id: string, expiry: string) =>
  createHmac('sha256', secret).update(`frontendops-preview\n${id}\n${expiry}`).digest('base64url');
