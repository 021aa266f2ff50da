import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'frontendops',
    include: ['test/**/*.test.ts'],
    // Fixture test files run only inside other tests (test/hygiene.test.ts), never in the suite.
    exclude: [...configDefaults.exclude, 'test/fixtures/**'],
    environment: 'node',
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/cleanup.ts'],
    // The SDK's notice about its future Node 22 requirement is noise in test output (see bin/frontendops.js).
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // The key the infra and git servers share for deployment receipts (src/mcp/receipts.ts): given,
      // so that no test makes one in the user's config directory. test/support/receipts.ts signs with it.
      FRONTENDOPS_RECEIPT_KEY: 'test-receipt-key-0123456789abcdef0123456789',
    },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A polled condition (a page updating, a server coming up) waits longer than the 1 s default: the
    // suite runs two files at once on two cores, and a busy machine is slow, not wrong.
    expect: { poll: { timeout: 10_000 } },
  },
});
