export { type CliOptions, type CliResult, liveChildren, REGENT_BIN, runCli } from "./cli.js";
export { type RegentFixtures, regentTest } from "./fixtures.js";
