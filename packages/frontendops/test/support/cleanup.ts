/**
 * Loaded before every test file: whatever the file started is killed when it ends, however it ends,
 * and process.env is put back as the file found it, so one file's variables (say, the credentials of
 * an S3 server it has stopped) never reach another that runs in the same worker.
 */
import { afterAll } from 'vitest';
import { killAllTracked } from './processes.ts';

const envAtStart = { ...process.env };

afterAll(async () => {
  await killAllTracked();
  for (const key of Object.keys(process.env)) {
    if (!(key in envAtStart)) delete process.env[key];
  }
  Object.assign(process.env, envAtStart);
});
