/**
 * The CloudFront Functions sandbox (src/local/edge-function.ts): the 10 KB quota, what the
 * cloudfront-js-2.0 runtime exposes and what it does not, a bounded budget that stops a function
 * that never ends, and the conversion between HTTP and the event shape.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isFrontendOpsError } from '../../src/errors.ts';
import {
  type CfEvent,
  eventFromHttp,
  type FunctionRun,
  loadEdgeFunction,
  MAX_FUNCTION_BYTES,
  requestTarget,
  responseToHttp,
} from '../../src/local/edge-function.ts';

const EMPTY = { entries: new Map<string, string>() };
const event = (url = '/', headers: Record<string, string | string[]> = {}, method = 'GET'): CfEvent =>
  eventFromHttp(
    { method, url, headers, remoteAddress: '203.0.113.7' },
    { id: 'ETEST', domainName: 'd.example.net' },
  );

/** Runs a handler body that returns a response whose body is JSON of `expression`. */
function evaluate(
  expression: string,
  options: { kvs?: Map<string, string>; now?: number; prelude?: string } = {},
) {
  const fn = loadEdgeFunction(
    `import cf from 'cloudfront';\n${options.prelude ?? ''}\nasync function handler(event) {\n  const value = ${expression};\n  return { statusCode: 200, body: JSON.stringify(value) };\n}\n`,
  );
  const result = fn.run(event(), { kvs: { entries: options.kvs ?? new Map() }, now: options.now ?? 0 });
  if (result.kind !== 'response') throw new Error(result.kind === 'error' ? result.error : 'not a response');
  return JSON.parse(String(result.response.body)) as unknown;
}

const errorOf = (result: FunctionRun) =>
  result.kind === 'error' ? result.error : `no error: ${result.kind}`;

describe('code quota', () => {
  it('takes code up to 10 KB and refuses one byte more, saying so', () => {
    const handler = 'function handler(event) { return event.request; }\n';
    const fits = `${handler}//${'x'.repeat(MAX_FUNCTION_BYTES - handler.length - 2)}`;
    expect(Buffer.byteLength(fits)).toBe(10_240);
    expect(loadEdgeFunction(fits).size).toBe(10_240);
    expect(() => loadEdgeFunction(`${fits}x`)).toThrow(
      /10241 bytes; CloudFront Functions take at most 10240/,
    );
    try {
      loadEdgeFunction(`${fits}x`);
    } catch (error) {
      expect(isFrontendOpsError(error, 'BAD_INPUT')).toBe(true);
    }
  });

  it('refuses imports of anything but a built-in module, and exports', () => {
    expect(() => loadEdgeFunction("import { x } from 'cloudfront';\nfunction handler(e) {}")).toThrow(
      /cloudfront-js-2.0 functions take "import <name> from '<module>'"/,
    );
    expect(() => loadEdgeFunction('export function handler(e) {}')).toThrow(/export nothing/);
    const fn = loadEdgeFunction("import fs from 'fs';\nfunction handler(e) { return e.request; }");
    expect(errorOf(fn.run(event(), { kvs: EMPTY }))).toMatch(/Cannot find module "fs"/);
  });
});

