import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The SDK's notice about its future Node 22 requirement is noise in test output (see bin/frontendops.js).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts', 'infra/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        // The same build-time constant the real build injects (src/local/build-dashboard.ts).
        define: { __SOPHIA_COMMIT__: JSON.stringify('0123456789abcdef0123456789abcdef01234567') },
        test: {
          name: 'dashboard',
          include: ['apps/sophia-dashboard/src/**/*.test.{ts,tsx}'],
          environment: 'jsdom',
          setupFiles: ['apps/sophia-dashboard/src/test-setup.ts'],
        },
      },
    ],
  },
});
