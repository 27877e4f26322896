import { join } from "node:path";
import { graphqlData, startRegentProcess, regentTest as test } from "@regent/testkit";
import { expect } from "vitest";
import { startServerWithFlows, useServerDatabases } from "./helpers.js";

const dbFor = useServerDatabases();

const fixtures = new URL("./fixtures/flows-of-flows", import.meta.url).pathname;

test("a flow starts a registered flow, waits for it and uses its result; the link is in the API", async ({
  cli,
  tmp,
}) => {
  const api = await startServerWithFlows(cli, await dbFor("sqlite", tmp), fixtures);
  startRegentProcess(["agent", "local", "start", "--accept-unlabeled", "--prestarted", "1", "--api", api]);

  const run = await cli(["run", "--name", "parent", "--project", "demo", "--watch", "--json", "--api", api]);
  expect(run.code, run.stdout + run.stderr).toBe(0);
  const { flow_run } = await graphqlData(
    api,
    `{ flow_run(where: { flow: { name: { _eq: "parent" } } }) {
         state states(order_by: [{ version: desc }], limit: 1) { data }
         children { state parameters parent { flow { name } } flow { name } }
       } }`,
  );
  expect(flow_run).toHaveLength(1);
  expect(flow_run[0].state).toBe("Success");
  expect(flow_run[0].states[0].data).toEqual({ result: 41 });
  expect(flow_run[0].children).toEqual([
    { state: "Success", parameters: { n: 4 }, parent: { flow: { name: "parent" } }, flow: { name: "child" } },
  ]);

  // Outside a run an agent started there is no server to start a flow through: the run says so.
  const local = await cli(["run", join(fixtures, "parent.ts")]);
  expect(local.code).toBe(1);
  expect(local.stdout + local.stderr).toMatch(/startFlowRun runs a registered flow through the server/);

  const orphan = await graphqlData(
    api,
    `mutation($id: uuid!) { create_flow_run(input: { version_group_id: $id, parent_flow_run_id: "${crypto.randomUUID()}" }) { id } }`,
    {
      id: (await graphqlData(api, `{ flow(where: { name: { _eq: "child" } }) { version_group_id } }`)).flow[0]
        .version_group_id,
    },
  ).catch((error: Error) => error.message);
  expect(orphan).toMatch(/FLOW_RUN_NOT_FOUND|no flow run with id/);
}, 90_000);
