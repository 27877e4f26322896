export type { Database, Dialect, RegentDatabase } from "./db/database.js";
export { LATEST_MIGRATION, migrateToLatest } from "./db/migrate.js";
export { defaultDatabasePath, openDatabase } from "./db/open.js";
export { type ColumnKind, RELATIONS, type Relation, type Row, TABLES, type TableName } from "./db/tables.js";
export { printSdl, schema } from "./graphql/schema.js";
export { type RunningServer, type ServerOptions, startServer } from "./http/server.js";
export { LateRuns, type LateRunsOptions } from "./services/late-runs.js";
export {
  MAX_ATTEMPTS as MAX_NOTIFICATION_ATTEMPTS,
  Notifier,
  type NotifierOptions,
  retryDelayMs as notificationRetryDelayMs,
  type SmtpSettings,
  signature as webhookSignature,
} from "./services/notifier.js";
export { Retention, type RetentionLoop, type RetentionOptions } from "./services/retention.js";
export { Scheduler, type SchedulerLoop, type SchedulerOptions } from "./services/scheduler.js";
export type { Services, ServicesOptions } from "./services/services.js";
export { type ApiKeyInfo, ApiKeyStore, type Principal } from "./store/api-keys.js";
export type { NotificationPayload } from "./store/notifications.js";
export { parseSecretsKey, type SecretInfo, SecretStore } from "./store/secrets.js";
export { type Clock, Store } from "./store/store.js";
