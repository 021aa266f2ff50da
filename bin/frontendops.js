#!/usr/bin/env node
// The CLI runs from TypeScript sources through tsx: no build step between `npm ci` and `npm start`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
