import { describe, expect, test } from "vitest";
import { looksSensitive, maskSecrets, parseSecretRef, redactSensitive, type SecretRef } from "./secrets.js";

describe("parseSecretRef", () => {
  const good: Array<[string, SecretRef]> = [
    ["DB_PASSWORD", { source: "store", name: "DB_PASSWORD" }],
    ["warehouse.token-2", { source: "store", name: "warehouse.token-2" }],
    ["env:HOME", { source: "env", name: "HOME" }],
    ["ssm:/prod/db/password", { source: "ssm", name: "/prod/db/password" }],
    ["secretsmanager:prod/db", { source: "secretsmanager", name: "prod/db", jsonKey: undefined }],
    ["secretsmanager:prod/db#password", { source: "secretsmanager", name: "prod/db", jsonKey: "password" }],
    [
      "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
      {
        source: "secretsmanager",
        name: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
        jsonKey: undefined,
      },
    ],
  ];
  test.for(good)("%s", ([ref, want]) => {
    expect(parseSecretRef(ref)).toEqual(want);
  });

  const bad: Array<[string, RegExp]> = [
    ["", /a name is letters/],
    ["1PASSWORD", /a name is letters/],
    ["has space", /a name is letters/],
    ["env:", /not an environment variable name/],
    ["env:A-B", /not an environment variable name/],
    ["ssm:", /not an SSM parameter name/],
    ["secretsmanager:db#", /nothing after #/],
    ["vault:kv/db", /unknown source "vault"/],
  ];
  test.for(bad)("%s is refused", ([ref, why]) => {
    expect(() => parseSecretRef(ref)).toThrow(why);
    expect(() => parseSecretRef(ref)).toThrow(/write NAME \(the server's store\), env:NAME, ssm:\/path/);
  });
});

describe("maskSecrets", () => {
  const table: Array<[string, string[], string]> = [
    ["password is hunter22", ["hunter22"], "password is ***"],
    ["hunter22hunter22", ["hunter22"], "******"],
    ["a longer s3cr3t-value and s3cr3t", ["s3cr3t", "s3cr3t-value"], "a longer *** and ***"],
    ["nothing here", ["hunter22"], "nothing here"],
    ["yes or no", ["yes"], "yes or no"], // too short to be a secret worth masking
    ["", ["hunter22"], ""],
  ];
  test.for(table)("%s", ([text, values, want]) => {
    expect(maskSecrets(text, values)).toBe(want);
  });
});

describe("looksSensitive", () => {
  const table: Array<[string, boolean]> = [
    ["DB_PASSWORD", true],
    ["PGPASSWORD", true],
    ["passwd", true],
    ["apiToken", true],
    ["GITHUB_TOKEN", true],
    ["AWS_SECRET_ACCESS_KEY", true],
    ["AWS_ACCESS_KEY_ID", true],
    ["API_KEY", true],
    ["apikey", true],
    ["PRIVATE_KEY", true],
    ["GOOGLE_APPLICATION_CREDENTIALS", true],
    ["BASIC_AUTH", true],
    ["REGION", false],
    ["GREETING_STYLE", false],
    ["PASSENGER_COUNT", false],
    ["KEYBOARD", false],
    ["image", false],
  ];
  test.for(table)("%s → %s", ([name, want]) => {
    expect(looksSensitive(name)).toBe(want);
  });
});

describe("redactSensitive", () => {
  test("masks string values under sensitive names, at any depth, and leaves the rest", () => {
    expect(
      redactSensitive({
        type: "local",
        env: { DB_PASSWORD: "hunter2", REGION: "eu" },
        nested: [{ apiToken: "t0k3n", count: 3 }],
        cpu: 2,
      }),
    ).toEqual({
      type: "local",
      env: { DB_PASSWORD: "***", REGION: "eu" },
      nested: [{ apiToken: "***", count: 3 }],
      cpu: 2,
    });
    expect(redactSensitive(null)).toBeNull();
    expect(redactSensitive("PASSWORD")).toBe("PASSWORD");
  });
});
