/**
 * Defence in depth for the model's context (the README's "Secure" promise): the servers already keep bucket names,
 * endpoints and credentials to themselves, but anything that still looks like one — a URL, an S3 or
 * ARN address, an AWS key, a secret-looking token, or a value we know is sensitive — is replaced before
 * text reaches a model. Over-redaction is the safe failure: a model never needs a URL to deploy.
 */

/** Object keys whose values never go to a model, whatever they hold. */
const SENSITIVE_KEY =
  /bucket|endpoint|credential|secret|password|passwd|token|access_?key|api_?key|authorization/i;

const PATTERNS: Array<[RegExp, string]> = [
  // Any URL (s3://, https://, http://127.0.0.1:port …).
  [/\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s"'<>)\]]+/gi, '[redacted-url]'],
  [/\barn:aws[a-z-]*:[^\s"']+/gi, '[redacted-arn]'],
  // Hostnames of AWS services (bucket virtual hosts, CloudFront domains), with any path after them:
  // a path-style address without its scheme names the bucket right after the host.
  [
    /\b[\w.-]+\.(amazonaws\.com|cloudfront\.net|r2\.cloudflarestorage\.com)\b(?:[:/][^\s"'<>)\]]*)?/gi,
    '[redacted-host]',
  ],
  // host:port (loopback services, internal endpoints): an IP address, or a name that starts with a
  // letter (minio:9000, s3.internal:9000). A word boundary before it keeps timestamps (…T10:00) out.
  [
    /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b|\b[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*:\d{2,5}\b/gi,
    '[redacted-address]',
  ],
  // AWS access key ids.
  [/\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b/g, '[redacted-key]'],
];

/**
 * Runs of base64 (or base64url) long enough to wrap an address: decoded, text that holds a URL, an
 * address or a known value is replaced whole. Binary (shas, digests, signatures) decodes to no text.
 */
const ENCODED = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
const PRINTABLE = /^[\x20-\x7e\t\r\n]+$/;

/** 40-character base64 tokens with mixed case and digits (AWS secret keys); lower-case hex (shas) passes. */
// Bounded by anything but base64(url) and '.', so a stretch inside a longer token (a signed handle) is left alone.
const SECRET_TOKEN = /(?<![A-Za-z0-9/+_.=-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+_.=-])/g;

export interface Redactor {
  /** Text with every sensitive-looking part replaced. */
  text(value: string): string;
  /** A JSON value with sensitive keys dropped and every string redacted. */
  value(value: unknown): unknown;
}

/**
 * `known` are strings that must never reach a model (bucket names, the S3 endpoint, credentials). Env
 * values of variables named like secrets are added from `env`.
 */
export function createRedactor(known: Iterable<string | undefined>, env: NodeJS.ProcessEnv = {}): Redactor {
  const literals = new Set<string>();
  for (const value of known) if (value && value.length >= 4) literals.add(value);
  for (const [name, value] of Object.entries(env)) {
    if (value && value.length >= 6 && /SECRET|TOKEN|PASSWORD|ACCESS_KEY|API_KEY|_KEY$/i.test(name)) {
      literals.add(value);
    }
  }
  // Longest first, so a bucket name containing another known value is replaced whole.
  const ordered = [...literals].sort((a, b) => b.length - a.length);

  const plain = (input: string): string => {
    let out = input;
    for (const literal of ordered) out = out.split(literal).join('[redacted]');
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
  const text = (input: string): string =>
    plain(input)
      .replace(ENCODED, (run) => {
        const decoded = Buffer.from(run, 'base64').toString('latin1');
        return PRINTABLE.test(decoded) && plain(decoded) !== decoded ? '[redacted-encoded]' : run;
      })
      .replace(SECRET_TOKEN, (token) =>
        /[A-Z]/.test(token) && /[a-z]/.test(token) && /\d/.test(token) ? '[redacted-secret]' : token,
      );

  const value = (input: unknown): unknown => {
    if (typeof input === 'string') return text(input);
    if (Array.isArray(input)) return input.map(value);
    if (input && typeof input === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(input)) {
        if (SENSITIVE_KEY.test(key)) continue;
        out[text(key)] = value(inner);
      }
      return out;
    }
    return input;
  };

  return { text, value };
}
