/*
 * FrontendOps atomic releases: viewer-request CloudFront Function (cloudfront-js-2.0), deployed by
 * infra/ and run by the local edge's sandbox. CloudFront caches by the rewritten URI, so one
 * KeyValueStore write switches, rolls back or promotes a release: no copies, no invalidation.
 *
 * Layout: content-hashed assets (groupOf "asset" in engine/cache-policy.ts, kept equal by a test) live once
 * at their keys and pass through; every other file is /_releases/<id>/<path>. "/" and extension-less
 * paths get the release's /index.html ("/dir/" gets /dir/index.html unless the pointer says spa).
 * Without the pointer key the bucket root is served as before atomic releases.
 *
 * KVS: frontendops-release = {"live":id,"canary":id,"weight":0-100,"spa":bool} (one key, one write);
 * frontendops-preview-secret = the preview HMAC key.
 *
 * Canary: fo_bucket cookie = 0-99, canary when (bucket + hash(canary)) % 100 < weight: sticky, and a
 * higher weight keeps the earlier canary visitors. Only a browser navigation (GET, Sec-Fetch-Mode:
 * navigate, an HTML path) without the cookie is redirected (302) to set it; the redirect carries the
 * bucket as ?fo_bucket=, so a client that drops cookies is served by that bucket instead of looping,
 * and a client that kept the cookie is sent once more to the URL without it. Other requests (non-GET,
 * assets, subresources, crawlers, curl) are never redirected: without a cookie they get the live one.
 *
 * Preview: ?fo_preview=<id>.<expiry s>.<base64url HMAC-SHA256(secret, "frontendops-preview\n"+id+
 * "\n"+expiry)> is checked, then moved into the session cookie __Host-fo_preview by a 302 (no other
 * host, a sibling subdomain included, can set that name); a forged, malformed or expired token is a
 * 403 that clears it. ?fo_preview= (empty) leaves the preview.
 *
 * Refused: /_releases/... and /.frontendops/... (404: viewers pick no release, read no state);
 * "." or ".." segments, also percent-encoded, and NUL (400): nothing escapes the release prefix.
 */
import cf from 'cloudfront';

// biome-ignore lint/style/useNodejsImportProtocol: CloudFront's module is 'crypto'
const crypto = require('crypto');
const kvs = cf.kvs();

const HASHED = /[-.]([A-Za-z0-9_-]{8,})\.[A-Za-z0-9]+(?:\.map)?$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const BUCKET = 'fo_bucket';
const PREVIEW = 'fo_preview';
// The session's cookie: a __Host- name, which a browser takes only from this host, Secure, Path=/.
const SESSION = '__Host-fo_preview';

// biome-ignore lint/correctness/noUnusedVariables: CloudFront calls it
async function handler(event) {
  const request = event.request;
  const uri = request.uri;
  let path;
  try {
    path = decodeURIComponent(uri);
  } catch (_e) {
    return reply(400, 'Bad request: the path is not valid percent-encoded UTF-8.');
  }
  const segments = path.split('/');
  let first = '';
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === '.' || s === '..' || s.indexOf('\0') !== -1) {
      return reply(400, 'Bad request: the path has a dot segment or a NUL character.');
    }
    if (first === '' && s !== '') first = s;
  }
  if (first === '_releases' || first === '.frontendops') return reply(404, 'Not found.');
  if (isContentHashed(path)) return request;

  let pointer = null;
  try {
    pointer = await kvs.get('frontendops-release', { format: 'json' });
  } catch (_e) {
    pointer = null;
  }
  if (!pointer || !ID.test(pointer.live)) {
    request.uri = target(uri, true);
    return request;
  }

  const query = request.querystring;
  const cookies = request.cookies;
  const link = query[PREVIEW];
  const session = cookies[SESSION];
  let token = '';
  if (link) {
    if (link.value === '') {
      return redirect(location(uri, query, PREVIEW, ''), clear(SESSION));
    }
    token = link.value;
  } else if (session !== undefined && session.value !== '') {
    token = session.value;
  }
  let id = '';
  if (token) {
    const parts = token.split('.');
    let secret = '';
    try {
      secret = await kvs.get('frontendops-preview-secret');
    } catch (_e) {
      secret = '';
    }
    const problem = checkToken(parts, secret);
    if (problem) return reply(403, `Forbidden: ${problem}`, clear(SESSION));
    if (link) {
      const set = {};
      set[SESSION] = { value: token, attributes: 'Path=/; Secure; HttpOnly; SameSite=Lax' };
      return redirect(location(uri, query, PREVIEW, ''), set);
    }
    id = parts[0];
  } else {
    const choice = pick(pointer, request, uri);
    if (choice.response) return choice.response;
    id = choice.id;
  }
  request.uri = `/_releases/${id}${target(uri, pointer.spa === true)}`;
  return request;
}

