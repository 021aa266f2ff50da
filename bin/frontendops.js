#!/usr/bin/env node
// The CLI runs from TypeScript sources through tsx: no build step between `npm ci` and `npm start`.
import { register } from 'tsx/esm/api';

// The SDK's notice about its future Node 22 requirement is for us (the maintainers), not for operators.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
await import('../src/cli/main.ts');
