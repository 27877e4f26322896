export type { Database, Dialect, RegentDatabase } from "./db/database.js";
export { LATEST_MIGRATION, migrateToLatest } from "./db/migrate.js";
export { defaultDatabasePath, openDatabase } from "./db/open.js";
export { type ColumnKind, RELATIONS, type Relation, type Row, TABLES, type TableName } from "./db/tables.js";
export { printSdl, schema } from "./graphql/schema.js";
export { type RunningServer, type ServerOptions, startServer } from "./http/server.js";
export { type Clock, Store } from "./store/store.js";
