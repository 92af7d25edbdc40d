export {
  DEFAULT_DATA_DIR,
  describeStore,
  openClickHouse,
  resolveStoreOptions,
  storeCluster,
  storeOptionsFromEnv,
  type StoreSettings,
  type StoreOptions,
} from './clickhouse.js';
export { adaptStatementForCluster, REPLICATED_TABLE_PATH } from './cluster.js';
export { migrate, readAppliedVersions, type MigrateOptions, type MigrateResult } from './migrate.js';
export { MIGRATIONS, type Migration } from './migrations.js';