describe('the runtime the function sees', () => {
  it('has no process, timers, network, file system or dynamic code', () => {
    expect(
      evaluate(
        '[typeof process, typeof setTimeout, typeof setImmediate, typeof fetch, typeof globalThis.require, typeof queueMicrotask]',
      ),
    ).toEqual(['undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
    expect(evaluate("(() => { try { return eval('1'); } catch (e) { return e.name; } })()")).toBe(
      'EvalError',
    );
    expect(
      evaluate("(() => { try { return new Function('return 1')(); } catch (e) { return e.name; } })()"),
    ).toBe('EvalError');
    expect(evaluate("[typeof atob, typeof btoa, typeof TextEncoder, typeof Buffer, btoa('hi')]")).toEqual([
      'function',
      'function',
      'function',
      'function',
      'aGk=',
    ]);
  });

  it('freezes Date at the run’s start time, as CloudFront does', () => {
    expect(
      evaluate('[Date.now(), new Date().toISOString(), new Date(0).getTime()]', { now: 1_700_000_000_123 }),
    ).toEqual([1_700_000_000_123, '2023-11-14T22:13:20.123Z', 0]);
  });

  it('offers the crypto subset: md5, sha1, sha256 hashes and HMACs in hex, base64, base64url or a Buffer', () => {
    const prelude = "const crypto = require('crypto');";
    expect(
      evaluate(
        "[crypto.createHash('sha256').update('ab').digest('hex'), crypto.createHmac('sha1', 'k').update('AB').digest('base64url'), crypto.createHash('md5').update('x').digest('base64'), crypto.createHmac('sha256', 'k').update('m').digest().length]",
        { prelude },
      ),
    ).toEqual([
      createHash('sha256').update('ab').digest('hex'),
      createHmac('sha1', 'k').update('AB').digest('base64url'),
      createHash('md5').update('x').digest('base64'),
      32,
    ]);
    expect(
      evaluate("(() => { try { crypto.createHash('sha512'); } catch (e) { return e.message; } })()", {
        prelude,
      }),
    ).toMatch(/md5, sha1 and sha256/);
    expect(
      evaluate(
        "(() => { try { crypto.createHash('sha1').digest('latin1'); } catch (e) { return e.message; } })()",
        {
          prelude,
        },
      ),
    ).toMatch(/hex, base64 and base64url/);
  });

  it('reads the associated KeyValueStore through cf.kvs(): get (string, json), exists, meta, missing keys', () => {
    const kvs = new Map([
      ['plain', 'hello'],
      ['doc', '{"a":1}'],
    ]);
    expect(
      evaluate(
        "[await cf.kvs().get('plain'), await cf.kvs().get('doc', { format: 'json' }), await cf.kvs().exists('doc'), await cf.kvs().exists('nope'), (await cf.kvs().meta()).keyCount, await cf.kvs().get('nope').catch((e) => e.message)]",
        { kvs },
      ),
    ).toEqual(['hello', { a: 1 }, true, false, 2, 'Key not found: nope']);
  });

  it('runs each request afresh: nothing the code keeps at its top level survives a run', () => {
    const fn = loadEdgeFunction(
      'let runs = 0;\nfunction handler(event) { runs += 1; return { statusCode: 200, body: String(runs) }; }',
    );
    const bodies = [1, 2, 3].map(() => {
      const result = fn.run(event(), { kvs: EMPTY });
      return result.kind === 'response' ? result.response.body : undefined;
    });
    expect(bodies).toEqual(['1', '1', '1']);
  });

  it('collects console.log lines (one argument, as CloudFront logs them)', () => {
    const fn = loadEdgeFunction(
      "function handler(e) { console.log('uri ' + e.request.uri, 'dropped'); return e.request; }",
    );
    expect(fn.run(event('/x'), { kvs: EMPTY }).logs).toEqual(['uri /x']);
  });
});

describe('budget and failures', () => {
  it('stops a function that loops forever, before and after an await, and recovers for the next run', () => {
    const looping = loadEdgeFunction('function handler(e) { for (;;) {} }', { budgetMs: 30 });
    const sync = looping.run(event(), { kvs: EMPTY });
    expect(errorOf(sync)).toMatch(/ran longer than its budget of 30 ms and was stopped/);
    expect(sync.durationMs).toBeGreaterThanOrEqual(25);
    expect(sync.durationMs).toBeLessThan(5_000);

    const fn = loadEdgeFunction(
      "import cf from 'cloudfront';\nasync function handler(e) { await cf.kvs().exists('k'); if (e.request.uri === '/loop') { for (;;) {} } return e.request; }",
      // Room for the next, normal run on a loaded machine (30 ms failed it once on CI).
      { budgetMs: 500 },
    );
    expect(errorOf(fn.run(event('/loop'), { kvs: EMPTY }))).toMatch(/ran longer than its budget/);
    const next = fn.run(event('/ok'), { kvs: EMPTY });
    expect(next.kind === 'request' && next.request.uri).toBe('/ok');
  });

  it('reports a handler that waits on something CloudFront could never resolve', () => {
    const fn = loadEdgeFunction(
      'async function handler(e) { await new Promise(() => {}); return e.request; }',
    );
    expect(errorOf(fn.run(event(), { kvs: EMPTY }))).toMatch(/did not finish/);
  });

  it('reports exceptions and invalid results: no handler, a changed method, a relative uri, a bad status', () => {
    const cases: [string, RegExp][] = [
      ["function handler(e) { throw new Error('boom'); }", /threw: Error: boom/],
      ['const x = 1;', /no function named handler/],
      ["function handler(e) { e.request.method = 'POST'; return e.request; }", /method, which is read-only/],
      [
        "function handler(e) { e.request.uri = 'index.html'; return e.request; }",
        /uri does not start with "\/"/,
      ],
      ['function handler(e) { return { statusCode: 99 }; }', /invalid statusCode 99/],
      ['function handler(e) { return 42; }', /returned 42/],
    ];
    for (const [code, message] of cases) {
      expect(errorOf(loadEdgeFunction(code).run(event(), { kvs: EMPTY }))).toMatch(message);
    }
  });
});

describe('HTTP ⇄ event', () => {
  it('builds the event as CloudFront does: lower-case headers with {value}, cookies apart, raw query values', () => {
    const e = event('/a%20b/c?x=1&list=a&list=b%2Cc&flag&empty=', {
      Host: 'd.example.net',
      Accept: ['text/html', 'application/json'],
      cookie: 'fo_bucket=7; Session=abc=def; dup=1; dup=2',
    });
    expect(e).toMatchObject({
      version: '1.0',
      context: {
        distributionId: 'ETEST',
        distributionDomainName: 'd.example.net',
        eventType: 'viewer-request',
      },
      viewer: { ip: '203.0.113.7' },
      request: {
        method: 'GET',
        uri: '/a%20b/c',
        querystring: {
          x: { value: '1' },
          list: { value: 'a', multiValue: [{ value: 'a' }, { value: 'b%2Cc' }] },
          flag: { value: '' },
          empty: { value: '' },
        },
        headers: {
          host: { value: 'd.example.net' },
          accept: { value: 'text/html', multiValue: [{ value: 'text/html' }, { value: 'application/json' }] },
        },
        cookies: {
          fo_bucket: { value: '7' },
          Session: { value: 'abc=def' },
          dup: { value: '1', multiValue: [{ value: '1' }, { value: '2' }] },
        },
      },
    });
    expect(e.request.headers.cookie).toBeUndefined();
    expect(e.context.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestTarget(e.request)).toBe('/a%20b/c?x=1&list=a&list=b%2Cc&flag=&empty=');
    expect(requestTarget({ ...e.request, querystring: 'sorted=1' })).toBe('/a%20b/c?sorted=1');
    expect(requestTarget({ ...e.request, querystring: {} })).toBe('/a%20b/c');
  });

  it('turns a generated response into HTTP: headers, one Set-Cookie per cookie value, text or base64 body', () => {
    expect(
      responseToHttp({
        statusCode: 302,
        headers: {
          location: { value: '/x' },
          vary: { value: 'a', multiValue: [{ value: 'a' }, { value: 'b' }] },
        },
        cookies: {
          a: { value: '1', attributes: 'Path=/' },
          b: { value: '2', multiValue: [{ value: '2' }, { value: '3', attributes: 'Max-Age=0' }] },
        },
      }),
    ).toEqual({
      status: 302,
      headers: { location: '/x', vary: ['a', 'b'], 'set-cookie': ['a=1; Path=/', 'b=2', 'b=3; Max-Age=0'] },
      body: Buffer.alloc(0),
    });
    expect(
      responseToHttp({ statusCode: 200, body: { encoding: 'base64', data: 'aGk=' } }).body.toString(),
    ).toBe('hi');
    expect(responseToHttp({ statusCode: 200, body: 'plain' }).body.toString()).toBe('plain');
  });
});
