// Module hooks (see loaded-modules.mjs): each file URL loaded is appended to the record, and each of
// Node's built-ins loaded as an ES module (`node:http`; what require() loads does not pass here).
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const record = process.env.FRONTENDOPS_TEST_LOADED_MODULES;

export async function load(url, context, nextLoad) {
  if (record && url.startsWith('file:')) appendFileSync(record, `${fileURLToPath(url)}\n`);
  if (record && url.startsWith('node:')) appendFileSync(record, `${url}\n`);
  return nextLoad(url, context);
}
