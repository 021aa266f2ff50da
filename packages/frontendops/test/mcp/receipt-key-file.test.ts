/**
 * The receipt key file, tried as another user of the machine would use it. Whoever reads the key can
 * make receipts, and the git server tags whatever a receipt vouches for: a deployment that never
 * happened, or a true one with a made-up audit head. So a key file others can read (a backup
 * restored as 0644, a config directory copied with its modes) or another user owns is not used, as
 * ssh refuses such a private key: the git server tags nothing with it, and the infra server changes
 * nothing it could not vouch for afterwards. Made 0600 again, the same key works.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalGit } from '../../src/adapters/git-local.ts';
import { createGitServer } from '../../src/mcp/git-server.ts';
import { issueReceipt, loadReceiptKey, receiptKeyPath } from '../../src/mcp/receipts.ts';
import { readAudit } from '../../src/state/audit.ts';
import { HOSTING } from '../support/deploy-env.ts';
import { createTestRepo, type TestRepo } from '../support/git-repo.ts';
import {
  COMMITS,
  connectInfra,
  type InfraClient,
  type InfraFixture,
  startInfraFixture,
} from '../support/mcp-infra.ts';

let f: InfraFixture;
let infra: InfraClient;
let repo: TestRepo;
let git: InfraClient;
let home: string;
/** The servers' environment: no FRONTENDOPS_RECEIPT_KEY, so the key is the file in the config directory. */
let env: NodeJS.ProcessEnv;
let keyPath: string;
const key = randomBytes(32);

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'frontendops-receipt-home-'));
  env = { HOME: home };
  keyPath = receiptKeyPath(env);
  await mkdir(join(home, '.config', 'frontendops'), { recursive: true, mode: 0o700 });
  await writeFile(keyPath, `${key.toString('base64url')}\n`, { mode: 0o600 });
  f = await startInfraFixture({ stack: 'receipt-key-file' });
  infra = await connectInfra(f.server({ env }));
  repo = await createTestRepo();
  git = await connectInfra(
    createGitServer({ host: createLocalGit({ repoDir: repo.dir }), defaultPath: 'apps', env }),
    { name: 'git-test' },
  );
});
afterAll(async () => {
  await git?.close();
  await repo?.cleanup();
  await infra?.close();
  await f?.t.stop();
  await rm(home, { recursive: true, force: true });
});

const tag = (args: Record<string, unknown>) => git.call('create_deploy_tag', args);
const tags = async () => (await repo.git(['tag', '-l'])).trim();
/** What a change could have touched: the hosting bucket, the live pointer, the audit chain. */
const snapshot = async () => ({
  hosting: (await f.t.s3.store(HOSTING).list()).map((o) => `${o.key} ${o.etag}`).sort(),
  pointer: (await f.t.site.records.readPointer())?.value ?? null,
  entries: (await readAudit(f.t.site.state, f.t.site.target.statePrefix)).length,
});

/** A tag of a deployment that never happened, with a receipt made with the key file's key (by whoever read it). */
const tagArgs = () => {
  const commit = repo.commits.docs;
  const deployId = `${commit.slice(0, 7)}-0000000009`;
  const artifactDigest = `sha256:${'cd'.repeat(32)}`;
  const claims = { stack: 'prod', deployId, commit, artifactDigest, auditHead: null };
  return { deployId, commit, artifactDigest, request: 'Deploy', receipt: issueReceipt(key, claims) };
};

