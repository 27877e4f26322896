export { type CliOptions, type CliResult, liveChildren, REGENT_BIN, runCli } from "./cli.js";
export {
  BACKENDS,
  type Backend,
  freshDatabase,
  PostgresNotConfiguredError,
  type TestDatabase,
  wantedBackends,
} from "./databases.js";
export {
  type BackendTest,
  backendTest,
  type DatabaseFixtures,
  pgTest,
  type RegentFixtures,
  regentTest,
  sqliteTest,
} from "./fixtures.js";
export { freePort, graphqlData } from "./network.js";
export { PG_BIN, type PrivatePostgres, startPrivatePostgres } from "./private-postgres.js";
export { type RegentProcess, startRegentProcess, stopRegentProcesses } from "./processes.js";
export { type SeededRuns, seedFlowRuns } from "./seed.js";
