// Loaded with `node --import <this file>`: records the path of every file module the process loads,
// one per line, in the file FRONTENDOPS_TEST_LOADED_MODULES names (test/cli/loading.test.ts).
import { register } from 'node:module';

register('./loaded-modules-hooks.mjs', import.meta.url);