describe('a receipt key file others can read', () => {
  it('is not used: no tag from a receipt made with it, no change the infra server could not vouch for', async () => {
    await chmod(keyPath, 0o644);
    try {
      const refusal =
        /The receipt key at ~\/\.config\/frontendops\/receipt-key can be read by others than you \(mode 0644\): .*It was not used, and nothing was changed\. Run `chmod 600 ~\/\.config\/frontendops\/receipt-key`/;

      const made = await tag(tagArgs());
      expect(made.isError).toBe(true);
      expect(made.text).toMatch(refusal);
      expect(await tags()).toBe('');

      // The deploy asks first, before anything is written: a release made live now could not be tagged.
      const before = await snapshot();
      const target = await infra.call('get_deploy_target', { commit: COMMITS[0] });
      expect(target.isError, target.text).toBe(false);
      const sync = await infra.call('run_sync', { handle: target.structured.handle, request: 'Deploy' });
      expect(sync.isError).toBe(true);
      expect(sync.text).toMatch(refusal);
      // The user's home is not named to the client (nor to a model behind it).
      expect(sync.text).not.toContain(home);
      const rollback = await infra.call('rollback', {});
      expect(rollback.isError).toBe(true);
      expect(rollback.text).toMatch(refusal);
      // The server's configuration is wrong, not the call: said once that nothing changed, and what to fix.
      for (const text of [made.text, sync.text, rollback.text]) {
        expect(text.match(/nothing was changed/gi)).toHaveLength(1);
        expect(text).toMatch(
          /Fix the server's configuration \(the arguments were fine\) and call the tool again\.$/,
        );
        expect(text).not.toMatch(/fix the arguments/i);
      }
      expect(await snapshot()).toEqual(before);
    } finally {
      await chmod(keyPath, 0o600);
    }
  });

  it('made 0600 again, the same key works: the deploy goes through and its receipt is tagged', async () => {
    const target = await infra.call('get_deploy_target', { commit: COMMITS[0] });
    const sync = await infra.call('run_sync', { handle: target.structured.handle, request: 'Deploy' });
    expect(sync.isError, sync.text).toBe(false);
    // A server started between the two steps loads the key at invalidate_cdn: 0644 there is refused
    // before the deploy is finished and recorded (its release is not what it vouches for yet).
    await chmod(keyPath, 0o644);
    const restarted = await connectInfra(f.server({ env }));
    try {
      const before = await snapshot();
      const refused = await restarted.call('invalidate_cdn', { deployId: sync.structured.deployId });
      expect(refused.isError).toBe(true);
      expect(refused.text).toMatch(
        /The receipt key at ~\/\.config\/frontendops\/receipt-key can be read by others/,
      );
      expect(await snapshot()).toEqual(before);
    } finally {
      await chmod(keyPath, 0o600);
      await restarted.close();
    }
    const done = await infra.call('invalidate_cdn', { deployId: sync.structured.deployId });
    expect(done.isError, done.text).toBe(false);
    expect((await loadReceiptKey(env)).equals(key)).toBe(true);
    expect(done.structured.receipt).toEqual(expect.stringMatching(/^fr1\./));
    // (The test repository does not hold the fixture's commit: the tag names one it does, with a receipt for it.)
    const made = await tag(tagArgs());
    expect(made.isError, made.text).toBe(false);
    expect(await tags()).toMatch(/^dashboard-deploy-/);
  });
});

describe("a receipt key too short in the server's environment", () => {
  it("is the server's configuration to fix, not the call's arguments", async () => {
    const short = await connectInfra(f.server({ env: { ...env, FRONTENDOPS_RECEIPT_KEY: 'k7Qx2' } }));
    try {
      const before = await snapshot();
      const refused = await short.call('rollback', {});
      expect(refused.isError).toBe(true);
      expect(refused.text).toBe(
        "BAD_INPUT: FRONTENDOPS_RECEIPT_KEY is too short (5 characters): give both MCP servers the same random value of at least 32 characters, or unset it to use the key file in your config directory. Nothing was changed; fix the server's configuration (the arguments were fine) and call the tool again.",
      );
      expect(await snapshot()).toEqual(before);
    } finally {
      await short.close();
    }
  });
});

describe('a receipt key file another user owns', () => {
  // Giving a file to another user takes root: where the suite runs as root (CI does), this runs.
  it.skipIf(process.getuid?.() !== 0)('is not used: whoever owns it can replace the key', async () => {
    await chown(keyPath, 65534, 65534);
    try {
      // Read as a server starting now reads it (the two above keep the key they loaded).
      await expect(loadReceiptKey(env)).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringMatching(
          /^The receipt key at ~\/\.config\/frontendops\/receipt-key belongs to another user \(uid 65534; you are uid 0\): whoever owns the file can replace the key\. It was not used, and nothing was changed\. Delete it/,
        ),
      });
    } finally {
      await chown(keyPath, 0, 0);
    }
  });

  it('a symbolic link, a key FrontendOps never makes, a directory others can write: each said, none used', async () => {
    const other = { HOME: join(home, 'other') };
    const path = receiptKeyPath(other);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const refused = (pattern: RegExp) =>
      expect(loadReceiptKey(other)).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringMatching(pattern),
      });

    // A link to a file of the user's own, 0600, holding a key anyone can know (as /proc/self/personality
    // always holds the same line): every check of the file itself would pass.
    const known = join(home, 'known-key');
    await writeFile(known, `${Buffer.alloc(32, 7).toString('base64url')}\n`, { mode: 0o600 });
    await symlink(known, path);
    await refused(
      /^The receipt key at ~\/\.config\/frontendops\/receipt-key is a symbolic link: .*It was not used/,
    );
    await rm(path);

    for (const text of ['', 'abc\n', `${Buffer.alloc(16, 1).toString('base64url')}\n`]) {
      await writeFile(path, text, { mode: 0o600 });
      await refused(
        /is not one FrontendOps made \(expected 32 random bytes in base64url, one line\)\. It was not used/,
      );
      await rm(path);
    }

    await loadReceiptKey(other);
    await chmod(dirname(path), 0o777);
    await refused(
      /^The directory of the receipt key at ~\/\.config\/frontendops\/receipt-key can be written by others than you \(mode 0777\): whoever can write it can put a key of theirs in its place\./,
    );
    await chmod(dirname(path), 0o700);
    expect((await loadReceiptKey(other)).length).toBe(32);
  });

  it('a directory where the key should be: said, nothing made', async () => {
    const other = { HOME: join(home, 'elsewhere') };
    await mkdir(receiptKeyPath(other), { recursive: true });
    await expect(loadReceiptKey(other)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/is not a file \(a directory\)\. Nothing was changed\. Remove it/),
    });
  });
});
