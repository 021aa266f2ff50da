/**
 * A rollback reads the stack's state before it takes the deploy lock (the live pointer its destination
 * is chosen from, a stopped rollback's crash-recovery record, the pin; with `--to`, the records), to
 * refuse early. When the state bucket does not answer there (a 5xx, access denied, the connection
 * cut), the rollback must say what could not be read, that nothing was changed and what to do, as
 * UPSTREAM. Before, S3's own error came through ("S3 could not get <key> … (ServiceUnavailable: …)"),
 * saying neither.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store } from '../../src/adapters/s3.ts';
import { deployArtifact, rollbackRelease } from '../../src/deploy/deploy.ts';
import { isFrontendOpsError } from '../../src/errors.ts';
import { startHttpServer } from '../../src/local/edge-http.ts';
import type { Site } from '../../src/site.ts';
import { createStateRecords } from '../../src/state/records.ts';
import { publishFixtureBuilds, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { refusal } from '../support/refusal.ts';

const APP = 'sophia-dashboard';
const [V1, V2] = ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2'] as const;
const request = (text: string) => ({ text, actor: 'test', planner: 'cli', at: new Date().toISOString() });

/** How the state bucket fails to answer, as a server in front of it would. */
const failures: Record<string, (response: ServerResponse) => void> = {
  'the network (the connection is cut)': (response) => response.socket?.destroy(),
  'a 5xx': (response) => {
    response.writeHead(503, { 'content-type': 'application/xml' });
    response.end('<Error><Code>ServiceUnavailable</Code><Message>Service Unavailable</Message></Error>');
  },
  'access denied': (response) => {
    response.writeHead(403, { 'content-type': 'application/xml' });
    response.end('<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
  },
};

describe("the state bucket unreachable at a rollback's check before its lock", () => {
  let t: TestDeployEnv;
  let failing: { url: string; close(): Promise<void> };
  let fail: (response: ServerResponse) => void = () => undefined;
  let seen = 0;

  beforeAll(async () => {
    t = await startDeployEnv({ stack: 'rollback-state-unread' });
    failing = await startHttpServer(
      async (_request: IncomingMessage, response: ServerResponse) => {
        seen++;
        fail(response);
      },
      { host: '127.0.0.1', port: 0 },
    );
    await publishFixtureBuilds(t, APP, [V1, V2]);
    for (const commit of [V1, V2])
      await deployArtifact(t.site, { app: APP, commit, request: request('ship') });
  }, 180_000);
  afterAll(async () => {
    await failing?.close();
    await t?.stop();
  });

  /**
   * The stack with its state bucket answering as `how` (through the production adapter, one attempt
   * per request); `listing`: only its listings do (the pointer and the pin are read).
   */
  function unreachable(how: string, listing = false): Site {
    fail = failures[how] as (response: ServerResponse) => void;
    const broken = createS3Store({
      bucket: t.target.stateBucket,
      endpoint: failing.url,
      credentials: t.s3.credentials,
      maxAttempts: 1,
    });
    const state = listing ? { ...t.site.state, list: broken.list } : broken;
    return { ...t.site, state, records: createStateRecords(state, t.target.statePrefix) };
  }

  // --to a commit the live pointer does not keep: the records are listed to find it.
  const cases = [
    { to: undefined, listing: false, what: 'rollback' },
    { to: V1.slice(0, 7), listing: false, what: 'rollback --to' },
    { to: 'd4d4d4d', listing: true, what: 'rollback --to a release the pointer does not keep' },
  ];
  for (const how of Object.keys(failures)) {
    for (const { to, listing, what } of cases) {
      it(`${how}, ${what}: UPSTREAM, saying what was not read and what to do; nothing written`, async () => {
        const site = unreachable(how, listing);
        await t.s3.settle();
        const mark = t.s3.requests.length;
        const before = seen;
        const error = await refusal(
          rollbackRelease(site, { ...(to ? { to } : {}), request: request('back') }),
        );
        expect(seen).toBeGreaterThan(before);
        expect(isFrontendOpsError(error, 'UPSTREAM'), String(error)).toBe(true);
        expect(error.message).toContain(t.target.stack);
        expect(error.message).toMatch(/state .*could not be read/);
        expect(error.message).toContain(t.target.stateBucket);
        expect(error.message).toMatch(/Nothing was changed/);
        expect(error.message).toMatch(/reaches/);
        expect(error.message).toMatch(/credentials may read/);
        expect(error.message).toMatch(/run the rollback again/);
        // Which object, said by name: never the state prefix (it reaches no MCP client).
        expect(error.message).not.toContain(t.target.statePrefix);
        await t.s3.settle();
        const writes = t.s3.requests
          .slice(mark)
          .filter((r) => r.method !== 'GET' && r.method !== 'HEAD')
          .map((r) => `${r.method} ${r.key}`);
        expect(writes).toEqual([]);
        expect((await t.site.records.readPointer())?.value.commit).toBe(V2);
      });
    }
  }
});
