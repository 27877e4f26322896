import { describe, expect, test } from "vitest";
import {
  type Access,
  isLoopbackHost,
  keysRequired,
  looksLikeApiKey,
  type Scope,
  scopeAllows,
  scopesGranting,
} from "./auth.js";

describe("scopeAllows", () => {
  const table: Array<[Scope, Access, boolean]> = [
    ["admin", "admin", true],
    ["admin", "manage", true],
    ["admin", "agent", true],
    ["admin", "run", true],
    ["admin", "read", true],
    ["user", "admin", false],
    ["user", "manage", true],
    ["user", "agent", false],
    ["user", "run", true],
    ["user", "read", true],
    ["runner", "admin", false],
    ["runner", "manage", false],
    ["runner", "agent", true],
    ["runner", "run", true],
    ["runner", "read", true],
  ];
  test.for(table)("%s key, %s access → %s", ([scope, access, want]) => {
    expect(scopeAllows(scope, access)).toBe(want);
  });

  test("scopesGranting lists the scopes in order", () => {
    expect(scopesGranting("admin")).toEqual(["admin"]);
    expect(scopesGranting("manage")).toEqual(["admin", "user"]);
    expect(scopesGranting("agent")).toEqual(["admin", "runner"]);
  });
});

describe("isLoopbackHost", () => {
  test.for([
    ["127.0.0.1", true],
    ["127.3.2.1", true],
    ["localhost", true],
    ["::1", true],
    ["[::1]", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.5", false],
    ["regent.internal", false],
    ["127.0.0.1.example.com", false],
  ] as const)("%s → %s", ([host, want]) => {
    expect(isLoopbackHost(host)).toBe(want);
  });
});

describe("keysRequired", () => {
  test.for([
    { host: "127.0.0.1", setting: "auto", insecureNoAuth: false, want: false },
    { host: "0.0.0.0", setting: "auto", insecureNoAuth: false, want: true },
    { host: "0.0.0.0", setting: "auto", insecureNoAuth: true, want: false },
    { host: "127.0.0.1", setting: "required", insecureNoAuth: false, want: true },
    { host: "10.1.2.3", setting: "required", insecureNoAuth: true, want: false },
    { host: "::1", setting: "auto", insecureNoAuth: false, want: false },
  ] as const)("$host, $setting, insecure $insecureNoAuth → $want", ({ want, ...options }) => {
    expect(keysRequired(options)).toBe(want);
  });
});

describe("looksLikeApiKey", () => {
  test.for([
    [`rgt_${"a".repeat(43)}`, true],
    [`rgt_${"A-_9".repeat(11)}`, true],
    ["rgt_short", false],
    [`xyz_${"a".repeat(43)}`, false],
    [`rgt_${"a".repeat(40)} `, false],
    ["", false],
  ] as const)("%s → %s", ([text, want]) => {
    expect(looksLikeApiKey(text)).toBe(want);
  });
});
