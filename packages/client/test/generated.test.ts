import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { regentTest as test } from "@regent/testkit";
import { expect } from "vitest";

const here = new URL("..", import.meta.url).pathname;

test("src/graphql-env.d.ts is generated from the committed schema.graphql (npm run generate -w @regent/client)", ({
  tmp,
}) => {
  const out = join(tmp, "graphql-env.d.ts");
  const r = spawnSync(
    join(here, "../../node_modules/.bin/gql-tada"),
    ["generate", "output", "--tsconfig", join(here, "tsconfig.json"), "--output", out],
    {
      cwd: here,
      encoding: "utf8",
    },
  );
  expect(r.status, r.stderr).toBe(0);
  expect(readFileSync(join(here, "src/graphql-env.d.ts"), "utf8")).toBe(readFileSync(out, "utf8"));
});
