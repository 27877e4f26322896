export { ApiError, type ApiErrorEntry, type ClientOptions, RegentClient } from "./client.js";
export {
  type FragmentOf,
  graphql,
  type ResultOf,
  type TadaDocumentNode,
  type VariablesOf,
} from "./graphql.js";
