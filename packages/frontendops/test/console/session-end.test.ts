/**
 * Attacks on a browser session's end. A session lasts SESSION_TTL_MS; after that its id is refused
 * at every request, but the progress stream (`/api/events`) it opened before is one long response,
 * so every later event (chat answers, deploys, who asked and why) would still reach whoever holds
 * that connection. And a session id seen by someone else (a shared screen's devtools, a copied
 * sessionStorage) is replayed until then, unless the page can end it: signing out. The console's
 * clock (its `now`) is moved past the session's end; the chat, run with the token, is what
 * publishes. No stack is opened.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentResult } from '../../src/agent/types.ts';
import { SESSION_TTL_MS } from '../../src/console/auth.ts';
import { type ConsoleServer, startConsole } from '../../src/console/server.ts';
import { openEventStream } from '../support/console-events.ts';
import { newSession, sessionInPage } from '../support/console-sign-in.ts';

const START = new Date('2026-03-01T09:00:00Z').getTime();
/** Words only a chat turn run after the session's end says. */
const LATER = 'the words of a turn after the session ended';

let server: ConsoleServer;
let uiDir: string;
/** The console's clock. */
let now = START;

beforeAll(async () => {
  uiDir = await mkdtemp(join(tmpdir(), 'frontendops-console-ui-'));
  await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>console</title>');
  server = await startConsole({
    config: (await import('../../src/config.ts')).defaultConfig(),
    stacks: ['prod'],
    openSite: async () => {
      throw new Error('the chat opens no stack itself');
    },
    agent: async (text, options) => {
      options.onEvent({ type: 'text', text: LATER });
      return { outcome: 'answered', message: 'answered', request: text, calls: [] } as unknown as AgentResult;
    },
    uiDir,
    actor: 'ada (console)',
    now: () => now,
  });
});
afterAll(async () => {
  await server?.close();
  if (uiDir) await rm(uiDir, { recursive: true, force: true });
});

