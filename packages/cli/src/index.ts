export { paramsFromCli } from "./cli-params.js";
export { bundleFlowFile, type LoadedFlow, loadFlowFile } from "./load-flow.js";
export { buildProgram, main } from "./main.js";
