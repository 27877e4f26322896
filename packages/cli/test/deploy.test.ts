import { readFileSync } from "node:fs";
import { type RegentFixtures, regentTest as test } from "@regent/testkit";
import { describe, expect } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { loadConfig } from "../src/config.js";

// deploy/docker-compose.yml cannot be brought up here (its PostgreSQL image would be pulled from the
// internet), so what it asks of Regent is checked instead: the runtime image it names is the one
// deploy/docker/build-runtime.mjs builds for this version, each command and flag it runs exists, and
// its Regent environment is valid configuration. The server and Docker agent it runs are tested for
// real in docker.test.ts.

const root = new URL("../../../", import.meta.url);
const compose = parse(readFileSync(new URL("deploy/docker-compose.yml", root), "utf8")) as {
  services: Record<string, { image: string; command?: string[]; environment?: Record<string, string> }>;
};
const { version } = JSON.parse(readFileSync(new URL("packages/cli/package.json", root), "utf8")) as {
  version: string;
};
/** `regent …` as a deployment runs it: each subcommand answers `--help`, which names each flag given. */
async function expectCommandExists(cli: RegentFixtures["cli"], command: readonly string[]): Promise<void> {
  const args = command.slice(1);
  const words = args.filter((a, i) => !a.startsWith("-") && !args[i - 1]?.startsWith("--"));
  const help = await cli([...words, "--help"]);
  expect(help.code, help.stderr).toBe(0);
  for (const flag of args.filter((a) => a.startsWith("--"))) expect(help.stdout).toContain(flag);
}

const regentServices = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === "regent");

describe("deploy/docker-compose.yml", () => {
  test("runs a server and a Docker agent from this version's runtime image", () => {
    expect(regentServices.map(([name]) => name).sort()).toEqual(["agent", "server"]);
    for (const [, service] of regentServices)
      expect(service.image).toBe(`\${REGENT_IMAGE:-regent/runtime:${version}}`);
    const build = readFileSync(new URL("deploy/docker/build-runtime.mjs", root), "utf8");
    expect(build).toMatch(/tag: \{ type: "string", default: `regent\/runtime:\$\{version\}` \}/);
  });

  test.for(regentServices)("%s: its command and flags exist", async ([, service], { cli }) => {
    await expectCommandExists(cli, service.command!);
  });

  test.for(regentServices)("%s: its Regent environment is valid configuration", ([, service]) => {
    const env = Object.fromEntries(
      Object.entries(service.environment ?? {})
        .filter(([k]) => k.startsWith("REGENT__"))
        // Compose fills these in from deploy/.env; any value of the right shape stands in here.
        .map(([k, v]) => [k, v.replace(/\$\{[^}]*\}/g, k.endsWith("SECRETS_KEY") ? "A".repeat(44) : "x")]),
    );
    expect(Object.keys(env).length).toBeGreaterThan(0);
    expect(() => loadConfig({ file: "/nonexistent/config.toml", env })).not.toThrow();
  });
});

// deploy/kubernetes/: the Regent containers of its Deployments, checked the same way (their schema is
// checked in the agent's tests).
const kubernetesContainers = ["server.yaml", "agent.yaml"].flatMap((file) =>
  parseAllDocuments(readFileSync(new URL(`deploy/kubernetes/${file}`, root), "utf8"))
    .map(
      (d) => d.toJS() as { kind: string; spec?: { template?: { spec?: { containers?: K8sContainer[] } } } },
    )
    .filter((m) => m.kind === "Deployment")
    .flatMap((m) => m.spec?.template?.spec?.containers ?? [])
    .map((c) => [`${file}: ${c.name}`, c] as const),
);

interface K8sContainer {
  name: string;
  image: string;
  command: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
}

describe("deploy/kubernetes", () => {
  test("runs the server and the Kubernetes agent from this version's runtime image", () => {
    expect(kubernetesContainers.map(([name]) => name)).toEqual(["server.yaml: server", "agent.yaml: agent"]);
    for (const [, c] of kubernetesContainers)
      expect(c.image).toMatch(new RegExp(`/regent/runtime:${version}$`));
  });

  test.for(kubernetesContainers)("%s: its command and flags exist", async ([, c], { cli }) => {
    await expectCommandExists(cli, c.command);
  });

  test.for(kubernetesContainers)("%s: its Regent environment is valid configuration", ([, c]) => {
    const env = Object.fromEntries(
      (c.env ?? [])
        .filter((e) => e.name.startsWith("REGENT__"))
        // Values from secrets: any value of the right shape stands in.
        .map((e) => [e.name, e.value ?? (e.name.endsWith("SECRETS_KEY") ? "A".repeat(44) : "x")]),
    );
    expect(() => loadConfig({ file: "/nonexistent/config.toml", env })).not.toThrow();
  });
});
