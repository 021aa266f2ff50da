/**
 * A Pulumi self-managed backend URL is read once: the directory (or bucket) the state reader opens is
 * the one an MCP server hides from its answers (configuredLocations). Attack: a backend URL whose
 * directory is written so one reading differs from the other (a query string, `~`, an escape, a
 * relative path held in an environment variable) would leave the directory read named in answers.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { configuredLocations } from '../../src/hidden-words.ts';
import { parseBackendUrl } from '../../src/stacks/backend-url.ts';
import { createSource } from '../../src/stacks/resolve.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/pulumi');

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'frontendops-backend-url-'));
  for (const dir of ['state', 'my state', 'env-state']) {
    await cp(join(FIXTURES, 'file-backend'), join(work, dir), { recursive: true });
  }
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('a backend URL, as the state reader and the MCP server read it', () => {
  it('the directory the reader opens is the one hidden, however its URL is written', async () => {
    await writeFile(
      join(work, 'frontendops.config.json'),
      JSON.stringify({
        stacks: {
          query: { backend: 'file://state?no_tmp_dir=true' },
          escaped: { backend: 'file://./my%20state' },
          held: { backend: 'env:STATE_URL' },
          home: { backend: 'file://~/ops-pulumi-state' },
          bucket: { backend: 's3://ops-state-bucket/team%20a?region=eu-west-1&awssdk=v2' },
        },
      }),
    );
    const env = { STATE_URL: 'file://./env-state' };
    const config = await loadConfig(work, {});
    const hidden = configuredLocations(config, { cwd: work, env });
    // Each file:// stack is read from its directory here: that directory is what is hidden.
    for (const [stack, dir] of [
      ['query', 'state'],
      ['escaped', 'my state'],
      ['held', 'env-state'],
    ] as const) {
      const stackConfig = config.stacks[stack];
      if (!stackConfig) throw new Error(`no stack ${stack}`);
      const outputs = await createSource(stack, stackConfig, work, env).readOutputs('dashboard-hosting-prod');
      expect(outputs.outputs.hostingBucket, stack).toBe('sophia-dashboard-hosting-prod');
      expect(hidden, stack).toContain(join(work, dir));
    }
    // `~` is the home directory, as Pulumi reads it; the bucket is its name, without its query.
    expect(hidden).toContain(join(homedir(), 'ops-pulumi-state'));
    expect(hidden).toContain('ops-state-bucket');
  });
});

describe('parseBackendUrl, as Pulumi reads a backend URL', () => {
  it('an s3:// URL: its bucket, its path a folder (unescaped), region and endpoint of its query', () => {
    expect(
      parseBackendUrl(
        's3://ops-state/team%20a/prod?region=eu-west-1&awssdk=v2&endpoint=http://127.0.0.1:9',
        '/w',
      ),
    ).toEqual({
      kind: 's3',
      bucket: 'ops-state',
      prefix: 'team a/prod/',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9',
    });
    expect(parseBackendUrl('s3://ops-state?awssdk=v2', '/w')).toEqual({
      kind: 's3',
      bucket: 'ops-state',
      prefix: '',
    });
  });

  it('a file:// URL: `~` is home, the rest against the directory given, its query no part of it', () => {
    const at = (url: string) => parseBackendUrl(url, '/w', '/home/ada');
    expect(at('file://~')).toEqual({ kind: 'file', directory: '/home/ada' });
    expect(at('file://~/state?no_tmp_dir=false')).toEqual({ kind: 'file', directory: '/home/ada/state' });
    expect(at('file://./state/')).toEqual({ kind: 'file', directory: '/w/state' });
    expect(at('file:///srv/state?no_tmp_dir=true')).toEqual({ kind: 'file', directory: '/srv/state' });
    expect(at('file://~ada/state')).toEqual({ kind: 'file', directory: '/w/~ada/state' });
  });

  it('a malformed escape, or no directory, is BAD_INPUT saying what to write', () => {
    for (const url of ['file://my%zzstate', 's3://bucket/a%2', 'file://?no_tmp_dir=true']) {
      expect(() => parseBackendUrl(url, '/w'), url).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/expected|e\.g\./) }),
      );
    }
  });
});
