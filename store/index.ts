export {
  DEFAULT_DATA_DIR,
  describeStore,
  openClickHouse,
  resolveStoreOptions,
  storeOptionsFromEnv,
  type StoreSettings,
  type StoreOptions,
} from './clickhouse.js';
export { migrate, readAppliedVersions, type MigrateResult } from './migrate.js';
export { MIGRATIONS, type Migration } from './migrations.js';
