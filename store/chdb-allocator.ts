/**
 * Sets how long chDB's allocator keeps freed memory before it returns it to
 * the system. Import this module before `chdb`: the allocator (jemalloc,
 * built into libchdb) reads `JE_MALLOC_CONF` once, when the library loads.
 *
 * libchdb 3.4 is built with `dirty_decay_ms:5000` and without jemalloc's
 * background thread. After twenty 30,000-span inserts, `SYSTEM JEMALLOC PURGE`
 * lowered the RSS from 764 to 545 MiB, and with two inserts at a time the
 * collector's peak in `npm run bench:ingest` was 100 to 200 MiB higher
 * without this setting (docs/benchmarks.md).
 *
 * NOTE: without the background thread the allocator returns pages only
 * while the engine allocates, so an idle store keeps what it freed last.
 */

/** Milliseconds a freed page stays with the allocator for reuse. */
export const CHDB_DIRTY_DECAY_MS = 500;

/** The allocator's settings variable: jemalloc's `MALLOC_CONF` under libchdb's `je_` prefix. */
export const CHDB_ALLOCATOR_ENV = 'JE_MALLOC_CONF';

// A value set by the operator wins.
process.env[CHDB_ALLOCATOR_ENV] ??= `dirty_decay_ms:${CHDB_DIRTY_DECAY_MS}`;
