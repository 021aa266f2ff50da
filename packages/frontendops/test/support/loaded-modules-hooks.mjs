// Module hooks (see loaded-modules.mjs): each file URL loaded is appended to the record.
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const record = process.env.FRONTENDOPS_TEST_LOADED_MODULES;

export async function load(url, context, nextLoad) {
  if (record && url.startsWith('file:')) appendFileSync(record, `${fileURLToPath(url)}\n`);
  return nextLoad(url, context);
}
