/**
 * Runs a CloudFront Function (cloudfront-js-2.0, viewer-request) the way CloudFront does, for the
 * local edge and for tests: the 10 KB code limit, a fresh strict-mode run per request, only the
 * globals and modules the runtime documents (`cloudfront` with kvs() over a given store snapshot,
 * `crypto` with md5/sha1/sha256 hashes and HMACs, `querystring`, `buffer`), Date frozen at the
 * run's start, no timers, no eval, no network or file system; and the conversion between an HTTP
 * request and the event shape (lower-case headers with {value}, cookies apart, a querystring object).
 *
 * CloudFront's 1 ms is a compute-utilization quota measured by the service, not a wall clock a
 * process can reproduce; the sandbox stops a run at a generous, bounded budget (vm timeout, which
 * also covers the promise continuations of the async handler) and reports the time it measured.
 *
 * This is a fidelity sandbox for our own function code, not a security boundary: host functions
 * (the module shims) are reachable from inside, as in any node:vm context.
 */
import { type BinaryLike, createHash, createHmac, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import * as querystring from 'node:querystring';
import { type Context, createContext, Script } from 'node:vm';
import { badInput } from '../errors.ts';

/** CloudFront Functions quota: maximum function size. */
export const MAX_FUNCTION_BYTES = 10 * 1024;
/**
 * Default wall-clock budget per run: far above CloudFront's sub-millisecond runs (a run here takes
 * about 0.1 ms), because wall-clock time on a busy machine includes the scheduler's pauses, which
 * are not the function's doing; far below a hang.
 */
export const DEFAULT_BUDGET_MS = 1000;

// ── the event shape (CloudFront Functions event structure, version 1.0) ──────────────────────

export interface CfValue {
  value: string;
  multiValue?: { value: string }[];
}
export interface CfCookie {
  value: string;
  attributes?: string;
  multiValue?: { value: string; attributes?: string }[];
}
export interface CfRequest {
  method: string;
  uri: string;
  querystring: Record<string, CfValue> | string;
  headers: Record<string, CfValue>;
  cookies: Record<string, CfCookie>;
}
export interface CfResponse {
  statusCode: number;
  statusDescription?: string;
  headers?: Record<string, CfValue>;
  cookies?: Record<string, CfCookie>;
  body?: string | { encoding: 'text' | 'base64'; data: string };
}
export interface CfEvent {
  version: '1.0';
  context: {
    distributionDomainName: string;
    distributionId: string;
    eventType: 'viewer-request';
    requestId: string;
  };
  viewer: { ip: string };
  request: CfRequest;
}

/** What the KeyValueStore associated with the function holds at the edge right now. */
export interface KvsSnapshot {
  entries: ReadonlyMap<string, string>;
  created?: Date;
  lastModified?: Date;
}

export type FunctionRun =
  | { kind: 'request'; request: CfRequest; durationMs: number; logs: string[] }
  | { kind: 'response'; response: CfResponse; durationMs: number; logs: string[] }
  | { kind: 'error'; error: string; durationMs: number; logs: string[] };

export interface EdgeFunction {
  /** Size of the code in bytes (the quota counts the code as uploaded). */
  readonly size: number;
  run(event: CfEvent, options: { kvs: KvsSnapshot; now?: number }): FunctionRun;
}

export interface EdgeFunctionOptions {
  /** Wall-clock budget per run (default 1,000 ms). */
  budgetMs?: number;
  /** Name used in error messages. */
  name?: string;
}

export async function loadEdgeFunctionFile(
  file: string,
  options: EdgeFunctionOptions = {},
): Promise<EdgeFunction> {
  return loadEdgeFunction(await readFile(file, 'utf8'), { name: file, ...options });
}

/** Compiles the code once; each run() executes its top level and handler(event) afresh. */
export function loadEdgeFunction(code: string, options: EdgeFunctionOptions = {}): EdgeFunction {
  const name = options.name ?? 'the function';
  const size = Buffer.byteLength(code);
  if (size > MAX_FUNCTION_BYTES) {
    throw badInput(
      `${name} is ${size} bytes; CloudFront Functions take at most ${MAX_FUNCTION_BYTES} bytes of code. ` +
        'Make it smaller (shorter comments count too).',
    );
  }
  const body = rewriteImports(code, name);
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  let sandbox: Sandbox | undefined;

  return {
    size,
    run(event, { kvs, now = Date.now() }) {
      sandbox ??= createSandbox(body, name);
      const logs: string[] = [];
      let outcome: { ok: true; json: string } | { ok: false; error: string } | undefined;
      sandbox.prepare({
        event: JSON.stringify(event),
        now,
        kvs,
        log: (line) => logs.push(line),
        done: (json) => {
          outcome = { ok: true, json };
        },
        fail: (error) => {
          outcome = { ok: false, error };
        },
      });
      const started = performance.now();
      try {
        sandbox.invoke.runInContext(sandbox.context, { timeout: budgetMs });
      } catch (error) {
        const durationMs = performance.now() - started;
        // A run stopped mid-way may leave work queued in its context: the next run gets a new one.
        sandbox = undefined;
        const timedOut = (error as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
        return {
          kind: 'error',
          error: timedOut
            ? `${name} ran longer than its budget of ${budgetMs} ms and was stopped`
            : `${name} failed: ${String(error)}`,
          durationMs,
          logs,
        };
      }
      const durationMs = performance.now() - started;
      if (!outcome) {
        return {
          kind: 'error',
          error: `${name} did not finish: its handler awaited something other than the KeyValueStore`,
          durationMs,
          logs,
        };
      }
      if (!outcome.ok) return { kind: 'error', error: `${name} threw: ${outcome.error}`, durationMs, logs };
      return {
        ...interpretResult(JSON.parse(outcome.json) as unknown, event.request, name),
        durationMs,
        logs,
      };
    },
  };
}

// ── the function in front of an edge ───────────────────────────────────────────────────────────

export interface EdgeFunctionStats {
  runs: number;
  errors: number;
  /** Wall-clock time of the runs, as measured around the sandbox. */
  maxMs: number;
  meanMs: number;
}

export interface ViewerRequestRunner {
  /** Runs the function on a site request, against the store as the edge sees it now. */
  run(request: IncomingMessage, host: string, kvs: KvsSnapshot, at: number): FunctionRun;
  stats(): EdgeFunctionStats;
}

/** The store of a distribution whose function has no releases to read (an in-place stack's). */
export const EMPTY_KVS: KvsSnapshot = { entries: new Map() };

/** A distribution's viewer-request function: each site request as CloudFront hands it over, counted. */
export function viewerRequestRunner(fn: EdgeFunction, distributionId: string): ViewerRequestRunner {
  const counters = { runs: 0, errors: 0, maxMs: 0, totalMs: 0 };
  return {
    run(request, host, kvs, at) {
      const event = eventFromHttp(
        {
          method: request.method ?? 'GET',
          url: request.url ?? '/',
          headers: request.headersDistinct,
          remoteAddress: request.socket.remoteAddress ?? '127.0.0.1',
        },
        { id: distributionId, domainName: host },
      );
      const run = fn.run(event, { kvs, now: at });
      counters.runs += 1;
      if (run.kind === 'error') counters.errors += 1;
      counters.maxMs = Math.max(counters.maxMs, run.durationMs);
      counters.totalMs += run.durationMs;
      return run;
    },
    stats: () => ({
      runs: counters.runs,
      errors: counters.errors,
      maxMs: counters.maxMs,
      meanMs: counters.runs === 0 ? 0 : counters.totalMs / counters.runs,
    }),
  };
}

// ── HTTP ⇄ event ────────────────────────────────────────────────────────────────────────────────

export interface HttpRequestLike {
  method: string;
  /** Path and query as on the request line (percent-encoded, as the viewer sent it). */
  url: string;
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>;
  remoteAddress?: string;
}

/** The viewer-request event CloudFront builds for a request. Values stay as the viewer sent them. */
export function eventFromHttp(
  request: HttpRequestLike,
  distribution: { id: string; domainName: string },
): CfEvent {
  const queryAt = request.url.indexOf('?');
  const uri = queryAt === -1 ? request.url : request.url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : request.url.slice(queryAt + 1);
  const headers: Record<string, CfValue> = {};
  const cookies: Record<string, CfCookie> = {};
  for (const [rawName, raw] of Object.entries(request.headers)) {
    if (raw === undefined) continue;
    const name = rawName.toLowerCase();
    const values = Array.isArray(raw) ? raw : [raw];
    if (name === 'cookie') {
      for (const line of values) for (const pair of line.split(';')) addCookie(cookies, pair.trim());
      continue;
    }
    headers[name] = withValues(values);
  }
  const querystring: Record<string, CfValue> = {};
  const grouped = new Map<string, string[]>();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const key = equals === -1 ? part : part.slice(0, equals);
    grouped.set(key, [...(grouped.get(key) ?? []), equals === -1 ? '' : part.slice(equals + 1)]);
  }
  for (const [key, values] of grouped) querystring[key] = withValues(values);
  return {
    version: '1.0',
    context: {
      distributionDomainName: distribution.domainName,
      distributionId: distribution.id,
      eventType: 'viewer-request',
      requestId: randomUUID(),
    },
    viewer: { ip: request.remoteAddress ?? '127.0.0.1' },
    request: { method: request.method, uri, querystring, headers, cookies },
  };
}

/** Path and query of the (possibly rewritten) request, as CloudFront sends it on to the origin. */
export function requestTarget(request: CfRequest): string {
  const query =
    typeof request.querystring === 'string'
      ? request.querystring
      : Object.entries(request.querystring)
          .flatMap(([key, entry]) => (entry.multiValue ?? [entry]).map((v) => `${key}=${v.value}`))
          .join('&');
  return query === '' ? request.uri : `${request.uri}?${query}`;
}

/** A response the function generated, as CloudFront sends it to the viewer. */
export function responseToHttp(response: CfResponse): {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
} {
  const headers: Record<string, string | string[]> = {};
  for (const [name, entry] of Object.entries(response.headers ?? {})) {
    headers[name.toLowerCase()] = entry.multiValue ? entry.multiValue.map((v) => v.value) : entry.value;
  }
  const setCookies = Object.entries(response.cookies ?? {}).flatMap(([name, cookie]) =>
    (cookie.multiValue ?? [cookie]).map(
      (c) => `${name}=${c.value}${c.attributes ? `; ${c.attributes}` : ''}`,
    ),
  );
  if (setCookies.length > 0) headers['set-cookie'] = setCookies;
  const body =
    response.body === undefined
      ? Buffer.alloc(0)
      : typeof response.body === 'string'
        ? Buffer.from(response.body)
        : Buffer.from(response.body.data, response.body.encoding === 'base64' ? 'base64' : 'utf8');
  return { status: response.statusCode, headers, body };
}

// ── the sandbox ───────────────────────────────────────────────────────────────────────────────

interface RunInput {
  event: string;
  now: number;
  kvs: KvsSnapshot;
  log: (line: string) => void;
  done: (json: string) => void;
  fail: (error: string) => void;
}

interface Sandbox {
  context: Context;
  invoke: Script;
  prepare(input: RunInput): void;
}

// Runs inside the context. Everything the function touches (event, promises, errors, Date) belongs to
// the context's realm, so with microtaskMode 'afterEvaluate' the whole async handler, continuations
// included, runs within one runInContext() and its timeout.
const PRELUDE = `(function (host) {
  'use strict';
  const RealDate = Date;
  function FixedDate(...args) {
    if (!new.target) return new RealDate(host.now()).toString();
    return args.length === 0 ? new RealDate(host.now()) : new RealDate(...args);
  }
  FixedDate.prototype = RealDate.prototype;
  FixedDate.now = () => host.now();
  FixedDate.UTC = RealDate.UTC;
  FixedDate.parse = RealDate.parse;
  globalThis.Date = FixedDate;
  const kvsHandle = {
    get(key, options) {
      const format = (options && options.format) || 'string';
      const found = host.kvsGet(String(key));
      if (found === undefined) return Promise.reject(new Error('Key not found: ' + key));
      if (format === 'json') {
        try { return Promise.resolve(JSON.parse(found)); } catch (e) { return Promise.reject(e); }
      }
      if (format === 'bytes') return Promise.resolve(host.bytes(found));
      return Promise.resolve(found);
    },
    exists(key) { return Promise.resolve(host.kvsGet(String(key)) !== undefined); },
    meta() { return Promise.resolve(host.kvsMeta()); },
  };
  const cloudfront = {
    kvs() { return kvsHandle; },
    edgeLocation: { name: 'LCL', serverIp: '127.0.0.1', region: 'local' },
    updateRequestOrigin() { throw new Error('origin modification is not emulated by the local edge'); },
    selectRequestOriginById() { throw new Error('origin modification is not emulated by the local edge'); },
    createRequestOriginGroup() { throw new Error('origin modification is not emulated by the local edge'); },
  };
  const modules = { cloudfront: cloudfront, crypto: host.crypto, querystring: host.querystring, buffer: { Buffer: host.Buffer } };
  function require(name) {
    if (!Object.prototype.hasOwnProperty.call(modules, name)) {
      throw new Error('Cannot find module "' + name + '": cloudfront-js-2.0 offers cloudfront, crypto, querystring and buffer');
    }
    return modules[name];
  }
  const console = { log(message) { host.log(String(message)); } };
  Object.defineProperty(globalThis, '__frontendops_invoke', {
    value(factory) {
      let handler;
      try {
        handler = factory(require, console);
      } catch (e) { host.fail(String(e && e.stack || e)); return; }
      if (typeof handler !== 'function') { host.fail('the code defines no function named handler'); return; }
      let result;
      try {
        result = handler(JSON.parse(host.event()));
      } catch (e) { host.fail(String(e && e.stack || e)); return; }
      Promise.resolve(result).then(
        (value) => {
          let json;
          try { json = JSON.stringify(value); } catch (e) { host.fail('its result is not plain data: ' + e); return; }
          host.done(json === undefined ? 'null' : json);
        },
        (e) => host.fail(String(e && e.stack || e)),
      );
    },
  });
})`;

function createSandbox(body: string, name: string): Sandbox {
  let input: RunInput | undefined;
  const current = () => {
    if (!input) throw new Error('no run in progress');
    return input;
  };
  // Only what cloudfront-js-2.0 documents as globals beside the ECMAScript built-ins.
  const context = createContext(
    { atob, btoa, TextEncoder, TextDecoder, Buffer },
    { name, codeGeneration: { strings: false, wasm: false }, microtaskMode: 'afterEvaluate' },
  );
  const host = {
    now: () => current().now,
    event: () => current().event,
    kvsGet: (key: string) => current().kvs.entries.get(key),
    kvsMeta: () => {
      const kvs = current().kvs;
      return {
        creationDateTime: (kvs.created ?? new Date(0)).toISOString(),
        lastUpdatedDateTime: (kvs.lastModified ?? new Date(0)).toISOString(),
        keyCount: kvs.entries.size,
      };
    },
    bytes: (value: string) => Buffer.from(value),
    log: (line: string) => current().log(line),
    done: (json: string) => current().done(json),
    fail: (error: string) => current().fail(error),
    crypto: cryptoModule,
    querystring: {
      parse: querystring.parse,
      decode: querystring.decode,
      stringify: querystring.stringify,
      encode: querystring.encode,
      escape: querystring.escape,
      unescape: querystring.unescape,
    },
    Buffer,
  };
  (
    new Script(PRELUDE, { filename: 'cloudfront-runtime.js' }).runInContext(context) as (
      h: typeof host,
    ) => void
  )(host);
  // The function's top level runs inside a factory, in strict mode as CloudFront runs it, and returns
  // its handler; compiled once here.
  const factory = new Script(
    `(function (require, console) { 'use strict';\n${body}\n;return typeof handler === 'function' ? handler : undefined; })`,
    { filename: name, lineOffset: -1 },
  ).runInContext(context);
  Object.defineProperty(context, '__frontendops_factory', { value: factory });
  const invoke = new Script('__frontendops_invoke(__frontendops_factory)', {
    filename: 'cloudfront-invoke.js',
  });
  return {
    context,
    invoke,
    prepare: (next) => {
      input = next;
    },
  };
}

/**
 * cloudfront-js-2.0 loads modules with `import x from '<module>'` or require(); the vm compiles a
 * script, so each import line becomes a require() call (same line count, for error positions).
 */
function rewriteImports(code: string, name: string): string {
  const rewritten = code.replace(
    /^[ \t]*import[ \t]+([A-Za-z_$][\w$]*)[ \t]+from[ \t]+(['"])([\w-]+)\2[ \t]*;?[ \t]*$/gm,
    (_all, binding: string, _quote: string, module: string) => `const ${binding} = require('${module}');`,
  );
  const leftover = /^[ \t]*(import|export)\b.*$/m.exec(rewritten);
  if (leftover) {
    throw badInput(
      `${name} has "${leftover[0].trim()}": cloudfront-js-2.0 functions take "import <name> from '<module>'" ` +
        'of its built-in modules and export nothing.',
    );
  }
  return rewritten;
}

/** The documented subset of the crypto module: md5, sha1, sha256; hex, base64, base64url or a Buffer. */
const ALGORITHMS = new Set(['md5', 'sha1', 'sha256']);
const ENCODINGS = new Set(['hex', 'base64', 'base64url']);
const cryptoModule = {
  createHash: (algorithm: string) => digester(algorithm, () => createHash(algorithm)),
  createHmac: (algorithm: string, key: BinaryLike) => digester(algorithm, () => createHmac(algorithm, key)),
};

function digester(algorithm: string, make: () => { update(data: BinaryLike): unknown; digest(): Buffer }) {
  if (!ALGORITHMS.has(algorithm)) {
    throw new Error(`Unsupported algorithm "${algorithm}": CloudFront Functions offer md5, sha1 and sha256`);
  }
  const hash = make();
  const object = {
    update(data: BinaryLike) {
      hash.update(data);
      return object;
    },
    digest(encoding?: string) {
      if (encoding === undefined) return hash.digest();
      if (!ENCODINGS.has(encoding)) {
        throw new Error(
          `Unsupported encoding "${encoding}": CloudFront Functions offer hex, base64 and base64url`,
        );
      }
      return hash.digest().toString(encoding as BufferEncoding);
    },
  };
  return object;
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

function withValues(values: readonly string[]): CfValue {
  const [first = ''] = values;
  return values.length > 1
    ? { value: first, multiValue: values.map((value) => ({ value })) }
    : { value: first };
}

function addCookie(cookies: Record<string, CfCookie>, pair: string) {
  if (pair === '') return;
  const equals = pair.indexOf('=');
  const name = equals === -1 ? pair : pair.slice(0, equals).trim();
  const value = equals === -1 ? '' : pair.slice(equals + 1).trim();
  const existing = cookies[name];
  if (!existing) {
    cookies[name] = { value };
    return;
  }
  existing.multiValue = [...(existing.multiValue ?? [{ value: existing.value }]), { value }];
}

/** A returned request must keep its method and start its uri with "/"; a response needs a status. */
function interpretResult(
  result: unknown,
  original: CfRequest,
  name: string,
):
  | { kind: 'request'; request: CfRequest }
  | { kind: 'response'; response: CfResponse }
  | { kind: 'error'; error: string } {
  if (typeof result !== 'object' || result === null) {
    return {
      kind: 'error',
      error: `${name} returned ${JSON.stringify(result)}, neither a request nor a response`,
    };
  }
  const object = result as Record<string, unknown>;
  if ('statusCode' in object) {
    const status = object.statusCode;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      return {
        kind: 'error',
        error: `${name} returned a response with the invalid statusCode ${String(status)}`,
      };
    }
    return { kind: 'response', response: object as unknown as CfResponse };
  }
  const request = object as unknown as Partial<CfRequest>;
  if (typeof request.uri !== 'string' || !request.uri.startsWith('/')) {
    return { kind: 'error', error: `${name} returned a request whose uri does not start with "/"` };
  }
  if (request.method !== original.method) {
    return { kind: 'error', error: `${name} changed the request method, which is read-only` };
  }
  return {
    kind: 'request',
    request: {
      method: original.method,
      uri: request.uri,
      querystring: request.querystring ?? {},
      headers: request.headers ?? {},
      cookies: request.cookies ?? {},
    },
  };
}
