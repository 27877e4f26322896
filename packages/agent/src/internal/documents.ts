import { graphql } from "@regent/client";

// The agent's side of the API (docs/api.md): typed from packages/server/schema.graphql.

export const RegisterAgent = graphql(`
  mutation RegisterAgent($id: uuid, $name: String!, $type: String!, $labels: [String!]!, $acceptUnlabeled: Boolean!) {
    register_agent(input: { id: $id, name: $name, type: $type, labels: $labels, accept_unlabeled: $acceptUnlabeled }) {
      id
    }
  }
`);

export const AgentHeartbeat = graphql(`
  mutation AgentHeartbeat($id: uuid!) {
    agent_heartbeat(input: { agent_id: $id }) { success }
  }
`);

/** Claims and, in the same answer, what launching needs: the run's run config over its flow version's. */
export const ClaimFlowRuns = graphql(`
  mutation ClaimFlowRuns($id: uuid!, $limit: Int!, $lastSchedule: Boolean!) {
    claim_flow_runs(input: { agent_id: $id, limit: $limit }) {
      flow_runs {
        id name version restart_count flow_id run_config flow { run_config storage version_group_id }
        states(where: { state: { _eq: "Scheduled" } }, order_by: [{ version: desc }], limit: 1) @include(if: $lastSchedule) { data }
      }
      tokens { flow_run_id token }
    }
  }
`);

/** Gives back the runs this agent was handed by a claim whose answer it never got (all but those it holds). */
export const ReleaseFlowRuns = graphql(`
  mutation ReleaseFlowRuns($id: uuid!, $holding: [uuid!]!) {
    release_flow_runs(input: { agent_id: $id, holding: $holding }) { flow_runs { id name } }
  }
`);

export const ClaimableFlowRuns = graphql(`
  subscription ClaimableFlowRuns($labels: [String!]!, $acceptUnlabeled: Boolean) {
    claimable_flow_runs(labels: $labels, accept_unlabeled: $acceptUnlabeled) { flow_run_id }
  }
`);

export const SetFlowRunState = graphql(`
  mutation SetFlowRunState($runId: uuid!, $version: Int!, $writeId: uuid!, $type: state_type!, $message: String!, $data: jsonb) {
    set_flow_run_states(input: { states: [{ flow_run_id: $runId, version: $version, id: $writeId, state: { type: $type, message: $message, data: $data } }] }) {
      states { status code message }
    }
  }
`);

export const ReportInfrastructureFailure = graphql(`
  mutation ReportInfrastructureFailure($id: uuid!, $execution: Int!, $message: String!, $data: jsonb) {
    report_infrastructure_failure(input: { flow_run_id: $id, restart_count: $execution, message: $message, data: $data }) {
      verdict state message
    }
  }
`);

export const CancellingRuns = graphql(`
  query CancellingRuns($ids: [uuid!]!) {
    flow_run(where: { id: { _in: $ids }, state: { _eq: "Cancelling" } }) { id state_timestamp }
  }
`);

export const RunStateOf = graphql(`
  query RunStateOf($id: uuid!) { flow_run_by_pk(id: $id) { state restart_count } }
`);

export const WriteRunLogs = graphql(`
  mutation WriteRunLogs($logs: [write_run_log_input!]!) { write_run_logs(input: { logs: $logs }) { count } }
`);
