/**
 * The peer: the seed's deploy, `aws s3 sync s3://<artifacts>/<prefix> s3://<hosting> --delete`, run
 * through the real AWS CLI against the embedded S3 server. The CLI reads a private config file
 * (path-style addressing, which the local endpoint needs) and the server's fixed credentials from
 * its environment; nothing of the user's own AWS configuration is read.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SyncResult {
  /** Objects the CLI reported copying ("copy: …" lines). */
  copied: number;
  /** Objects the CLI reported deleting ("delete: …" lines). */
  deleted: number;
}

export interface AwsCli {
  version: string;
  sync(source: string, destination: string): Promise<SyncResult>;
  /** Wall time of a bare `aws --version`: the CLI's start-up cost, included in every sync. */
  measureStartup(): Promise<number>;
}

export async function prepareAwsCli(
  dir: string,
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<AwsCli> {
  await mkdir(dir, { recursive: true });
  const configFile = join(dir, 'config');
  await writeFile(configFile, '[default]\ns3 =\n  addressing_style = path\n');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    // No checksum settings are needed: sync between buckets sends no bodies (CopyObject, List,
    // DeleteObject), so the CLI runs with its defaults.
  };
  const aws = (args: string[]) => run('aws', args, { env, maxBuffer: 64 * 1024 * 1024 });
  const printed = await aws(['--version']);
  const version = (printed.stdout || printed.stderr).trim() || 'unknown';
  return {
    version,
    async sync(source, destination) {
      // --no-progress only drops the progress lines a terminal would show; the work is the seed's.
      const { stdout } = await aws([
        's3',
        'sync',
        source,
        destination,
        '--delete',
        '--no-progress',
        '--endpoint-url',
        endpoint,
      ]);
      const lines = stdout.split('\n');
      return {
        copied: lines.filter((l) => l.startsWith('copy:')).length,
        deleted: lines.filter((l) => l.startsWith('delete:')).length,
      };
    },
    async measureStartup() {
      const started = performance.now();
      await aws(['--version']);
      return performance.now() - started;
    },
  };
}
