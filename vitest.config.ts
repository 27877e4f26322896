import { defineConfig } from "vitest/config";

// Tests run against each package's TypeScript source through the "@regent/source" export condition;
// end-to-end tests spawn the built CLI, so `npm test` builds first.
export default defineConfig({
  resolve: {
    conditions: ["@regent/source"],
    // graphql-js ships CommonJS (main) and ESM (module); Node loads the former for its dependants
    // (Pothos, yoga), so the tests must too, or two copies of its classes meet ("another realm").
    alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }],
  },
  ssr: { resolve: { conditions: ["@regent/source"] } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/src/**/*.test.tsx",
      "packages/*/test/**/*.test.ts",
      "examples/**/*.test.ts",
      "deploy/*/test/**/*.test.ts",
    ],
    // Once per run: the run's temporary folder and PostgreSQL's migrated template database (testkit README).
    globalSetup: ["packages/testkit/src/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
