/**
 * What a HEAD of a shared asset in the hosting bucket says of it against its manifest entry
 * (sharedAssetVerdict, artifact-copy.ts), by itself: the embedded S3 server gives every object an
 * ETag that is the MD5 of its bytes and keeps no SHA-256 to answer a HEAD with, so the case S3 has on
 * an SSE-KMS bucket (an ETag that is no digest of the bytes, beside the SHA-256 S3 computed when
 * FrontendOps copied the file) cannot be made there.
 *
 * Before, the check held the hosting bucket's ETag to the published file's alone: on an SSE-KMS
 * bucket they never agree, so every shared asset of every build was read back and hashed on every
 * deploy. Now the SHA-256 S3 keeps with the object (which no writer can set to other bytes' digest:
 * S3 refuses a checksum the bytes do not have) answers first; only where there is none is the ETag
 * held to the published file's, and only where that differs is the asset read back.
 */
import { describe, expect, it } from 'vitest';
import { sharedAssetVerdict } from '../../src/deploy/artifact-copy.ts';

const entry = {
  sha256: 'a'.repeat(64),
  size: 120,
  contentType: 'text/javascript',
  cacheControl: 'public, max-age=31536000, immutable',
};
const published = '"0123456789abcdef0123456789abcdef"';
/** The object as FrontendOps copied it into an SSE-KMS bucket: an opaque ETag, S3's own SHA-256. */
const kms = {
  size: entry.size,
  etag: '"9f1e0d2c3b4a59687766554433221100"',
  contentType: entry.contentType,
  cacheControl: entry.cacheControl,
  sha256: entry.sha256,
};

describe('sharedAssetVerdict', () => {
  it('an SSE-KMS ETag beside the SHA-256 S3 keeps: as published, nothing read back', () => {
    expect(sharedAssetVerdict(kms, entry, [entry], published)).toBe('as-published');
    expect(sharedAssetVerdict(kms, entry, [entry], undefined)).toBe('as-published');
  });

  it('another SHA-256 kept by S3: replaced, whatever the ETag says', () => {
    expect(
      sharedAssetVerdict({ ...kms, sha256: 'b'.repeat(64), etag: published }, entry, [entry], published),
    ).toBe('replaced');
  });

  it('no SHA-256 kept (an object written without one): the ETag, then the bytes', () => {
    const { sha256: _none, ...plain } = kms;
    expect(sharedAssetVerdict({ ...plain, etag: published }, entry, [entry], published)).toBe('as-published');
    expect(sharedAssetVerdict(plain, entry, [entry], published)).toBe('read-back');
    expect(sharedAssetVerdict(plain, entry, [entry], undefined)).toBe('read-back');
  });

  it('headers: a Content-Encoding, or a Content-Type or Cache-Control no known build gives it, is replaced', () => {
    expect(sharedAssetVerdict({ ...kms, contentEncoding: 'gzip' }, entry, [entry], published)).toBe(
      'replaced',
    );
    expect(sharedAssetVerdict({ ...kms, contentType: 'text/html' }, entry, [entry], published)).toBe(
      'replaced',
    );
    expect(sharedAssetVerdict({ ...kms, cacheControl: 'no-store' }, entry, [entry], published)).toBe(
      'replaced',
    );
    const older = { ...entry, contentType: 'application/javascript' };
    expect(
      sharedAssetVerdict({ ...kms, contentType: older.contentType }, entry, [entry, older], published),
    ).toBe('as-published');
  });

  it('another size: replaced, without reading it', () => {
    expect(
      sharedAssetVerdict({ ...kms, size: entry.size + 1, sha256: undefined }, entry, [entry], published),
    ).toBe('replaced');
  });
});
