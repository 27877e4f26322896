import { type AwsStub, AwsStubError, startAwsStub } from "@regent/testkit/aws-stub";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type EngineEvent, flow, memoryReporter } from "../src/index.js";

// ctx.secret("ssm:…") and ("secretsmanager:…") through the official AWS clients, unchanged, against a
// local stand-in that checks each request against the services' published API models.

let aws: AwsStub;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startAwsStub({
    "ssm-2014-11-06": {
      GetParameter: (input) => {
        if (input.Name !== "/prod/db/password") throw new AwsStubError("ParameterNotFound", "");
        return {
          Parameter: {
            Name: input.Name,
            Type: "SecureString",
            // What SSM answers depends on WithDecryption; the client must ask for it.
            Value: input.WithDecryption ? "ssm-s3cret-value" : "AQICAHencrypted",
            Version: 3,
          },
        };
      },
    },
    "secretsmanager-2017-10-17": {
      GetSecretValue: (input) => {
        if (input.SecretId === "prod/warehouse")
          return {
            Name: "prod/warehouse",
            SecretString: JSON.stringify({ user: "loader", password: "wh-pa55word" }),
          };
        if (input.SecretId === "prod/plain") return { Name: "prod/plain", SecretString: "plain-s3cret" };
        throw new AwsStubError(
          "ResourceNotFoundException",
          "Secrets Manager can't find the specified secret.",
        );
      },
    },
  });
  Object.assign(process.env, {
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    AWS_ENDPOINT_URL_SSM: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
  });
});

afterAll(async () => {
  process.env = saved;
  await aws.close();
});

const logs = (events: readonly EngineEvent[]) =>
  events.flatMap((e) => (e.type === "log" ? [e.log.message] : []));

test("ssm: and secretsmanager: references are read through the AWS clients and masked", async () => {
  const reporter = memoryReporter();
  const r = await flow({ name: "aws-secrets" }, async (_p, ctx) => {
    const db = await ctx.secret("ssm:/prod/db/password");
    const warehouse = await ctx.secret("secretsmanager:prod/warehouse#password");
    const plain = await ctx.secret("secretsmanager:prod/plain");
    ctx.log.info(`db=${db} warehouse=${warehouse} plain=${plain}`);
    return [db, warehouse, plain];
  }).run(undefined, { reporter });

  expect(r.state.type).toBe("Success");
  expect(r.result).toEqual(["ssm-s3cret-value", "wh-pa55word", "plain-s3cret"]);
  expect(logs(reporter.events)).toContain("db=*** warehouse=*** plain=***");
  expect(aws.requests.map((q) => `${q.service} ${q.operation} ${JSON.stringify(q.input)}`)).toEqual([
    `ssm-2014-11-06 GetParameter {"Name":"/prod/db/password","WithDecryption":true}`,
    `secretsmanager-2017-10-17 GetSecretValue {"SecretId":"prod/warehouse"}`,
    `secretsmanager-2017-10-17 GetSecretValue {"SecretId":"prod/plain"}`,
  ]);
  expect(aws.violations).toEqual([]);
});

test("a parameter or secret that AWS does not have is SECRET_NOT_FOUND, naming it", async () => {
  const missing = await flow({ name: "aws-missing" }, async (_p, ctx) => ctx.secret("ssm:/nope")).run();
  expect(missing.state.message).toMatch(/secret "ssm:\/nope" not found: AWS SSM has no parameter \/nope/);
  const sm = await flow({ name: "aws-missing-sm" }, async (_p, ctx) =>
    ctx.secret("secretsmanager:nope"),
  ).run();
  expect(sm.state.message).toMatch(/AWS Secrets Manager has no secret nope/);
  const key = await flow({ name: "aws-missing-key" }, async (_p, ctx) =>
    ctx.secret("secretsmanager:prod/warehouse#host"),
  ).run();
  expect(key.state.message).toMatch(/the secret prod\/warehouse has no string under host/);
  expect(aws.violations).toEqual([]);
});

test("the stand-in catches requests that do not fit the model (so the tests above could fail)", async () => {
  const before = aws.violations.length;
  const res = await fetch(aws.url, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AmazonSSM.GetParameter" },
    body: JSON.stringify({ Nme: "/x", WithDecryption: "yes" }),
  });
  expect(res.status).toBe(400);
  expect(aws.violations.slice(before)).toEqual([
    expect.stringMatching(/Authorization "undefined": not a SigV4 signature for ssm/),
    "ssm-2014-11-06.GetParameter: X-Amz-Date missing",
    "ssm-2014-11-06.GetParameter: input.Name: required, missing",
    "ssm-2014-11-06.GetParameter: input.Nme: not a member of the model",
    'ssm-2014-11-06.GetParameter: input.WithDecryption: expected a boolean, got "yes"',
  ]);
  aws.violations.splice(before);
});
