/**
 * Which Host names the console answers. On loopback, only loopback names are served, so that a page on
 * a rebound DNS name cannot reach the console through the user's browser. `--host 127.0.0.2` (any
 * loopback address other than 127.0.0.1) printed an address that answered 403 to everything: the
 * address the console is bound to is served too; other names are still refused, and the refusal says
 * what to do.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printAddress } from '../../src/cli/commands/console.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { defaultConfig } from '../../src/config.ts';
import { isAllowedHost } from '../../src/console/auth.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import type { ApiError } from '../../src/console/types.ts';
import { sessionInPage } from '../support/console-sign-in.ts';

let server: ConsoleServer;

beforeAll(async () => {
  server = await startConsole({
    config: defaultConfig(),
    stacks: ['prod'],
    openSite: async () => {
      throw new Error('no stack is opened by these tests');
    },
    host: '127.0.0.2',
  });
});
afterAll(async () => {
  await server?.close();
});

const port = () => new URL(server.url).port;

/** GET with a Host header of our choice (fetch() may not set it; a rebound DNS name sends its own). */
function getWithHost(path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${new URL(server.url).origin}${path}`,
      { headers: { authorization: `Bearer ${server.token}`, host } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('a console bound to a loopback address other than 127.0.0.1', () => {
  it('answers at the address it printed: the page, the sign-in and the API', async () => {
    expect(server.url).toBe(`http://127.0.0.2:${port()}/`);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    const signIn = await fetch(server.signInAddress());
    expect(signIn.status).toBe(200);
    expect(sessionInPage(await signIn.text())).not.toBeNull();
    const session = await fetch(`${server.url}api/session`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ stacks: ['prod'] });
  });

  it('still refuses other names (DNS rebinding), and says to open the address it printed', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${port()}`,
      `LOCALHOST:${port()}`,
      `127.0.0.2.evil.example:${port()}`,
      `127.0.0.2:${Number(port()) + 1}`,
      '127.0.0.2',
    ]) {
      const { status, body } = await getWithHost('/api/session', host);
      expect(status, host).toBe(403);
      const error = JSON.parse(body) as ApiError;
      expect(error.error).toBe('FORBIDDEN_ORIGIN');
      expect(error.message).toContain(`Open the address the console printed (http://127.0.0.2:${port()}/`);
    }
    // The usual loopback names of the same port stay allowed, as they were.
    expect((await getWithHost('/api/session', `localhost:${port()}`)).status).toBe(200);
    expect((await getWithHost('/api/session', `127.0.0.2:${port()}`)).status).toBe(200);
  });
});

describe('isAllowedHost', () => {
  const req = (host: string) => ({ headers: { host } }) as unknown as Parameters<typeof isAllowedHost>[0];

  it('adds the bound address only when it is a loopback address, never a name that resolves to one', () => {
    expect(isAllowedHost(req('127.0.0.1:8080'), '127.0.0.1', 8080)).toBe(true);
    expect(isAllowedHost(req('127.9.8.7:8080'), '127.9.8.7', 8080)).toBe(true);
    expect(isAllowedHost(req('[::1]:8080'), '::1', 8080)).toBe(true);
    expect(isAllowedHost(req('127.9.8.7:8080'), '127.0.0.1', 8080)).toBe(false);
    expect(isAllowedHost(req('127.0.0.1:8081'), '127.0.0.1', 8080)).toBe(false);
    // "127.example.com" starts like a loopback address but is a DNS name: never taken as a Host.
    expect(isAllowedHost(req('127.example.com:8080'), '127.example.com', 8080)).toBe(false);
  });

  it('checks the Host of a console bound to loopback spelled otherwise: ::1 written out, or 127.x as IPv6', () => {
    // These were taken as "not loopback", where any Host is answered: a rebound name among them.
    for (const bound of ['0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(isAllowedHost(req('evil.example:8080'), bound, 8080), bound).toBe(false);
      expect(isAllowedHost(req('127.0.0.1:8080'), bound, 8080), bound).toBe(true);
    }
    expect(isAllowedHost(req('[::1]:8080'), '0:0:0:0:0:0:0:1', 8080)).toBe(true);
    expect(isAllowedHost(req('[::ffff:7f00:1]:8080'), '::ffff:127.0.0.1', 8080)).toBe(true);
  });
});

describe('the "not only on this machine" warning', () => {
  const printed = (host: string) => {
    let out = '';
    printAddress(
      {
        stdout: {
          write: (chunk: string) => {
            out += chunk;
          },
        },
      } as CliIo,
      'http://x/',
      host,
    );
    return out;
  };

  it('is printed for a name that merely starts with "127." (it may resolve anywhere), not for loopback', () => {
    expect(printed('127.evil.example')).toContain(
      'warning: listening on 127.evil.example, not only on this machine.',
    );
    expect(printed('0.0.0.0')).toContain('warning: listening on 0.0.0.0');
    for (const host of ['127.0.0.2', '::1', 'localhost', '0:0:0:0:0:0:0:1'])
      expect(printed(host), host).not.toContain('warning');
  });
});
