/**
 * What the browser is told of an error is what an MCP client is told of it: our own refusals in
 * full; a backend failure or a bug generically, whatever its message names (a bucket, a local path).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toApiError } from '../../src/console/http.ts';
import { FrontendOpsError } from '../../src/errors.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('toApiError', () => {
  it('an INTERNAL error of ours is not passed to the browser verbatim: its path stays in the log', () => {
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const secret = '/home/ada/.config/frontendops/receipt-key';
    const { status, body } = toApiError(
      new FrontendOpsError('INTERNAL', `The receipt key at ${secret} was made, then not found.`),
    );
    expect(status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(body)).not.toContain(secret);
    expect(body.message).toMatch(/server's log/);
    expect(String(logged.mock.calls.flat().map(String))).toContain(secret);
  });

  it('a backend failure names no bucket; a bug names nothing of its message', () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const upstream = toApiError(
      new FrontendOpsError('UPSTREAM', 'GET s3://acme-prod-hosting/index.html failed', {
        cause: Object.assign(new Error('x'), { name: 'NoSuchBucket' }),
      }),
    );
    expect(upstream).toMatchObject({ status: 502, body: { error: 'UPSTREAM' } });
    expect(upstream.body.message).toMatch(/\(NoSuchBucket\)/);
    expect(upstream.body.message).not.toContain('acme-prod-hosting');
    const bug = toApiError(new TypeError('cannot read /srv/state/x of undefined'));
    expect(bug).toMatchObject({ status: 500, body: { error: 'INTERNAL' } });
    expect(bug.body.message).not.toContain('/srv/state');
  });

  it('every code has its status: a missing credential is 401, not 500', () => {
    const said = (code: ConstructorParameters<typeof FrontendOpsError>[0]) =>
      toApiError(new FrontendOpsError(code, `a ${code} refusal`));
    expect(said('UNAUTHORIZED')).toEqual({
      status: 401,
      body: { error: 'UNAUTHORIZED', message: 'a UNAUTHORIZED refusal' },
    });
    expect(said('BAD_INPUT').status).toBe(400);
    expect(said('PINNED').status).toBe(409);
    expect(said('INTERRUPTED').status).toBe(409);
  });
});
