/**
 * The peer: the seed's deploy, `aws s3 sync s3://<artifacts>/<prefix> s3://<hosting> --delete`, run
 * through the real AWS CLI against the embedded S3 server. The CLI reads a private config file
 * (path-style addressing, which the local endpoint needs) and the run's credentials from
 * its environment; nothing of the user's own AWS configuration is read.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Measured, measure } from './proc.ts';

export interface SyncResult {
  /** Objects the CLI reported copying ("copy: …" lines). */
  copied: number;
  /** Objects the CLI reported deleting ("delete: …" lines). */
  deleted: number;
  peakRssMb: number | null;
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
  const aws = async (args: string[]): Promise<Measured> => {
    const run = await measure('aws', args, { env });
    if (run.code !== 0)
      throw new Error(`aws ${args.slice(0, 2).join(' ')} exited ${run.code}: ${run.stderr}`);
    return run;
  };
  const printed = await aws(['--version']);
  const version = (printed.stdout || printed.stderr).trim() || 'unknown';
  return {
    version,
    async sync(source, destination) {
      // --no-progress only drops the progress lines a terminal would show; the work is the seed's.
      const run = await aws([
        's3',
        'sync',
        source,
        destination,
        '--delete',
        '--no-progress',
        '--endpoint-url',
        endpoint,
      ]);
      const lines = run.stdout.split('\n');
      return {
        copied: lines.filter((l) => l.startsWith('copy:')).length,
        deleted: lines.filter((l) => l.startsWith('delete:')).length,
        peakRssMb: run.peakRssMb,
      };
    },
    async measureStartup() {
      return (await aws(['--version'])).ms;
    },
  };
}
