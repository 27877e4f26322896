import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

// A local stand-in for AWS services that speak the JSON protocol (SSM, Secrets Manager, ECS), for tests of
// code that uses the official SDK clients unchanged: every request is checked against the service's
// published API model (the JSON descriptions the aws-sdk v2 package ships) — operation, SigV4
// signature shape, required members, member names and types — and so is every answer a test hands back.
// What does not fit is recorded in `violations`, which a test expects to be empty.

const require = createRequire(import.meta.url);

interface Shape {
  readonly type?: string;
  readonly shape?: string;
  readonly required?: readonly string[];
  readonly members?: Readonly<Record<string, Shape>>;
  readonly member?: Shape;
  readonly key?: Shape;
  readonly value?: Shape;
  readonly enum?: readonly string[];
}

interface Model {
  readonly metadata: {
    readonly targetPrefix: string;
    readonly endpointPrefix: string;
    readonly signingName?: string;
    readonly jsonVersion: string;
  };
  readonly operations: Readonly<Record<string, { readonly input?: Shape; readonly output?: Shape }>>;
  readonly shapes: Readonly<Record<string, Shape>>;
}

/** An AWS service's API model by its uid (`ssm-2014-11-06`), as aws-sdk v2 publishes it. */
export function awsModel(uid: string): Model {
  return JSON.parse(readFileSync(require.resolve(`aws-sdk/apis/${uid}.min.json`), "utf8")) as Model;
}

/** What a handler throws to answer with an AWS error (`__type`), e.g. `ParameterNotFound`. */
export class AwsStubError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export type AwsHandler = (input: Record<string, unknown>) => unknown;

export interface AwsStubRequest {
  readonly service: string;
  readonly operation: string;
  readonly input: Record<string, unknown>;
}

export interface AwsStub {
  /** The endpoint to give the clients (`http://127.0.0.1:PORT`). */
  readonly url: string;
  readonly requests: AwsStubRequest[];
  /** Requests and answers that do not fit the model, as `Service.Operation: what`. */
  readonly violations: string[];
  close(): Promise<void>;
}

/** Where `value` does not fit `shape`, as messages naming the path. */
export function shapeViolations(model: Model, shape: Shape, value: unknown, path: string): string[] {
  const s: Shape = shape.shape ? { ...model.shapes[shape.shape], ...shape, shape: undefined } : shape;
  const type = s.type ?? "string";
  const problems: string[] = [];
  const kind = (want: string, ok: boolean) => {
    if (!ok) problems.push(`${path}: expected ${want}, got ${JSON.stringify(value)}`);
    return ok;
  };
  switch (type) {
    case "structure": {
      if (!kind("an object", typeof value === "object" && value !== null && !Array.isArray(value))) break;
      const object = value as Record<string, unknown>;
      for (const name of s.required ?? [])
        if (object[name] === undefined) problems.push(`${path}.${name}: required, missing`);
      for (const [name, member] of Object.entries(object)) {
        const memberShape = s.members?.[name];
        if (!memberShape) problems.push(`${path}.${name}: not a member of the model`);
        else if (member !== null && member !== undefined)
          problems.push(...shapeViolations(model, memberShape, member, `${path}.${name}`));
      }
      break;
    }
    case "list":
      if (kind("a list", Array.isArray(value)))
        (value as unknown[]).forEach((item, i) => {
          problems.push(...shapeViolations(model, s.member ?? {}, item, `${path}[${i}]`));
        });
      break;
    case "map":
      if (kind("an object", typeof value === "object" && value !== null && !Array.isArray(value)))
        for (const [k, v] of Object.entries(value as Record<string, unknown>))
          problems.push(...shapeViolations(model, s.value ?? {}, v, `${path}.${k}`));
      break;
    case "boolean":
      kind("a boolean", typeof value === "boolean");
      break;
    case "integer":
    case "long":
      kind("an integer", Number.isInteger(value));
      break;
    case "float":
    case "double":
      kind("a number", typeof value === "number");
      break;
    case "timestamp":
      kind("epoch seconds", typeof value === "number");
      break;
    case "blob":
      kind("base64 text", typeof value === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(value));
      break;
    default:
      if (kind("a string", typeof value === "string") && s.enum && !s.enum.includes(value as string))
        problems.push(`${path}: ${JSON.stringify(value)} is not one of ${s.enum.join(", ")}`);
  }
  return problems;
}

const body = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });

/**
 * Starts the stand-in on a free loopback port, serving the given services (by model uid) with the given
 * handlers per operation; an operation without a handler answers `UnknownOperationException`.
 */
export async function startAwsStub(
  services: Readonly<Record<string, Readonly<Record<string, AwsHandler>>>>,
): Promise<AwsStub> {
  const byTarget = new Map(
    Object.entries(services).map(([uid, handlers]) => {
      const model = awsModel(uid);
      return [model.metadata.targetPrefix, { uid, model, handlers }] as const;
    }),
  );
  const requests: AwsStubRequest[] = [];
  const violations: string[] = [];
  const server = createServer(async (req, res) => {
    const answer = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify(payload));
    };
    const target = String(req.headers["x-amz-target"] ?? "");
    const [prefix, operation = ""] = target.split(".");
    const service = byTarget.get(prefix ?? "");
    const text = await body(req);
    if (!service) {
      violations.push(`unknown X-Amz-Target "${target}"`);
      return answer(400, { __type: "UnknownOperationException", message: target });
    }
    const name = `${service.uid}.${operation}`;
    const op = service.model.operations[operation];
    const problems: string[] = [];
    if (req.method !== "POST" || req.url !== "/") problems.push(`${req.method} ${req.url}: expected POST /`);
    const contentType = `application/x-amz-json-${service.model.metadata.jsonVersion}`;
    if (req.headers["content-type"] !== contentType)
      problems.push(`content-type ${req.headers["content-type"]}: expected ${contentType}`);
    const signing = service.model.metadata.signingName ?? service.model.metadata.endpointPrefix;
    const sigv4 = new RegExp(
      `^AWS4-HMAC-SHA256 Credential=[^/]+/\\d{8}/[a-z0-9-]+/${signing}/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`,
    );
    if (!sigv4.test(String(req.headers.authorization ?? "")))
      problems.push(`Authorization "${req.headers.authorization}": not a SigV4 signature for ${signing}`);
    if (!req.headers["x-amz-date"]) problems.push("X-Amz-Date missing");
    let input: Record<string, unknown> = {};
    try {
      input = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      problems.push("the body is not JSON");
    }
    if (!op) problems.push("not an operation of the model");
    else problems.push(...shapeViolations(service.model, op.input ?? { type: "structure" }, input, "input"));
    requests.push({ service: service.uid, operation, input });
    if (problems.length) {
      violations.push(...problems.map((p) => `${name}: ${p}`));
      return answer(400, { __type: "ValidationException", message: problems.join("; ") });
    }
    const handler = service.handlers[operation];
    if (!handler)
      return answer(400, { __type: "UnknownOperationException", message: `${name} is not stubbed` });
    try {
      const output = (await handler(input)) ?? {};
      const outProblems = shapeViolations(
        service.model,
        op!.output ?? { type: "structure" },
        output,
        "output",
      );
      violations.push(...outProblems.map((p) => `${name} (the stub's answer): ${p}`));
      answer(200, output);
    } catch (error) {
      if (error instanceof AwsStubError) answer(error.status, { __type: error.type, message: error.message });
      else answer(500, { __type: "InternalServerError", message: String(error) });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    violations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
