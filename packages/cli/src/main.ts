import { InvalidUsageError, RegentError } from "@regent/core";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { EcsAgentFlags } from "./commands/agent-ecs.js";
import type { KubernetesAgentFlags } from "./commands/agent-kubernetes.js";
import type { RegisterOptions } from "./commands/register.js";
import type { WorkerFlags } from "./commands/worker.js";
import { EXIT, exitCodeFor } from "./exit.js";
import { stylerFor } from "./style.js";
import { VERSION } from "./version.js";

const collect = (value: string, previous: string[]) => [...previous, value];

export function buildProgram(): Command {
  const program = new Command("regent")
    .description("Regent: write flows in TypeScript, run them locally or on your infrastructure.")
    .version(VERSION, "-v, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  program
    .command("run")
    .description("Run a flow: a file here and now (no server), or a registered flow on the server (--name)")
    .argument("[file]", "a .ts or .js file whose default export is a flow (local run)")
    .option(
      "-p, --param <key=value>",
      "a parameter (repeatable); strings verbatim, other types as JSON",
      collect,
      [],
    )
    .option("--params-json <json>", "all parameters as one JSON object (--param values win)")
    .option("-n, --name <flow>", "run the registered flow of this name on the server (with --project)")
    .option("--project <name>", "the project of --name")
    .option(
      "-l, --label <label>",
      "labels of the server-side run, overriding the flow's (repeatable)",
      collect,
      [],
    )
    .option(
      "--timeout <duration>",
      "the run's maximum duration (\"2h\"), over the flow's timeout: past it the run ends TimedOut",
    )
    .option(
      "--run-config <json>",
      "the server-side run's run config overrides, as JSON over the flow's (e.g. '{\"memory\": 4096}')",
    )
    .option(
      "-w, --watch",
      "follow the server-side run's states and logs until it ends; exit with its outcome",
    )
    .addOption(new Option("--json", "print the run's outcome as JSON on stdout (progress goes to stderr)"))
    .addHelpText(
      "after",
      "\nExamples:\n  regent run flows/hello.ts --param name=Ada\n  regent run flows/etl.ts --params-json '{\"rows\": 100}' --json\n  regent run --name hello --project demo --param name=Ada --watch\n  regent run --name etl --project demo --run-config '{\"memory\": 4096}' --watch",
    )
    .action(
      async (
        file: string | undefined,
        options: {
          param: string[];
          paramsJson?: string;
          json?: boolean;
          name?: string;
          project?: string;
          label: string[];
          timeout?: string;
          runConfig?: string;
          watch?: boolean;
        },
      ) => {
        if (options.name) {
          if (file)
            throw new InvalidUsageError(
              "give either a file (local run) or --name (a run on the server), not both",
            );
          if (!options.project) throw new InvalidUsageError("--name needs --project");
          const { runRemote } = await import("./commands/run-remote.js");
          process.exitCode = await runRemote(await config(), {
            ...options,
            name: options.name,
            project: options.project,
          });
          return;
        }
        if (!file)
          throw new InvalidUsageError(
            "regent run needs a flow file, or --name and --project for a registered flow",
          );
        if (options.runConfig)
          throw new InvalidUsageError("--run-config goes with --name (a run on the server)");
        // Loaded on demand, so `regent --help` does not pay for the engine and the bundler.
        const { runLocal } = await import("./commands/run-local.js");
        process.exitCode = await runLocal(file, options);
      },
    );

  program
    .option("--config <file>", "configuration file (default ~/.regent/config.toml)")
    .option("--api <url>", "the Regent API to talk to (default http://127.0.0.1:4200)")
    .option("--profile <name>", "use this profile of the config file (see regent profile)");

  const config = async (flags: Record<string, unknown> = {}) => {
    const { loadConfig } = await import("./config.js");
    const globals = program.opts<{ config?: string; api?: string; profile?: string }>();
    return loadConfig({
      file: globals.config,
      flags: { api: globals.api, profile: globals.profile, ...flags },
    });
  };

  const server = program.command("server").description("The Regent server: GraphQL API, database, UI");
  server
    .command("start")
    .description("Start the server (embedded SQLite by default; --db postgres://… for PostgreSQL)")
    .option("--db <url>", "database: postgres://… or a SQLite file (default ~/.regent/regent.db)")
    .option("--host <host>", "address to listen on (default 127.0.0.1)")
    .option("--port <port>", "port (default 4200)", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535)
        throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
      return n;
    })
    .option(
      "--insecure-no-auth",
      "serve without API keys on any address: anyone who can reach it can run code (default: keys are required unless listening on loopback only)",
    )
    .action(async (options: { db?: string; host?: string; port?: number; insecureNoAuth?: boolean }) => {
      const { serverStart } = await import("./commands/server-start.js");
      const cfg = await config({
        "server.db": options.db,
        "server.host": options.host,
        "server.port": options.port,
        "server.insecure_no_auth": options.insecureNoAuth,
      });
      process.exitCode = await serverStart(cfg, VERSION);
    });

  const secret = program
    .command("secret")
    .description("Secrets for flows (ctx.secret): set, list, delete; values are encrypted and never shown")
    .addHelpText(
      "after",
      '\nExamples:\n  printf %s "$DB_PASSWORD" | regent secret set DB_PASSWORD\n  regent secret set GCP_KEY --from-file key.json\n  regent secret list\n  regent secret delete DB_PASSWORD',
    );
  secret
    .command("set")
    .description("Create or replace a secret; the value comes from standard input or --from-file")
    .argument("<name>", "letters, digits and _ . -, starting with a letter")
    .option("--from-file <path>", "read the value from this file (whole, as it is)")
    .option("--json", "print JSON")
    .action(async (name: string, options: { fromFile?: string; json?: boolean }) => {
      const { setSecret } = await import("./commands/secret.js");
      process.exitCode = await setSecret(await config(), name, options);
    });
  secret
    .command("list")
    .description("List secrets by name (never their values)")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }) => {
      const { listSecrets } = await import("./commands/secret.js");
      process.exitCode = await listSecrets(await config(), options);
    });
  secret
    .command("delete")
    .description("Delete a secret")
    .argument("<name>")
    .option("--json", "print JSON")
    .action(async (name: string, options: { json?: boolean }) => {
      const { deleteSecret } = await import("./commands/secret.js");
      process.exitCode = await deleteSecret(await config(), name, options);
    });

  const auth = program
    .command("auth")
    .description("API keys: create, list and revoke them; log the CLI in with one")
    .addHelpText(
      "after",
      "\nExamples:\n  regent auth create-key --name admin --scope admin --db ~/.regent/regent.db   # the first key, from the database\n  regent auth login --key rgt_… --api https://regent.example.com\n  regent auth create-key --name ci --scope user --expires 90d\n  regent auth revoke-key ci",
    );
  const dbOption = () =>
    new Option("--db <url>", "work on this database directly instead of through the API (the first key)");
  auth
    .command("create-key")
    .description("Create an API key; it is printed once")
    .requiredOption("--name <name>", "a name to tell the key by")
    .requiredOption("--scope <scope>", "admin (everything), user (projects, flows, runs) or runner (agents)")
    .option("--expires <duration>", "expire after this long (30d, 12h); default never")
    .addOption(dbOption())
    .option("--json", "print JSON")
    .action(async (options) => {
      const { createKey } = await import("./commands/auth.js");
      process.exitCode = await createKey(await config(), options);
    });
  auth
    .command("list-keys")
    .description("List API keys (never their secrets)")
    .addOption(dbOption())
    .option("--json", "print JSON")
    .action(async (options) => {
      const { listKeys } = await import("./commands/auth.js");
      process.exitCode = await listKeys(await config(), options);
    });
  auth
    .command("revoke-key")
    .description("Revoke an API key by id or name")
    .argument("<key>", "the key's id or name")
    .addOption(dbOption())
    .option("--json", "print JSON")
    .action(async (idOrName: string, options) => {
      const { revokeKey } = await import("./commands/auth.js");
      process.exitCode = await revokeKey(await config(), idOrName, options);
    });
  auth
    .command("login")
    .description("Check an API key against the server and save it (and --api) in the config file (mode 0600)")
    .requiredOption("--key <key>", "the API key")
    .option("--json", "print JSON")
    .action(async (options: { key: string; json?: boolean }) => {
      const { login } = await import("./commands/auth.js");
      const globals = program.opts<{ config?: string; profile?: string }>();
      process.exitCode = await login(await config(), {
        ...options,
        configFile: globals.config,
        profile: globals.profile,
      });
    });
  auth
    .command("whoami")
    .description("Show which key and scope the server takes this CLI's requests to have")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }) => {
      const { whoami } = await import("./commands/auth.js");
      process.exitCode = await whoami(await config(), options);
    });

  program
    .command("profile")
    .description("Several servers in one config file, each with its API address and key")
    .argument("<action>", "create | use | list | delete")
    .argument("[name]", "the profile's name")
    .option("--key <key>", "create: its API key (the server's API is --api)")
    .option("--use", "create: use it from now on")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  regent profile create prod --api https://regent.example.com --key rgt_… --use\n  regent profile use local\n  regent --profile prod get flow-runs",
    )
    .action(async (action: string, name: string | undefined, options) => {
      const { profile } = await import("./commands/profile.js");
      // --api is the program's own option (the API to talk to), read here as the profile's API.
      const globals = program.opts<{ config?: string; api?: string }>();
      process.exitCode = profile(action, name, { ...options, api: globals.api, configFile: globals.config });
    });

  const project = program.command("project").description("Projects group flows");
  project
    .command("create")
    .description("Create a project")
    .argument("<name>")
    .option("--description <text>")
    .option("--json", "print the result as JSON")
    .action(async (name: string, options: { description?: string; json?: boolean }) => {
      const { projectCreate } = await import("./commands/remote.js");
      process.exitCode = await projectCreate(await config(), name, options);
    });

  program
    .command("get")
    .description("List projects, flows, flow-runs or logs from the server")
    .argument("<what>", "projects | flows | flow-runs | logs")
    .option("--project <name>", "only flows / flow runs of this project")
    .option("--flow-run-id <id>", "the flow run whose logs to show (logs)")
    .option("--limit <n>", "at most this many rows (default 100)")
    .option("--json", "print JSON")
    .action(
      async (
        what: string,
        options: { project?: string; flowRunId?: string; limit?: string; json?: boolean },
      ) => {
        const { get } = await import("./commands/remote.js");
        process.exitCode = await get(await config(), what, options);
      },
    );

  program
    .command("register")
    .description("Bundle the flows of a file or folder, store them and register them into a project")
    .argument("<file-or-folder>")
    .requiredOption("--project <name>", "the project to register into")
    .option("-l, --label <label>", "add a label to every flow registered (repeatable)", collect, [])
    .option("--json", "print what was registered as JSON")
    .option("--registry-username <user>", "Docker storage: the registry user (else docker login's)")
    .option("--registry-password-stdin", "Docker storage: read the registry password from stdin")
    .action(async (target: string, options: RegisterOptions) => {
      const { register } = await import("./commands/register.js");
      process.exitCode = await register(await config(), target, options);
    });

  program
    .command("schedule")
    .description("Show a flow's schedule and next fire times, or pause and resume it")
    .argument("<action>", "show | pause | resume")
    .requiredOption("--name <flow>", "the flow (its newest version)")
    .requiredOption("--project <name>", "the flow's project")
    .option("--count <n>", "show: how many fire times (default 5)")
    .option("--json", "print JSON")
    .action(
      async (action: string, options: { name: string; project: string; count?: string; json?: boolean }) => {
        const { schedule } = await import("./commands/schedule.js");
        process.exitCode = await schedule(await config(), action, options);
      },
    );

  program
    .command("limit")
    .description("Concurrency limits across all agents: flow runs per label, task runs per tag")
    .argument("<action>", "set | delete | list")
    .argument("[args...]", "set: label|tag NAME N; delete: label|tag NAME")
    .option("--json", "print JSON")
    .action(async (action: string, args: string[], options: { json?: boolean }) => {
      const { limit } = await import("./commands/limit.js");
      process.exitCode = await limit(await config(), action, args, options);
    });

  program
    .command("notification")
    .description("Notify by webhook, Slack or email when flow runs enter given states")
    .argument("<action>", "create | list | delete")
    .argument("[name]", "the rule's name (create, delete)")
    .option("--on <state>", "create: a state that notifies (repeatable)", collect, [])
    .option("--webhook <url>", "create: POST a JSON payload there")
    .option("--secret <secret>", "create: sign webhook payloads with it (X-Regent-Signature)")
    .option("--slack <url>", "create: post a line to this Slack incoming webhook")
    .option("--email <address>", "create: send an email there (the server needs [server] smtp_url)")
    .option("--project <name>", "create: only runs of this project")
    .option("--flow <name>", "create: only runs of this flow (with --project)")
    .option("--json", "print JSON")
    .action(async (action: string, name: string | undefined, options) => {
      const { notification } = await import("./commands/notification.js");
      process.exitCode = await notification(await config(), action, name, options);
    });

  program
    .command("backfill")
    .description("Create the runs a flow's schedule would have created between two times")
    .requiredOption("--name <flow>", "the flow (its newest version)")
    .requiredOption("--project <name>", "the flow's project")
    .requiredOption(
      "--from <time>",
      "first fire time included (ISO 8601: 2026-01-01 or 2026-01-01T06:00:00Z)",
    )
    .requiredOption("--to <time>", "last fire time included (ISO 8601)")
    .option("--max <n>", "refuse to create more runs than this (default 10000)")
    .option("--dry-run", "count the runs, create none")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { backfill } = await import("./commands/backfill.js");
      process.exitCode = await backfill(await config(), options);
    });

  program
    .command("restart")
    .description(
      "Run a Failed, Cancelled or TimedOut flow run again from its failed task runs, reusing the results of those that succeeded",
    )
    .argument("<flow-run-id>", "the run to restart")
    .option("-w, --watch", "follow the run until it ends; exit with its outcome")
    .option("--json", "print JSON")
    .action(async (id: string, options: { watch?: boolean; json?: boolean }) => {
      const { restart } = await import("./commands/run-control.js");
      process.exitCode = await restart(await config(), id, options);
    });

  program
    .command("cancel")
    .description("Cancel a flow run: its executor stops its task runs, and the run ends Cancelled")
    .argument("<flow-run-id>", "the run to cancel")
    .option("-w, --watch", "follow the run until it has ended")
    .option("--json", "print JSON")
    .action(async (id: string, options: { watch?: boolean; json?: boolean }) => {
      const { cancel } = await import("./commands/run-control.js");
      process.exitCode = await cancel(await config(), id, options);
    });

  program
    .command("resume")
    .description("Resume a Paused flow run: it goes on from where its pause() stopped it")
    .argument("<flow-run-id>", "the paused run")
    .option("--input <json>", "what the flow's `await pause()` returns (JSON)")
    .option("-w, --watch", "follow the run until it ends or pauses again; exit with its outcome")
    .option("--json", "print JSON")
    .action(async (id: string, options: { input?: string; watch?: boolean; json?: boolean }) => {
      const { resume } = await import("./commands/run-control.js");
      process.exitCode = await resume(await config(), id, options);
    });

  program
    .command("dev")
    .description(
      "Server (embedded SQLite) + local agent + the flows of a folder registered into a project, in one process",
    )
    .argument("[folder]", "flows to register", "flows")
    .option("--project <name>", "project to register into", "demo")
    .option("--db <url>", "database (default ~/.regent/regent.db)")
    .option("--port <port>", "port (default 4200)", (v) => Number(v))
    .action(async (folder: string, options: { project: string; db?: string; port?: number }) => {
      const { dev } = await import("./commands/dev.js");
      const cfg = await config({ "server.db": options.db, "server.port": options.port });
      process.exitCode = await dev(cfg, { folder, project: options.project }, VERSION);
    });

  const agent = program.command("agent").description("Agents launch the runs whose labels they carry");
  agent
    .command("local")
    .description("The local agent: each run as a child process on this machine")
    .command("start")
    .description("Start a local agent")
    .option("-l, --label <label>", "a label this agent carries (repeatable)", collect, [])
    .option("--name <name>", "agent name (default: local-<host>)")
    .option("--max-concurrent <n>", "runs at once (default 4)", (v) => Number(v))
    .option("--accept-unlabeled", "also take runs without labels")
    .option(
      "--prestarted <n>",
      "executors kept started ahead of runs, so a run skips process start-up (default 2; 0 for none)",
      (v) => Number(v),
    )
    .option("--key <key>", "API key (when the server requires one)")
    .action(
      async (options: {
        label: string[];
        name?: string;
        maxConcurrent?: number;
        acceptUnlabeled?: boolean;
        prestarted?: number;
        key?: string;
      }) => {
        const { agentLocalStart } = await import("./commands/agent-local.js");
        const cfg = await config({ api_key: options.key, "agent.prestarted": options.prestarted });
        process.exitCode = await agentLocalStart(cfg, options);
      },
    );

  agent
    .command("docker")
    .description("The Docker agent: each run in a container (pulled with `docker login` credentials)")
    .command("start")
    .description("Start a Docker agent")
    .option("-l, --label <label>", "a label this agent carries (repeatable)", collect, [])
    .option("--name <name>", "agent name (default: docker-<host>)")
    .option("--max-concurrent <n>", "runs at once (default 4)", (v) => Number(v))
    .option("--accept-unlabeled", "also take runs without labels")
    .option("--image <image>", "the image for runs whose run config names none")
    .option(
      "--network <network>",
      "the containers' network (default host: the API on 127.0.0.1 is reachable)",
    )
    .option("--keep-containers", "leave each container when it has ended (default: removed)")
    .option(
      "--registry-auth <file>",
      "a Docker config.json with registry credentials (default: docker login's, $DOCKER_CONFIG or ~/.docker)",
    )
    .option("--key <key>", "API key (when the server requires one)")
    .action(
      async (options: {
        label: string[];
        name?: string;
        maxConcurrent?: number;
        acceptUnlabeled?: boolean;
        image?: string;
        network?: string;
        keepContainers?: boolean;
        registryAuth?: string;
        key?: string;
      }) => {
        const { agentDockerStart } = await import("./commands/agent-docker.js");
        process.exitCode = await agentDockerStart(await config({ api_key: options.key }), options);
      },
    );

  agent
    .command("kubernetes")
    .description("The Kubernetes agent: each run as a Job (EKS and EKS on Fargate included)")
    .command("start")
    .description("Start a Kubernetes agent (in-cluster config in a pod, else $KUBECONFIG or ~/.kube/config)")
    .option("-l, --label <label>", "take runs with this label (repeatable)", collect, [])
    .option("--name <name>", "agent name (default: kubernetes-<host>)")
    .option("--max-concurrent <n>", "runs at once (default 4)", (v) => Number(v))
    .option("--accept-unlabeled", "also take runs without labels")
    .option("--namespace <namespace>", "the namespace of runs whose run config names none (default: default)")
    .option("--job-template <file>", "a Job (YAML or JSON) every run's Job is made from")
    .option("--service-account-name <name>", "the service account flow pods run as")
    .option("--image-pull-secrets <name>", "a secret to pull images with (repeatable)", collect, [])
    .option("--disable-job-deletion", "leave finished Jobs for their TTL (10 minutes) to look at")
    .option("--image <image>", "the image for runs whose run config and storage name none")
    .option("--key <key>", "API key (when the server requires one)")
    .action(async (options: KubernetesAgentFlags & { key?: string }) => {
      const { agentKubernetesStart } = await import("./commands/agent-kubernetes.js");
      process.exitCode = await agentKubernetesStart(await config({ api_key: options.key }), options);
    });

  agent
    .command("ecs")
    .description("The ECS agent: each run as an ECS task (Fargate, Fargate Spot, EC2)")
    .command("start")
    .description(
      "Start an ECS agent (AWS region and credentials from the environment, as the AWS SDK reads them)",
    )
    .option("-l, --label <label>", "take runs with this label (repeatable)", collect, [])
    .option("--name <name>", "agent name (default: ecs-<host>)")
    .option("--max-concurrent <n>", "runs at once (default 4)", (v) => Number(v))
    .option("--accept-unlabeled", "also take runs without labels")
    .option("--cluster <cluster>", "the ECS cluster (default: the account's default cluster)")
    .option("--launch-type <type>", "FARGATE (default), EC2 or EXTERNAL")
    .option(
      "--capacity-provider <name[:weight[:base]]>",
      "a capacity-provider strategy item, e.g. FARGATE_SPOT:3 and FARGATE:2:1 (repeatable)",
      collect,
      [],
    )
    .option("--subnet <id>", "a subnet for the tasks' awsvpc network (repeatable)", collect, [])
    .option("--security-group <id>", "a security group for the tasks (repeatable)", collect, [])
    .option("--assign-public-ip", "give tasks a public IP (to pull from public registries without a NAT)")
    .option("--task-role-arn <arn>", "the IAM role flows run with")
    .option("--execution-role-arn <arn>", "the IAM role ECS pulls images and writes logs with")
    .option("--run-task-kwargs <file>", "a JSON object merged into every RunTask input")
    .option(
      "--log-group <name>",
      "the CloudWatch log group flows log to (awslogs) when their run config sets none",
    )
    .option("--image <image>", "the image for runs whose run config and storage name none")
    .option("--key <key>", "API key (when the server requires one)")
    .action(async (options: EcsAgentFlags & { key?: string }) => {
      const { agentEcsStart } = await import("./commands/agent-ecs.js");
      process.exitCode = await agentEcsStart(await config({ api_key: options.key }), options);
    });

  program
    .command("execute")
    .description("(used by agents) execute the flow run named by REGENT__FLOW_RUN_ID")
    .argument("<what>", "flow-run")
    .option(
      "--stdin",
      "get ready first, then read the run from standard input (agents' pre-started executors)",
    )
    .option("--preload <flow-id>", "with --stdin: load this flow version's code while waiting")
    .action(async (what: string, options: { stdin?: boolean; preload?: string }) => {
      if (what !== "flow-run") throw new InvalidUsageError(`regent execute takes flow-run (got "${what}")`);
      if (options.preload && !options.stdin) throw new InvalidUsageError("--preload goes with --stdin");
      const { executeFlowRun } = await import("./commands/execute.js");
      process.exitCode = await executeFlowRun(await config(), {
        stdin: options.stdin === true,
        preload: options.preload,
      });
    });

  program
    .command("worker")
    .description("(started by clusterTaskRunner) take and run the queued task runs of one flow run")
    .option("--flow-run <id>", "the flow run (default: REGENT__FLOW_RUN_ID)")
    .option("--worker-id <id>", "this worker's name in the run's logs (default: host-pid)")
    .option("--concurrency <n>", "task runs executed at once", "1")
    .option(
      "--heartbeat-timeout <duration>",
      "silence after which the server gives this worker's task runs to another",
      "30s",
    )
    .option("--idle-exit <duration>", "end after being idle this long (default: stay until the run ends)")
    .action(async (options: WorkerFlags) => {
      const { runWorker } = await import("./commands/worker.js");
      process.exitCode = await runWorker(await config(), options);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; any other parse error is bad usage.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    const paint = stylerFor(process.stderr);
    const code = error instanceof RegentError ? ` [${error.code}]` : "";
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${paint("red", "error")}${code}: ${message}\n`);
    if (!(error instanceof RegentError) && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exitCode = exitCodeFor(error);
  }
}
