/**
 * The console's configuration reader under overlapping reads: a read of the file as it was before an
 * edit that answers after a later read must not put the older configuration back.
 */
import { expect, it } from 'vitest';
import { type Config, configSchema } from '../../src/config.ts';
import { createConfigReader } from '../../src/console/config-reader.ts';

const unprotected = configSchema.parse({ protected: [] }) as Config;
const isProtected = configSchema.parse({ protected: ['dashboard-staging'] }) as Config;

it('a slower read that started before an edit does not replace what a later read found', async () => {
  const answers: Array<(config: Config) => void> = [];
  const read = createConfigReader(unprotected, () => new Promise<Config>((resolve) => answers.push(resolve)));
  const before = read(); // started before the edit; its answer comes last
  const after = read(); // started after it
  answers[1]?.(isProtected);
  expect((await after).protected).toEqual(['dashboard-staging']);
  answers[0]?.(unprotected);
  expect((await before).protected).toEqual(['dashboard-staging']);
  // And the next read keeps it while the file says so.
  const next = read();
  answers[2]?.(isProtected);
  expect((await next).protected).toEqual(['dashboard-staging']);
});