/** Everything a stream sends until it ends (or `bound` ms pass: then `ended` is false). */
async function readToEnd(res: Response, bound = 10_000): Promise<{ text: string; ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<'cut'>((resolve) => {
    timer = setTimeout(() => resolve('cut'), bound);
  });
  try {
    for (;;) {
      const read = await Promise.race([reader.read(), cut]);
      if (read === 'cut') {
        await reader.cancel();
        return { text, ended: false };
      }
      if (read.done) return { text, ended: true };
      text += decoder.decode(read.value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
}

describe('attack: an expired session keeps its progress stream', () => {
  it('the stream a session opened ends once the session has, sent nothing said after it', async () => {
    const session = await newSession(server);
    const origin = new URL(server.url).origin;
    const stream = await fetch(`${origin}/api/events`, { headers: { authorization: `Bearer ${session}` } });
    expect(stream.status).toBe(200);
    // The token's stream sees the turn: the turn was published.
    const byToken = await openEventStream(origin, server.token);

    now = START + SESSION_TTL_MS;
    const expired = await fetch(`${origin}/api/session`, { headers: { authorization: `Bearer ${session}` } });
    expect(expired.status).toBe(401);
    const turn = await fetch(`${origin}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
      body: JSON.stringify({ text: "what's live?" }),
    });
    expect(turn.status).toBe(200);
    await byToken.waitFor((event) => event.event.type === 'done');
    expect(JSON.stringify(byToken.events)).toContain(LATER);
    byToken.close();

    const seen = await readToEnd(stream);
    expect(seen.ended).toBe(true);
    expect(seen.text).not.toContain(LATER);
    expect(seen.text).not.toMatch(/^data:/m);
  });
});

const origin = () => new URL(server.url).origin;

function post(path: string, bearer: string, body: unknown = {}) {
  return fetch(`${origin()}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
  });
}

describe('attack: a session id replayed after its page signed out', () => {
  it('a signed-out session is refused everywhere, its stream ends, other sessions go on', async () => {
    const session = await newSession(server);
    const other = await newSession(server);
    const stream = await fetch(`${origin()}/api/events`, { headers: { authorization: `Bearer ${session}` } });
    expect(stream.status).toBe(200);
    const othersStream = await openEventStream(origin(), other);

    const out = await post('/api/sign-out', session);
    expect(out.status, await out.clone().text()).toBe(200);
    expect(await out.json()).toEqual({ signedOut: true });

    for (const path of ['/api/session', '/api/events']) {
      const replayed = await fetch(`${origin()}${path}`, { headers: { authorization: `Bearer ${session}` } });
      expect(replayed.status, path).toBe(401);
      await replayed.body?.cancel();
    }
    expect((await post('/api/chat', session, { text: "what's live?" })).status).toBe(401);
    // Signing out twice is refused as any unknown bearer is.
    expect((await post('/api/sign-out', session)).status).toBe(401);

    // Its stream ended with the sign-out, before any event; the other session goes on, told the turn.
    const seen = await readToEnd(stream);
    expect(seen.ended).toBe(true);
    expect(seen.text).not.toMatch(/^data:/m);
    expect((await post('/api/chat', other, { text: "what's live?" })).status).toBe(200);
    await othersStream.waitFor((event) => event.event.type === 'done');
    othersStream.close();
  });

  it('the token is no session to sign out: refused in words, and it keeps working', async () => {
    const out = await post('/api/sign-out', server.token);
    expect(out.status).toBe(400);
    const body = (await out.json()) as { error: string; message: string };
    expect(body.error).toBe('BAD_INPUT');
    expect(body.message).toMatch(/token.*stop the console/i);
    expect(body.message).not.toMatch(/\bat .*\.ts:\d+/);
    const still = await fetch(`${origin()}/api/session`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    expect(still.status).toBe(200);
  });

  it('from another page: refused as every mutation is, the session kept', async () => {
    const session = await newSession(server);
    const forged = await fetch(`${origin()}/api/sign-out`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${session}` },
      body: '{}',
    });
    expect(forged.status).toBe(403);
    const still = await fetch(`${origin()}/api/session`, { headers: { authorization: `Bearer ${session}` } });
    expect(still.status).toBe(200);
  });
});

describe('attack: a browser sniffing a console answer as another type', () => {
  it('every answer says nosniff: JSON, refusals, the progress stream, the page', async () => {
    const session = await newSession(server);
    const bearer = { authorization: `Bearer ${session}` };
    const answers: [string, Response][] = [
      ['session', await fetch(`${origin()}/api/session`, { headers: bearer })],
      ['no session (401)', await fetch(`${origin()}/api/session`)],
      ['unknown API path', await fetch(`${origin()}/api/no-such-thing`, { headers: bearer })],
      [
        'another origin (403)',
        await fetch(`${origin()}/api/session`, { headers: { ...bearer, origin: 'http://evil.test' } }),
      ],
      ['a bad body (400)', await post('/api/chat', session, { nothing: true })],
      ['the progress stream', await fetch(`${origin()}/api/events`, { headers: bearer })],
      ['the page', await fetch(`${origin()}/`)],
      ['a refused sign-in', await fetch(`${origin()}/?signin=not-a-code`)],
      ['sign-out', await post('/api/sign-out', session)],
    ];
    for (const [what, answer] of answers) {
      expect(answer.headers.get('x-content-type-options'), what).toBe('nosniff');
      await answer.body?.cancel();
    }
  });
});

describe('attack: ending every session', () => {
  const sessionStatus = (bearer: string) =>
    fetch(`${origin()}/api/session`, { headers: { authorization: `Bearer ${bearer}` } }).then(
      (r) => r.status,
    );

  it('a session cannot end the others: refused in words, every session kept', async () => {
    const session = await newSession(server);
    const other = await newSession(server);
    const out = await post('/api/sign-out', session, { all: true });
    expect(out.status).toBe(403);
    const body = (await out.json()) as { error: string; message: string };
    expect(body.error).toBe('DENIED');
    expect(body.message).toMatch(/Only the console token ends every session/);
    expect(await sessionStatus(session)).toBe(200);
    expect(await sessionStatus(other)).toBe(200);
  });

  it('from another page or origin, even with the token: refused as every mutation is, every session kept', async () => {
    const session = await newSession(server);
    const tries: [string, Record<string, string>][] = [
      ['text/plain', { 'content-type': 'text/plain' }],
      ['another origin', { 'content-type': 'application/json', origin: 'http://evil.test' }],
      ['another site', { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }],
    ];
    for (const [what, headers] of tries) {
      const forged = await fetch(`${origin()}/api/sign-out`, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${server.token}` },
        body: '{"all":true}',
      });
      expect(forged.status, what).toBe(403);
      await forged.body?.cancel();
    }
    expect(await sessionStatus(session)).toBe(200);
  });

  it('a body that is not { "all": true } ends nothing: refused in words', async () => {
    const session = await newSession(server);
    const out = await post('/api/sign-out', server.token, { all: 'yes' });
    expect(out.status).toBe(400);
    expect(((await out.json()) as { message: string }).message).toMatch(/"all": true/);
    expect(await sessionStatus(session)).toBe(200);
  });

  it('the token ends every session: each old id is refused, their streams end, the token and a new sign-in work', async () => {
    const sessions = [await newSession(server), await newSession(server)];
    const streams: Response[] = [];
    for (const session of sessions) {
      const stream = await fetch(`${origin()}/api/events`, {
        headers: { authorization: `Bearer ${session}` },
      });
      expect(stream.status).toBe(200);
      streams.push(stream);
    }

    const out = await post('/api/sign-out', server.token, { all: true });
    expect(out.status, await out.clone().text()).toBe(200);
    const answer = (await out.json()) as { signedOut: boolean; sessions: number };
    expect(answer.signedOut).toBe(true);
    expect(answer.sessions).toBeGreaterThanOrEqual(sessions.length);

    for (const session of sessions) {
      expect(await sessionStatus(session)).toBe(401);
      expect((await post('/api/chat', session, { text: "what's live?" })).status).toBe(401);
    }
    for (const stream of streams) {
      const seen = await readToEnd(stream);
      expect(seen.ended).toBe(true);
      expect(seen.text).not.toMatch(/^data:/m);
    }
    expect(await sessionStatus(server.token)).toBe(200);
    expect(await sessionStatus(await newSession(server))).toBe(200);
  });

  it('a sign-in address printed before, not yet opened, starts no session after every session ended', async () => {
    // Seen over the same shared screen as a session id: ending every session ends what it would start.
    const unused = server.signInAddress();
    const out = await post('/api/sign-out', server.token, { all: true });
    expect(out.status, await out.clone().text()).toBe(200);
    const opened = await fetch(unused);
    const html = await opened.text();
    expect(sessionInPage(html)).toBeNull();
    expect(opened.status).toBe(403);
    expect(html).toContain('every session was ended since it was printed');
    expect(await sessionStatus(await newSession(server))).toBe(200);
  });
});
