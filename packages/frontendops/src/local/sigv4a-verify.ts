/**
 * Checks AWS Signature Version 4A (AWS4-ECDSA-P256-SHA256) on a request, as the CloudFront
 * KeyValueStore API requires, so the local emulator refuses unsigned or wrongly signed requests
 * instead of accepting anything. Independent of the SDK's signer: the signing key is derived from
 * the secret key as SigV4A specifies (HMAC-SHA256 KDF in counter mode, "AWS4A" + secret, P-256
 * scalar = output + 1), its public key computed with node:crypto, and the ECDSA signature checked
 * over the string to sign rebuilt from what arrived on the wire.
 */
import { createECDH, createHash, createHmac, createPublicKey, type KeyObject, verify } from 'node:crypto';

export const SIGV4A_ALGORITHM = 'AWS4-ECDSA-P256-SHA256';
/** How far x-amz-date may be from the server's clock, as AWS allows. */
const MAX_SKEW_MS = 15 * 60_000;
/** P-256 group order n, minus 2: the derived scalar must be at most n - 2 before adding 1. */
const N_MINUS_2 = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254f', 'hex');

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SignedRequest {
  method: string;
  /** Path and query as on the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type SignatureCheck =
  | { ok: true; accessKeyId: string }
  | { ok: false; status: number; code: string; message: string };

export function createSigV4aVerifier(options: {
  credentials: readonly SigningCredentials[];
  service: string;
  now?: () => number;
}) {
  const now = options.now ?? Date.now;
  const publicKeys = new Map<string, KeyObject>();
  const publicKeyOf = (credentials: SigningCredentials) => {
    let key = publicKeys.get(credentials.accessKeyId);
    if (!key) {
      key = sigV4aPublicKey(credentials);
      publicKeys.set(credentials.accessKeyId, key);
    }
    return key;
  };

  return function check(request: SignedRequest): SignatureCheck {
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    const authorization = header('authorization');
    if (!authorization) {
      return refuse(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    }
    const parsed =
      /^AWS4-ECDSA-P256-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]+)$/.exec(
        authorization,
      );
    if (!parsed) {
      return refuse(
        400,
        'IncompleteSignature',
        `The CloudFront KeyValueStore API takes Signature Version 4A (${SIGV4A_ALGORITHM}); the Authorization header is not one.`,
      );
    }
    const [, accessKeyId = '', scopeDate = '', service = '', signedList = '', signature = ''] = parsed;
    const credentials = options.credentials.find((c) => c.accessKeyId === accessKeyId);
    if (!credentials) {
      return refuse(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    if (service !== options.service) {
      return refuse(
        403,
        'SignatureDoesNotMatch',
        `Credential should be scoped to correct service: '${options.service}'.`,
      );
    }
    const signedHeaders = signedList.split(';');
    for (const required of ['host', 'x-amz-date', 'x-amz-region-set']) {
      if (!signedHeaders.includes(required) || header(required) === undefined) {
        return refuse(400, 'IncompleteSignature', `The request must sign the ${required} header.`);
      }
    }
    const amzDate = header('x-amz-date') ?? '';
    const signedAt = Date.parse(
      amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    if (!Number.isFinite(signedAt) || !amzDate.startsWith(scopeDate)) {
      return refuse(
        400,
        'IncompleteSignature',
        'x-amz-date must be the credential scope date in ISO 8601 basic format.',
      );
    }
    if (Math.abs(now() - signedAt) > MAX_SKEW_MS) {
      return refuse(
        400,
        'RequestExpired',
        'Request has expired: its signature is more than 15 minutes off the server time.',
      );
    }
    const payloadHash = createHash('sha256').update(request.body).digest('hex');
    const declared = header('x-amz-content-sha256');
    if (declared !== undefined && declared !== payloadHash && declared !== 'UNSIGNED-PAYLOAD') {
      return refuse(400, 'SignatureDoesNotMatch', 'The x-amz-content-sha256 header does not match the body.');
    }
    const canonicalHeaders = signedHeaders
      .map((name) => `${name}:${(header(name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
      .join('');
    const [path = '/', query = ''] = splitUrl(request.url);
    const canonicalRequest = [
      request.method.toUpperCase(),
      canonicalPath(path),
      canonicalQuery(query),
      canonicalHeaders,
      signedList,
      declared ?? payloadHash,
    ].join('\n');
    const stringToSign = [
      SIGV4A_ALGORITHM,
      amzDate,
      `${scopeDate}/${service}/aws4_request`,
      createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    const valid = verify(
      'sha256',
      Buffer.from(stringToSign),
      { key: publicKeyOf(credentials), dsaEncoding: 'der' },
      Buffer.from(signature, 'hex'),
    );
    if (!valid) {
      return refuse(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }
    return { ok: true, accessKeyId };
  };
}

/** The P-256 public key SigV4A derives from an access key pair. */
export function sigV4aPublicKey(credentials: SigningCredentials): KeyObject {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(sigV4aPrivateScalar(credentials));
  const point = ecdh.getPublicKey();
  return createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
}

function sigV4aPrivateScalar({ accessKeyId, secretAccessKey }: SigningCredentials): Buffer {
  for (let counter = 1; counter < 255; counter += 1) {
    const fixedInput = Buffer.concat([
      Buffer.from([0, 0, 0, 1]),
      Buffer.from(SIGV4A_ALGORITHM),
      Buffer.from([0]),
      Buffer.from(accessKeyId),
      Buffer.from([counter]),
      Buffer.from([0, 0, 1, 0]), // 256: the length of the derived key in bits
    ]);
    const candidate = createHmac('sha256', `AWS4A${secretAccessKey}`).update(fixedInput).digest();
    if (Buffer.compare(candidate, N_MINUS_2) <= 0) return addOne(candidate);
  }
  throw new Error('Cannot derive a SigV4A key from these credentials.');
}

function addOne(value: Buffer): Buffer {
  const out = Buffer.from(value);
  for (let i = out.length - 1; i >= 0; i -= 1) {
    out[i] = ((out[i] ?? 0) + 1) & 0xff;
    if (out[i] !== 0) break;
  }
  return out;
}

function splitUrl(url: string): [string, string] {
  const at = url.indexOf('?');
  return at === -1 ? [url, ''] : [url.slice(0, at), url.slice(at + 1)];
}

/** SigV4 for services other than S3: normalized segments, each URI-encoded again. */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `/${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return uriEscape(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(query: string): string {
  const pairs = query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const equals = part.indexOf('=');
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      return equals === -1
        ? [decode(part), '']
        : [decode(part.slice(0, equals)), decode(part.slice(equals + 1))];
    })
    .map(([key = '', value = '']) => [uriEscape(key), uriEscape(value)] as const);
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([key, value]) => `${key}=${value}`).join('&');
}

const uriEscape = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const refuse = (status: number, code: string, message: string): SignatureCheck => ({
  ok: false,
  status,
  code,
  message,
});
