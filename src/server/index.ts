// Public server API: start a Ferry server in-process.
export { startServer, type FerryServer, type StartOptions } from './app.js';
export { ServerConfig, parseServerConfig, type ServerConfigInput } from './config.js';
// For tools that manage a data directory directly (`ferry keys`) and for embedders.
export { createApiKey, describeKey, type NewApiKey } from './auth/api-keys.js';
export { openSqliteMetaStore } from '../stores/sqlite/meta-store.js';
// For `ferry migrate` (loaded from here so the CLI bundle stays without the PostgreSQL and S3 drivers).
export { migrateDataDir, MigrationRefused, type MigrationTally } from '../stores/migration/run.js';
export type { EventListener, FerryEvent, FerryEventType } from './events.js';
export type { PreCreateDecision, PreCreateHook, PreCreateRequest } from './hooks.js';
