import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'frontendops',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/cleanup.ts'],
    // The SDK's notice about its future Node 22 requirement is noise in test output (see bin/frontendops.js).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
