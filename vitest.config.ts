import { defineConfig } from "vitest/config";

// Tests run against each package's TypeScript source through the "@regent/source" export condition;
// end-to-end tests spawn the built CLI, so `npm test` builds first.
export default defineConfig({
  resolve: { conditions: ["@regent/source"] },
  ssr: { resolve: { conditions: ["@regent/source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
