import { describe, expect, test } from "vitest";
import { portablePath } from "./portable-path.js";

describe("portablePath", () => {
  test.for([
    ["/repo/flows/hello.ts", "/repo/flows", "hello.ts"],
    ["/repo/flows/lib/db.ts", "/repo/flows", "lib/db.ts"],
    ["/repo/flows/node_modules/zod/index.js", "/repo/flows", "node_modules/zod/index.js"],
    ["/repo/node_modules/zod/v4/core/core.js", "/repo/flows", "node_modules/zod/v4/core/core.js"],
    ["/elsewhere/node_modules/a/node_modules/b/i.js", "/repo", "node_modules/a/node_modules/b/i.js"],
    [
      "/repo/node_modules/.pnpm/zod@4.6.7/node_modules/zod/index.js",
      "/repo/flows",
      "node_modules/.pnpm/zod@4.6.7/node_modules/zod/index.js",
    ],
    ["/repo/shared/util.ts", "/repo/flows", "../shared/util.ts"],
  ] as const)("%s from %s is %s", ([file, root, expected]) => {
    expect(portablePath(file, root)).toBe(expected);
  });
});
