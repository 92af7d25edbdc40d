/**
 * Odoo's job queue table as the OCA `queue_job` addon creates it (model
 * `queue.job` in OCA/queue, queue_job/models/queue_job.py, in the releases
 * that have job dependencies). Tests and the demo network create it in
 * PostgreSQL so the queue_job lag source reads the same columns it reads on
 * a real Odoo database.
 *
 * Odoo maps the field types to columns as follows: Char and Selection to
 * `varchar`, Text and the serialized fields to `text`, Integer and Many2one to
 * `int4`, Float to `float8`, and Datetime to `timestamp` without time zone
 * holding UTC. The model sets `_log_access = False`, so there are no
 * create_uid, create_date, write_uid or write_date columns.
 */

/** Job states of the `state` selection field, in the addon's order. */
export const QUEUE_JOB_STATES = [
  'wait_dependencies',
  'pending',
  'enqueued',
  'started',
  'done',
  'cancelled',
  'failed',
] as const;

export type QueueJobState = (typeof QUEUE_JOB_STATES)[number];

const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Database handle that runs SQL, such as a `pg` Client or Pool. */
export interface QueryRunner {
  query(sql: string): Promise<unknown>;
}

/**
 * Quotes a table name that is either `table` or `schema.table`. Throws when a
 * part is not a plain SQL identifier, so the name can be placed in DDL.
 */
export function quoteTableName(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || parts.some((part) => !IDENTIFIER_PATTERN.test(part))) {
    throw new Error(
      `SIMULATOR_ERR_TABLE_NAME: invalid queue_job table name "${table}"; expected "table" or "schema.table" made of letters, digits and underscores`,
    );
  }
  return parts.map((part) => `"${part}"`).join('.');
}

/** Builds the CREATE TABLE and CREATE INDEX statements for one queue_job table. */
export function buildQueueJobTableDdl(table = 'queue_job'): string {
  const qualified = quoteTableName(table);
  const baseName = table.split('.').pop() ?? table;
  const states = QUEUE_JOB_STATES.map((state) => `'${state}'`).join(', ');
  return `
CREATE TABLE IF NOT EXISTS ${qualified} (
    id serial PRIMARY KEY,
    uuid varchar NOT NULL,
    graph_uuid varchar,
    user_id int4,
    company_id int4,
    name varchar,
    model_name varchar,
    method_name varchar,
    records text,
    dependencies text,
    args text,
    kwargs text,
    func_string varchar,
    state varchar NOT NULL CHECK (state IN (${states})),
    priority int4,
    exc_name varchar,
    exc_message varchar,
    exc_info text,
    result text,
    date_created timestamp,
    date_started timestamp,
    date_enqueued timestamp,
    date_done timestamp,
    exec_time float8,
    date_cancelled timestamp,
    eta timestamp,
    retry int4,
    max_retries int4,
    channel_method_name varchar,
    job_function_id int4,
    channel varchar,
    identity_key varchar,
    worker_pid int4
);
CREATE INDEX IF NOT EXISTS "${baseName}_uuid_index" ON ${qualified} (uuid);
CREATE INDEX IF NOT EXISTS "${baseName}_graph_uuid_index" ON ${qualified} (graph_uuid);
CREATE INDEX IF NOT EXISTS "${baseName}_company_id_index" ON ${qualified} (company_id);
CREATE INDEX IF NOT EXISTS "${baseName}_state_index" ON ${qualified} (state);
CREATE INDEX IF NOT EXISTS "${baseName}_channel_index" ON ${qualified} (channel);
CREATE INDEX IF NOT EXISTS "${baseName}_identity_key_state_partial_index" ON ${qualified} (identity_key)
    WHERE state IN ('pending', 'enqueued', 'wait_dependencies') AND identity_key IS NOT NULL;
`;
}

/** DDL of the default `queue_job` table. */
export const QUEUE_JOB_TABLE_DDL = buildQueueJobTableDdl('queue_job');

/** Creates a queue_job table (and its indexes) unless it exists. */
export async function createQueueJobTable(db: QueryRunner, table = 'queue_job'): Promise<void> {
  await db.query(buildQueueJobTableDdl(table));
}
