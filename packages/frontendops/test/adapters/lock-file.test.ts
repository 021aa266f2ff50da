/**
 * The file lock: the Locker contract (test/support/contracts/locker.ts) in a temp dir, and what only
 * it does — its directory is one for the whole machine (not TMPDIR, HOME or the working directory),
 * shared by its users, never followed through a symlink. And the deploy lock is named by the target,
 * not the stack name.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileLocker } from '../../src/adapters/lock-file.ts';
import { lockName } from '../../src/adapters/lock-holder.ts';
import { deployLockName } from '../../src/deploy/deploy-lock.ts';
import type { DeployTarget } from '../../src/engine/types.ts';
import { lockDirFor, lockRoot } from '../../src/stacks/open.ts';
import { startLockHolder } from '../support/contracts/lock-holder.ts';
import { lockerContract } from '../support/contracts/locker.ts';

lockerContract('file lock (proper-lockfile in a temp dir)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'frontendops-lock-contract-'));
  const locks = join(dir, 'locks');
  return {
    locker: createFileLocker(locks),
    holderSpec: { kind: 'file', dir: locks },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'frontendops-lockfile-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const target: DeployTarget = {
  stack: 'prod',
  artifactsBucket: 'artifacts',
  hostingBucket: 'hosting',
  stateBucket: 'artifacts',
  statePrefix: '.frontendops/state/prod/',
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:9000',
  prune: true,
};

describe('where file locks live', () => {
  it('one machine-wide directory, whatever TMPDIR, HOME or the working directory say', () => {
    const a = { TMPDIR: '/home/a/tmp', HOME: '/home/a' };
    const b = { TMPDIR: '/var/folders/xy/T', HOME: '/home/b' };
    expect(lockRoot(a, 'linux')).toBe('/tmp/frontendops-locks');
    expect(lockRoot(b, 'darwin')).toBe('/tmp/frontendops-locks');
    expect(lockDirFor(target, a)).toBe(lockDirFor(target, b));
    expect(lockRoot({ ProgramData: 'D:\\ProgramData', TEMP: 'C:\\Users\\a\\Temp' }, 'win32')).toBe(
      'D:\\ProgramData\\frontendops\\locks',
    );
    expect(lockRoot({ FRONTENDOPS_LOCK_DIR: '/srv/locks', TMPDIR: '/x' }, 'linux')).toBe('/srv/locks');
    expect(() => lockRoot({ FRONTENDOPS_LOCK_DIR: 'locks' }, 'linux')).toThrow(/must be an absolute path/);
  });

  it('the directories it creates are shared (1777) and its lock files writable by every user', async () => {
    const dir = join(tmp, 'shared', 'abc');
    const held = await createFileLocker(dir).acquire('deploy-x', { owner: 'a', ttlMs: 10_000, waitMs: 0 });
    try {
      expect((await stat(join(tmp, 'shared'))).mode & 0o7777).toBe(0o1777);
      expect((await stat(dir)).mode & 0o7777).toBe(0o1777);
      expect((await stat(join(dir, 'deploy-x.json'))).mode & 0o777).toBe(0o666);
      expect(JSON.parse(await readFile(join(dir, 'deploy-x.json'), 'utf8'))).toMatchObject({ owner: 'a' });
    } finally {
      await held.release();
    }
  });

  it('never writes through a symlink planted in the shared directory', async () => {
    const dir = join(tmp, 'planted');
    await mkdir(dir, { recursive: true });
    const victim = join(tmp, 'victim.txt');
    await writeFile(victim, 'precious');
    await symlink(victim, join(dir, 'deploy-y.json'));
    await expect(
      createFileLocker(dir).acquire('deploy-y', { owner: 'a', ttlMs: 10_000, waitMs: 0 }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/cannot be used \(ELOOP\).*no symlink/) });
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(join(dir, 'deploy-y.json'))).isSymbolicLink()).toBe(true);

    // Nor through a shared root someone replaced with a symlink to their own directory.
    await mkdir(join(tmp, 'elsewhere'));
    await symlink(join(tmp, 'elsewhere'), join(tmp, 'root-link'));
    await expect(
      createFileLocker(join(tmp, 'root-link', 'abc')).acquire('deploy-z', {
        owner: 'a',
        ttlMs: 10_000,
        waitMs: 0,
      }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/root-link cannot be used .*symlink/) });
  });
});

describe('the holder file', () => {
  it('names no one once the lock is released, so an ended process never reads as a dead holder', async () => {
    const dir = join(tmp, 'released');
    const done = await startLockHolder({ kind: 'file', dir });
    await done.acquire('deploy-r', { owner: 'a finished deploy', ttlMs: 10_000, waitMs: 0 });
    expect(await done.release()).toEqual({ ok: true });
    await done.kill();
    // The next holder has made proper-lockfile's lock directory, and not yet written its name.
    await mkdir(join(dir, 'deploy-r.json.lock'));
    await expect(
      createFileLocker(dir).acquire('deploy-r', { owner: 'b', ttlMs: 10_000, waitMs: 0 }),
    ).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining('another process') });
    expect((await stat(join(dir, 'deploy-r.json.lock'))).isDirectory()).toBe(true);
  });

  it('takes over a lock whose holder was killed before naming itself, without waiting out its ttl', async () => {
    const dir = join(tmp, 'nameless');
    const first = createFileLocker(dir);
    const held = await first.acquire('deploy-n', { owner: 'a', ttlMs: 120_000, waitMs: 0 });
    await held.release();
    // A process killed right after making the lock directory: no name written, and, dead, it
    // touches the directory no more. A minute later the next deploy takes the lock at once.
    const lockDir = join(dir, 'deploy-n.json.lock');
    await mkdir(lockDir);
    const aMinuteAgo = new Date(Date.now() - 60_000);
    await utimes(lockDir, aMinuteAgo, aMinuteAgo);
    const next = await createFileLocker(dir).acquire('deploy-n', { owner: 'b', ttlMs: 120_000, waitMs: 0 });
    expect(JSON.parse(await readFile(join(dir, 'deploy-n.json'), 'utf8'))).toMatchObject({ owner: 'b' });
    await next.release();

    // Killed a moment ago: the next deploy waits a few seconds (the holder might still name itself),
    // then takes the lock, well within its --wait and far before the lock's two-minute ttl.
    await mkdir(lockDir);
    const justBefore = new Date(Date.now() - 4_000);
    await utimes(lockDir, justBefore, justBefore);
    const started = Date.now();
    const later = await createFileLocker(dir).acquire('deploy-n', {
      owner: 'c',
      ttlMs: 120_000,
      waitMs: 10_000,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(8_000);
    await later.release();
  });
});

describe('the deploy lock name', () => {
  it('is the target’s: two stack names for one target share it; another bucket or prefix does not', () => {
    const name = deployLockName(target);
    expect(deployLockName({ ...target, stack: 'production-alias' })).toBe(name);
    expect(deployLockName({ ...target, hostingBucket: 'hosting-2' })).not.toBe(name);
    expect(deployLockName({ ...target, statePrefix: '.frontendops/state/other/' })).not.toBe(name);
  });

  it('is not the endpoint as spelt: where the lock lives tells servers apart', () => {
    const name = deployLockName(target);
    // One server, named two ways: one lock (in its state bucket, or one file lock directory).
    for (const endpoint of ['http://127.0.0.1:9000/', 'http://localhost:9000', 'http://[::1]:9000']) {
      expect(deployLockName({ ...target, endpoint })).toBe(name);
      expect(lockDirFor({ ...target, endpoint })).toBe(lockDirFor(target));
    }
    // Another server: its own state bucket, or its own file lock directory.
    expect(lockDirFor({ ...target, endpoint: 'http://127.0.0.1:9001' })).not.toBe(lockDirFor(target));
    expect(lockDirFor({ ...target, endpoint: 'http://10.0.0.5:9000' })).not.toBe(lockDirFor(target));
  });
});

describe('lock names are what every version takes', () => {
  it('the audit, deploy and approval locks are "<kind>-" and 24 hex of sha256 over what they guard, joined by "|"', () => {
    // Two versions running at once must take the same lock: the spelling is a contract, not a detail.
    const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 24);
    expect(lockName('audit', 'state-bucket', '.frontendops/state/prod/')).toBe(
      `audit-${digest('state-bucket|.frontendops/state/prod/')}`,
    );
    const target = { hostingBucket: 'h', stateBucket: 's', statePrefix: 'p/' } as DeployTarget;
    expect(deployLockName(target)).toBe(`deploy-${digest('h|s|p/')}`);
  });
});
