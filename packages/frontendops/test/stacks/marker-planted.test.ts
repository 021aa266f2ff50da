/**
 * The hosting bucket's environment marker (`.frontendops/environment.json`) says which environment
 * the bucket is, where its history lives and whether it is protected. Whoever can write the hosting
 * bucket can rewrite it, or put there one this FrontendOps cannot read (not JSON, or another version's
 * saying protected). The attacks: a rewritten marker saying "unprotected" lowers no configuration's
 * protection; an unreadable one was taken as no marker at all, so an alias that the configuration
 * does not protect opened the protected environment unprotected, its change went through with no
 * approval, and wrote an unprotected marker over it. Now a marker that cannot be read is protection
 * (the stack is treated as protected, said why) and no change writes over it: refused TAMPERED before
 * anything is written or any approval used, saying what is wrong and what to do.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Config, configSchema } from '../../src/config.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../../src/deploy/pin.ts';
import { previewLink } from '../../src/deploy/preview.ts';
import { openSite } from '../../src/stacks/open.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { ENVIRONMENT_MARKER } from '../../src/state/names.ts';
import { type AtomicEnv, request, startAtomicEnv } from '../support/atomic-env.ts';
import { type BucketSnapshot, snapshotStack } from '../support/bucket-snapshot.ts';
import { runCli } from '../support/cli.ts';
import { HOSTING, STACK, type TestDeployEnv } from '../support/deploy-env.ts';
import { MARKER_APP as APP, type MarkerEnv, startMarkerEnv } from '../support/marker-env.ts';
import { refusal } from '../support/refusal.ts';
import { stoppingSite } from '../support/stopping-site.ts';

const [V1, V2, V3] = [
  '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  '3333333ccccccccccccccccccccccccccccccccc',
];

let env: MarkerEnv;
let t: TestDeployEnv;
let named: string;
let config: Config;
let deployed: BucketSnapshot;
const notices: string[] = [];

const marker = () => env.marker();
const putMarker = (body: string) => env.putMarker(body);
const everything = () => env.everything(t.target.statePrefix);
const open = (ref: string) => openSite(ref, config, t.tmp, { onNotice: (notice) => notices.push(notice) });

beforeAll(async () => {
  env = await startMarkerEnv([V1, V2]);
  ({ t, named } = env);
  // The environment is protected by the configuration; "alias" names the same outputs under a
  // name of its own that the configuration does not protect (it follows the bucket's marker).
  config = configSchema.parse({
    protected: [STACK],
    stacks: { alias: { backend: 'outputs', file: env.aliasFile } },
  });
  const site = await open(named);
  await deployArtifact(site, { app: APP, commit: V1, request: request('first') });
  site.close();
  expect(JSON.parse((await marker()) ?? '{}')).toMatchObject({ stack: STACK, protected: true });
  deployed = await snapshotStack(t.site);
}, 180_000);
beforeEach(async () => {
  await deployed.restore();
  notices.length = 0;
});
afterAll(async () => {
  await t?.stop();
});

describe("a marker's words on the terminal", () => {
  it('a version holding a terminal sequence is printed as text, in the note a read-only command gives', async () => {
    // An OSC 52 sequence (it writes the clipboard) in the 20 characters of the version a refusal quotes.
    await putMarker(JSON.stringify({ v: '\u001b]52;c;cm0gLX\u0007', stack: STACK }));
    const out = await runCli(['status', '--stack', named], t.cliEnv(), t.tmp);
    expect(out.stderr).toMatch(/^note: .*environment marker .*cannot be read: it says version /m);
    expect(out.stderr).toContain('\\u001b]52;c;cm0gLX\\u0007');
    expect(out.stderr.includes('\u001b') || out.stderr.includes('\u0007')).toBe(false);
  });
});

describe('a marker rewritten in the hosting bucket', () => {
  it('saying unprotected does not unprotect a stack its configuration protects; its next change is refused until it is put back', async () => {
    const genuine = (await marker()) as string;
    const planted = JSON.stringify({ ...JSON.parse(genuine), protected: false });
    await putMarker(planted);
    for (const ref of [named, 'alias']) {
      const site = await open(ref);
      expect({ ref, protected: site.protected }).toEqual({ ref, protected: true });
      site.close();
    }
    // Not the marker the audit log last wrote there (stacks/marker-chain.test.ts): refused, not written over.
    let site = await open(named);
    const error = await refusal(deployArtifact(site, { app: APP, commit: V2, request: request('second') }));
    site.close();
    expect(error.code).toBe('TAMPERED');
    expect(await marker()).toBe(planted);
    await putMarker(genuine);
    site = await open(named);
    await deployArtifact(site, { app: APP, commit: V2, request: request('second') });
    site.close();
    expect(JSON.parse((await marker()) ?? '{}')).toMatchObject({ stack: STACK, protected: true });
  });

  // What each is, its body, and why it is damaged where no digest can be made of it (audit verify
  // then reports it damaged; one of another version it holds to the entry that wrote the marker).
  for (const [what, body, damaged] of [
    ['not JSON', '{"v":1,"stack":"dashboard-hosting-prod",', 'it is not valid JSON'],
    [
      'of a version this FrontendOps does not read',
      JSON.stringify({ v: 2, stack: STACK, protected: true }),
      undefined,
    ],
    // A marker's shape, holding a number JSON reads as Infinity: no digest can be made of it, so it
    // is no marker an entry bound.
    [
      'holding a value canonical JSON cannot carry',
      `{"v":1,"stack":"${STACK}","stateBucket":"dashboard-state","statePrefix":"","protected":false,"n":1e999}`,
      'no digest can be made of it (it holds a lone UTF-16 surrogate, or a number JSON cannot carry)',
    ],
  ] as const) {
    it(`${what}: an alias the configuration does not protect opens it protected, saying why`, async () => {
      await putMarker(body);
      const site = await open('alias');
      expect(site.protected).toBe(true);
      expect(site.protectedBy).toMatch(/environment marker .*cannot be read/);
      expect(notices.join('\n')).toMatch(/\.frontendops\/environment\.json/);
      site.close();
    });

    it(`${what}: a change is refused before it writes anything or uses an approval, saying what to do`, async () => {
      await putMarker(body);
      const before = await everything();
      for (const ref of [named, 'alias']) {
        const site = await open(ref);
        let asked = 0;
        const error = await refusal(
          deployArtifact(site, {
            app: APP,
            commit: V2,
            request: request('ship v2'),
            authorize: async () => {
              asked += 1;
              return undefined;
            },
          }),
        );
        site.close();
        expect({ ref, code: error.code, asked }).toEqual({ ref, code: 'TAMPERED', asked: 0 });
        expect(error.message).toContain('.frontendops/environment.json');
        expect(error.message).toMatch(/cannot be read/);
        expect(error.message).toContain('Nothing was changed');
        expect(error.message).toContain('audit verify');
        expect(error.message).toMatch(/put back the marker the log records/);
        expect(await marker()).toBe(body);
        expect(await everything()).toEqual(before);
      }
    });

    if (damaged) {
      it(`${what}: audit verify reports it damaged, in the words a change refuses it with`, async () => {
        await putMarker(body);
        const site = await open(named);
        const error = await refusal(
          deployArtifact(site, { app: APP, commit: V2, request: request('ship v2') }),
        );
        site.close();
        expect(error.message).toContain(`cannot be read: ${damaged}.`);
        const verified = await verifyAudit(t.site.state, t.target.statePrefix, {
          hosting: { bucket: HOSTING, store: t.site.hosting },
        });
        expect(verified.problems).toContainEqual({
          kind: 'damaged',
          object: `${HOSTING}/${ENVIRONMENT_MARKER}`,
          reason: `${HOSTING}/${ENVIRONMENT_MARKER} is damaged (${damaged})`,
        });
      });
    }
  }
});

describe('a marker that cannot be read, with a pin change stopped before its pin.json', () => {
  it("is refused before the lock's check finishes that pin: nothing was changed is true", async () => {
    const site = await open(named);
    await expect(
      pinRelease(
        stoppingSite(site, (key) => key === `${t.target.statePrefix}pin.json`),
        { request: request('pin') },
      ),
    ).rejects.toThrow(/stopped/);
    await putMarker(JSON.stringify({ v: 2, stack: STACK, protected: true }));
    const before = await everything();
    const error = await refusal(deployArtifact(site, { app: APP, commit: V1, request: request('ship v1') }));
    site.close();
    expect(error.code).toBe('TAMPERED');
    expect(error.message).toMatch(/environment marker .*cannot be read/);
    expect(error.message).toContain('Nothing was changed');
    // The stopped pin is left as it was: its entry written, its pin.json not yet.
    expect(await everything()).toEqual(before);
  });
});

describe('a marker that cannot be read, and a pin or an unpin', () => {
  it('a pin is refused before it writes anything, as any change is', async () => {
    await putMarker('{"v":1,"stack":');
    const before = await everything();
    const site = await open(named);
    const error = await refusal(pinRelease(site, { request: request('hold it') }));
    site.close();
    expect(error.code).toBe('TAMPERED');
    expect(error.message).toMatch(/environment marker .*cannot be read/);
    expect(error.message).toContain('Nothing was changed');
    expect(await everything()).toEqual(before);
  });

  it('an unpin is refused before it writes anything: the pin stays', async () => {
    const site = await open(named);
    await pinRelease(site, { request: request('hold it') });
    await putMarker('{"v":1,"stack":');
    const before = await everything();
    const error = await refusal(unpinRelease(site, { request: request('let go') }));
    site.close();
    expect(error.code).toBe('TAMPERED');
    expect(error.message).toContain('Nothing was changed');
    expect(await everything()).toEqual(before);
  });
});

describe('atomic: a marker that cannot be read', () => {
  let a: AtomicEnv;
  beforeAll(async () => {
    a = await startAtomicEnv({ stack: 'marker-planted-atomic' });
    await a.publishVersions([V1, V2]);
    await deployArtifact(a.site, { app: APP, commit: V1, request: request('first') });
  }, 180_000);
  afterAll(() => a?.stop());

  it('refuses a change before it writes anything or uses an approval', async () => {
    const body = JSON.stringify({ v: 2, stack: 'marker-planted-atomic', protected: true });
    await a.site.hosting.put(ENVIRONMENT_MARKER, body, { contentType: 'application/json' });
    const pointer = await a.store().read();
    const entries = await a.site.state.list(`${a.target.statePrefix}audit/`);
    let asked = 0;
    const error = await refusal(
      deployArtifact(a.site, {
        app: APP,
        commit: V2,
        request: request('ship v2'),
        authorize: async () => {
          asked += 1;
          return undefined;
        },
      }),
    );
    expect({ code: error.code, asked }).toEqual({ code: 'TAMPERED', asked: 0 });
    expect(error.message).toMatch(/environment marker .*cannot be read: it says version 2/);
    expect((await a.site.hosting.get(ENVIRONMENT_MARKER))?.body.toString('utf8')).toBe(body);
    expect((await a.store().read()).value).toEqual(pointer.value);
    expect(await a.site.state.list(`${a.target.statePrefix}audit/`)).toEqual(entries);
  });

  it('refuses a preview before it copies or records anything, as any change that takes the lock', async () => {
    const body = JSON.stringify({ v: 2, stack: 'marker-planted-atomic', protected: true });
    await a.site.hosting.put(ENVIRONMENT_MARKER, body, { contentType: 'application/json' });
    const objects = async () => [
      ...(await a.site.hosting.list('')).map((o) => o.key),
      ...(await a.site.state.list(a.target.statePrefix)).map((o) => o.key),
    ];
    const before = await objects();
    const error = await refusal(
      previewLink(a.site, { app: APP, commit: V2, request: request('preview v2'), verify: false }),
    );
    expect(error.code).toBe('TAMPERED');
    expect(error.message).toMatch(/environment marker .*cannot be read: it says version 2/);
    expect(await objects()).toEqual(before);
  });
});

describe('atomic: a marker that cannot be read, with an operation stopped past its switch', () => {
  let a: AtomicEnv;
  afterAll(() => a?.stop());

  it('is refused before the stopped operation is finished: nothing was changed is true', async () => {
    a = await startAtomicEnv({ stack: 'marker-planted-stopped' });
    await a.publishVersions([V1, V2, V3]);
    await deployArtifact(a.site, { app: APP, commit: V1, request: request('first') });
    // A deploy of v2 stopped after its switch and record, before its entry: the next change finishes it.
    const deployEntry = (key: string, body?: unknown) =>
      /\/audit\/\d{10}\.json$/.test(key) && String(body).includes('"type":"deploy"');
    await expect(
      deployArtifact(stoppingSite(a.site, deployEntry), { app: APP, commit: V2, request: request('v2') }),
    ).rejects.toThrow(/stopped/);
    const body = JSON.stringify({ v: 2, stack: 'marker-planted-stopped', protected: true });
    await a.site.hosting.put(ENVIRONMENT_MARKER, body, { contentType: 'application/json' });
    const state = async () => {
      const out: Record<string, string> = {};
      for (const { key } of await a.site.state.list(a.target.statePrefix)) {
        const object = await a.site.state.get(key);
        out[key] = object ? createHash('sha256').update(object.body).digest('hex') : 'gone';
      }
      return out;
    };
    const before = await state();

    const error = await refusal(
      deployArtifact(a.site, { app: APP, commit: V3, request: request('ship v3') }),
    );
    expect(error.code).toBe('TAMPERED');
    expect(error.message).toMatch(/environment marker .*cannot be read/);
    expect(error.message).toContain('Nothing was changed');
    // The stopped deploy is left as it was (its crash-recovery record, no entry for it yet).
    expect(await state()).toEqual(before);
  });
});
