import { type ChildProcess, spawn } from "node:child_process";
import { type AwsStub, AwsStubError, startAwsStub } from "./aws-stub.js";

// A stand-in for the ECS API (through aws-stub, which checks every request and answer against the ECS
// API model) that plays tasks' lifecycles for real: RunTask starts `command` (what the task's container
// would run: an executor) as a process with the task's environment (the container overrides), so the
// run it was given goes Running and on to its end through the test's server; DescribeTasks reports PROVISIONING, then RUNNING while the
// process lives, then STOPPED with its exit code. A test can interrupt a task as Fargate Spot does, make
// tasks fail to start, or answer RunTask with failures or throttling.

export interface StubTask {
  readonly arn: string;
  readonly input: Record<string, unknown>;
  readonly env: Record<string, string>;
  process: ChildProcess | undefined;
  lastStatus: "PROVISIONING" | "RUNNING" | "STOPPED";
  stopCode?: string;
  stoppedReason?: string;
  exitCode?: number;
  containerReason?: string;
  describes: number;
}

export interface EcsStub extends AwsStub {
  readonly tasks: StubTask[];
  readonly taskDefinitions: Map<string, Record<string, unknown>>;
  /** ARNs of the task definitions deregistered. */
  readonly deregistered: string[];
  /** What the next RunTask does: start a task (default), fail to pull, answer with a failure, or throttle once. */
  nextRunTask: "start" | "cannot-pull" | "failure" | "throttle-once";
  /** Stops a running task as a Spot reclaim does (its process gets SIGTERM). */
  interrupt(task: StubTask): void;
}

const ARN = "arn:aws:ecs:us-east-1:123456789012";

export interface EcsStubOptions {
  /**
   * What a task runs, as a process here: e.g. `[process.execPath, "…/bin/regent.js", "execute", "flow-run"]`;
   * or, given the command its container override sets (undefined: the task definition's), what to run.
   */
  readonly command: readonly string[] | ((overridden: readonly string[] | undefined) => readonly string[]);
  /** Environment for those processes, under the task's own. */
  readonly env?: Readonly<Record<string, string>>;
}

export async function startEcsStub(options: EcsStubOptions): Promise<EcsStub> {
  const tasks: StubTask[] = [];
  const taskDefinitions = new Map<string, Record<string, unknown>>();
  const deregistered: string[] = [];
  const revisions = new Map<string, number>();
  let stub: EcsStub;

  const described = (t: StubTask) => ({
    taskArn: t.arn,
    lastStatus: t.lastStatus,
    desiredStatus: t.lastStatus === "STOPPED" ? "STOPPED" : "RUNNING",
    ...(t.stopCode ? { stopCode: t.stopCode } : {}),
    ...(t.stoppedReason ? { stoppedReason: t.stoppedReason } : {}),
    containers: [
      {
        name: "flow",
        lastStatus: t.lastStatus,
        ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
        ...(t.containerReason ? { reason: t.containerReason } : {}),
      },
    ],
  });

  const aws = await startAwsStub({
    "ecs-2014-11-13": {
      RegisterTaskDefinition(input) {
        const family = String(input.family);
        const revision = (revisions.get(family) ?? 0) + 1;
        revisions.set(family, revision);
        const arn = `${ARN}:task-definition/${family}:${revision}`;
        taskDefinitions.set(arn, input);
        const { tags, ...definition } = input;
        return {
          taskDefinition: { ...definition, taskDefinitionArn: arn, revision, status: "ACTIVE" },
          tags,
        };
      },
      DeregisterTaskDefinition(input) {
        const arn = String(input.taskDefinition);
        if (!taskDefinitions.has(arn))
          throw new AwsStubError("ClientException", "The specified task definition does not exist.");
        deregistered.push(arn);
        return { taskDefinition: { taskDefinitionArn: arn, status: "INACTIVE" } };
      },
      DescribeTaskDefinition(input) {
        const found = taskDefinitions.get(String(input.taskDefinition));
        if (!found) throw new AwsStubError("ClientException", "Unable to describe task definition.");
        const { tags: _tags, ...definition } = found;
        return { taskDefinition: { ...definition, taskDefinitionArn: String(input.taskDefinition) } };
      },
      RunTask(input) {
        const mode = stub.nextRunTask;
        stub.nextRunTask = "start";
        if (mode === "throttle-once") {
          stub.nextRunTask = "start";
          throw new AwsStubError("ThrottlingException", "Rate exceeded", 400);
        }
        if (mode === "failure")
          return {
            tasks: [],
            failures: [{ reason: "RESOURCE:MEMORY", detail: "no capacity in the cluster" }],
          };
        const overrides = input.overrides as {
          containerOverrides?: Array<{
            command?: string[];
            environment?: Array<{ name: string; value: string }>;
          }>;
        };
        const env = Object.fromEntries(
          (overrides?.containerOverrides?.[0]?.environment ?? []).map((e) => [e.name, e.value]),
        );
        const task: StubTask = {
          arn: `${ARN}:task/${String(input.cluster ?? "default")}/${tasks.length + 1}`,
          input,
          env,
          process: undefined,
          lastStatus: "PROVISIONING",
          describes: 0,
        };
        tasks.push(task);
        if (mode === "cannot-pull") {
          task.lastStatus = "STOPPED";
          task.stopCode = "TaskFailedToStart";
          task.stoppedReason =
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref registry.example.com/etl:3: not found";
          return { tasks: [described(task)], failures: [] };
        }
        const [file, ...args] =
          typeof options.command === "function"
            ? options.command(overrides?.containerOverrides?.[0]?.command)
            : options.command;
        const child = spawn(file!, args, {
          env: { ...process.env, ...options.env, ...env },
          stdio: "ignore",
        });
        task.process = child;
        child.once("spawn", () => {
          if (task.lastStatus === "PROVISIONING") task.lastStatus = "RUNNING";
        });
        child.once("exit", (code, signal) => {
          task.lastStatus = "STOPPED";
          task.exitCode = code ?? (signal === "SIGKILL" ? 137 : 143);
          task.stopCode ??= "EssentialContainerExited";
          task.stoppedReason ??= "Essential container in task exited";
        });
        return { tasks: [described(task)], failures: [] };
      },
      DescribeTasks(input) {
        const wanted = (input.tasks as string[]) ?? [];
        const found = tasks.filter((t) => wanted.includes(t.arn));
        for (const t of found) t.describes++;
        return {
          tasks: found.map(described),
          failures: wanted
            .filter((a) => !found.some((t) => t.arn === a))
            .map((arn) => ({ arn, reason: "MISSING" })),
        };
      },
      StopTask(input) {
        const task = tasks.find((t) => t.arn === input.task);
        if (!task) throw new AwsStubError("InvalidParameterException", "The referenced task was not found.");
        task.stopCode = "UserInitiated";
        task.stoppedReason = String(input.reason ?? "Task stopped by user");
        task.process?.kill("SIGTERM");
        return { task: described(task) };
      },
    },
  });

  const closeServer = aws.close;
  stub = Object.assign(aws, {
    tasks,
    taskDefinitions,
    deregistered,
    nextRunTask: "start" as EcsStub["nextRunTask"],
    interrupt(task: StubTask) {
      task.stopCode = "SpotInterruption";
      task.stoppedReason = "Your Spot Task was interrupted.";
      task.process?.kill("SIGTERM");
    },
    async close() {
      for (const t of tasks) t.process?.kill("SIGKILL");
      await closeServer();
    },
  });
  return stub;
}
