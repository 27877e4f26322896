// A stand-in for `regent execute flow-run` in the agent's tests, run with `node fake-executor.mjs`. It takes
// what an agent gives a launched run (REGENT__API, REGENT__FLOW_RUN_ID) and, by FAKE_MODE:
//   success  Submitted → Running → Success through the API (default; FAKE_DELAY_MS waits before Success)
//   exit3    Running, then exits 3 without a final state
//   sigkill  Running, then SIGKILLs itself
//   sleep    Running, starts a grandchild in its process group, then waits to be stopped
//   oom      Running, then allocates memory until something (a container's memory limit) kills it
//   early    prints a line and exits 1 before it reports anything (a flow that cannot even load)
// FAKE_LAUNCHES names a file it appends its run id to (one line per launch); FAKE_PRINT_ENV is a comma
// list of variables it prints as `env NAME=value` (plus `cwd …`), so tests read them from the agent's log.
// FAKE_PIDS names a file it appends its pid to as it starts.
// With --stdin it is a pre-started executor: it reads its run from the first line of standard input
// (core's ExecutorAssignmentSchema), applies the env, api_key and working_dir given there (FAKE_PRINT_ENV
// then also prints the key it had in its environment while it waited), and says
// "(pre-started)" (or "(pre-started for <flow id>)" when started with --preload <flow id>); it exits 0 when the input ends without a line, and FAKE_IDLE_EXIT=<code> makes it exit
// with that code before reading anything (an executor that keeps dying while idle).
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { request } from "node:http";

if (process.env.FAKE_PIDS) appendFileSync(process.env.FAKE_PIDS, `${process.pid}\n`);
const preStarted = process.argv.includes("--stdin");
/** For a pre-started executor: the key it was given to wait with, and the one in its environment. */
let waiting;
if (preStarted) {
  if (process.env.FAKE_IDLE_EXIT) process.exit(Number(process.env.FAKE_IDLE_EXIT));
  let input = "";
  let lines = [];
  for await (const chunk of process.stdin) {
    input += chunk;
    lines = input
      .split("\n")
      .slice(0, -1)
      .map((l) => JSON.parse(l));
    if (lines.some((l) => l.flow_run_id)) break;
  }
  const assignment = lines.find((l) => l.flow_run_id);
  if (!assignment) process.exit(0);
  waiting = { envKey: process.env.REGENT__API_KEY };
  Object.assign(process.env, assignment.env, { REGENT__FLOW_RUN_ID: assignment.flow_run_id });
  if (assignment.api_key) process.env.REGENT__API_KEY = assignment.api_key;
  if (assignment.working_dir) process.chdir(assignment.working_dir);
}

const api = (process.env.REGENT__API ?? "").replace(/\/+$/, "");
const url = api.endsWith("/graphql") ? api : `${api}/graphql`;
const runId = process.env.REGENT__FLOW_RUN_ID ?? "";
const mode = process.env.FAKE_MODE ?? "success";

// node:http rather than fetch: a fake launched 200 times in a test should start as fast as it can.
function gql(query, variables) {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...(process.env.REGENT__API_KEY ? { authorization: `Bearer ${process.env.REGENT__API_KEY}` } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => {
          const parsed = JSON.parse(text);
          if (parsed.errors?.length) reject(new Error(JSON.stringify(parsed.errors)));
          else resolve(parsed.data);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function setState(type) {
  const { set_flow_run_states } = await gql(
    `mutation($id: uuid!, $version: Int!) { set_flow_run_states(input: { states: [{ flow_run_id: $id, version: $version, state: { type: ${type} } }] }) { states { status code message version } } }`,
    { id: runId, version },
  );
  const [result] = set_flow_run_states.states;
  if (result.status !== "SUCCESS") throw new Error(`${type}: ${result.code} ${result.message}`);
  version = result.version;
}

if (process.env.FAKE_LAUNCHES) appendFileSync(process.env.FAKE_LAUNCHES, `${runId}\n`);
for (const name of (process.env.FAKE_PRINT_ENV ?? "").split(",").filter(Boolean)) {
  console.log(`env ${name}=${process.env[name] ?? "<unset>"}`);
}
if (process.env.FAKE_PRINT_ENV) console.log(`cwd ${process.cwd()}`);
if (process.env.FAKE_PRINT_ENV && waiting) console.log(`waiting with key ${waiting.envKey ?? "<unset>"}`);
const preload = process.argv.includes("--preload") ? process.argv[process.argv.indexOf("--preload") + 1] : "";
console.error(
  `fake executor: ${mode}${preStarted ? ` (pre-started${preload ? ` for ${preload}` : ""})` : ""}`,
);

if (mode === "early") {
  console.error("cannot load the flow: early exit");
  process.exit(1);
}
let version = (await gql("query($id: uuid!) { flow_run_by_pk(id: $id) { version } }", { id: runId }))
  .flow_run_by_pk.version;
await setState("Running");
switch (mode) {
  case "success":
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.FAKE_DELAY_MS ?? 0)));
    await setState("Success");
    break;
  case "exit3":
    process.exit(3);
    break;
  case "sigkill":
    process.kill(process.pid, "SIGKILL");
    break;
  case "sleep": {
    const grandchild = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    console.log(`pids ${process.pid} ${grandchild.pid}`);
    setInterval(() => {}, 1000);
    break;
  }
  case "oom": {
    const held = [];
    for (;;) held.push(Buffer.alloc(8 * 1024 * 1024, 1));
  }
  default:
    throw new Error(`unknown FAKE_MODE ${mode}`);
}