function isContentHashed(path) {
  // HTML is each release's own, hashed name or not: the engine keeps it under the release's prefix.
  if (path.endsWith('.html')) return false;
  const m = HASHED.exec(path.slice(path.lastIndexOf('/') + 1));
  if (!m) return false;
  return path.startsWith('/assets/') || /[0-9A-Z]/.test(m[1]);
}

/** The object a path names: "/" and extension-less paths are the app's index.html. */
function target(uri, spa) {
  if (uri.endsWith('/')) return spa ? '/index.html' : `${uri}index.html`;
  const last = uri.slice(uri.lastIndexOf('/') + 1);
  return last.indexOf('.') === -1 ? '/index.html' : uri;
}

/** Live or canary for this viewer; or the redirect that gives a browser its sticky bucket. */
function pick(p, request, uri) {
  const weight = typeof p.weight === 'number' ? p.weight : 0;
  if (!ID.test(p.canary || '') || p.canary === p.live || !(weight > 0)) return { id: p.live };
  if (weight >= 100) return { id: p.canary };
  const query = request.querystring;
  const cookie = bucketOf(request.cookies[BUCKET]);
  const marked = bucketOf(query[BUCKET]);
  const mode = request.headers['sec-fetch-mode'];
  const navigation =
    request.method === 'GET' &&
    mode !== undefined &&
    mode.value === 'navigate' &&
    (uri.endsWith('.html') || target(uri, true) !== uri);
  let bucket = cookie >= 0 ? cookie : marked;
  if (bucket < 0) {
    if (!navigation) return { id: p.live };
    bucket = Math.floor(Math.random() * 100);
    const set = {};
    set[BUCKET] = { value: String(bucket), attributes: 'Path=/; Max-Age=2592000; Secure; SameSite=Lax' };
    return { response: redirect(location(uri, query, BUCKET, String(bucket)), set) };
  }
  if (cookie >= 0 && marked >= 0 && navigation)
    return { response: redirect(location(uri, query, BUCKET, '')) };
  let h = 0;
  for (let i = 0; i < p.canary.length; i++) h = (h * 31 + p.canary.charCodeAt(i)) % 100;
  return { id: (bucket + h) % 100 < weight ? p.canary : p.live };
}

function bucketOf(entry) {
  return entry && /^\d{1,2}$/.test(entry.value) ? Number(entry.value) : -1;
}

/** Why a preview token is refused, or '' when it is good. */
function checkToken(parts, secret) {
  if (!secret) return 'previews are not enabled on this site.';
  if (parts.length !== 3 || !ID.test(parts[0]) || !/^\d{1,12}$/.test(parts[1])) {
    return 'this preview link is malformed; ask for a new one.';
  }
  const expected = crypto
    .createHmac('sha256', secret)
    .update(`frontendops-preview\n${parts[0]}\n${parts[1]}`)
    .digest('base64url');
  let diff = expected.length ^ parts[2].length;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ parts[2].charCodeAt(i);
  if (diff !== 0) return 'this preview link is not valid (its signature does not match).';
  if (Number(parts[1]) * 1000 <= Date.now()) {
    return `this preview link expired at ${new Date(Number(parts[1]) * 1000).toISOString()}; ask for a new one.`;
  }
  return '';
}

/** The request's own URL with one query parameter set to value, or removed when value is ''. */
function location(path, query, name, value) {
  // "//host/" or "/\\host/" would send the browser to another site.
  const uri = `/${path.replace(/^[/\\]+/, '')}`;
  const parts = [];
  for (const key in query) {
    if (key === name) continue;
    const entry = query[key];
    const values = entry.multiValue || [entry];
    for (let i = 0; i < values.length; i++) parts.push(`${key}=${values[i].value}`);
  }
  if (value !== '') parts.push(`${name}=${value}`);
  return parts.length ? `${uri}?${parts.join('&')}` : uri;
}

function clear(name) {
  const cookies = {};
  cookies[name] = { value: '', attributes: 'Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax' };
  return cookies;
}

function redirect(to, cookies) {
  return {
    statusCode: 302,
    statusDescription: 'Found',
    headers: { location: { value: to }, 'cache-control': { value: 'no-store' } },
    cookies: cookies || {},
  };
}

function reply(status, text, cookies) {
  return {
    statusCode: status,
    statusDescription: status === 400 ? 'Bad Request' : status === 403 ? 'Forbidden' : 'Not Found',
    headers: {
      'content-type': { value: 'text/plain; charset=utf-8' },
      'cache-control': { value: 'no-store' },
    },
    cookies: cookies || {},
    body: { encoding: 'text', data: `${text}\n` },
  };
}
