import type { OdooModelClient } from './odoo-rpc-client.js';
import { ODOO_ERROR_CODES, OdooRpcError } from './odoo-rpc-client.js';
import { COUNTED_JOB_STATES, type FailedJob, type JobGroupStats } from './job-queue-samples.js';

/** Rows read per `search_read` page while looking for the oldest waiting job that has an `eta`. */
export const ETA_SCAN_PAGE_ROWS = 200;
/** Rows read at most per job group and state while looking for that job. */
export const ETA_SCAN_MAX_ROWS = 2_000;

/** States of jobs that wait for a worker. */
const WAITING_STATES = ['pending', 'enqueued'] as const;

/** Fields that identify a job group, as the queue_job source groups them. */
const GROUP_FIELDS = ['channel', 'channel_method_name', 'model_name', 'method_name'] as const;
const GROUP_BY_STATE = [...GROUP_FIELDS, 'state'];

const FAILURE_FIELDS = [
  'uuid',
  'channel',
  'channel_method_name',
  'model_name',
  'method_name',
  'name',
  'exc_name',
  'exc_message',
  'date_done',
  'date_started',
  'date_enqueued',
  'date_created',
  'retry',
  'max_retries',
];

const ODOO_DATETIME_PATTERN = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** An Odoo domain: prefix operators and `[field, operator, value]` terms. */
type Domain = unknown[];

/** Raw values of the group fields as Odoo returns them (`false` for NULL). */
type GroupValues = Record<(typeof GROUP_FIELDS)[number], unknown>;

/** Clock the ages were measured against. */
export type OdooClockSource = 'server' | 'host';

/** Counts and ages of one channel and job function, the same figures the queue_job source reads with SQL. */
export interface OdooJobGroupStats extends JobGroupStats {
  /** True when the search for the oldest waiting job stopped at `ETA_SCAN_MAX_ROWS`. */
  oldestTruncated: boolean;
}

/** One failed job. */
export type OdooFailedJob = FailedJob;

export interface OdooJobQueueSnapshot {
  groups: OdooJobGroupStats[];
  failures: OdooFailedJob[];
  /** The clock that ages and thresholds were measured against. */
  clockNow: Date;
  clockSource: OdooClockSource;
}

/** Model methods that group records: the one of Odoo 8 to 18, and the one of Odoo 19 and later. */
export const ODOO_GROUP_METHODS = ['read_group', 'formatted_read_group'] as const;
export type OdooGroupMethod = (typeof ODOO_GROUP_METHODS)[number];

export interface OdooJobQueueReadOptions {
  model: string;
  groupMethod: OdooGroupMethod;
  stuckAfterSeconds: { started: number; enqueued: number };
  maxFailures: number;
}

interface GroupRow {
  values: GroupValues;
  state: string;
  count: number;
  aggregates: Record<string, unknown>;
}

interface Aggregate {
  alias: string;
  field: string;
  fn: 'min' | 'max';
}

/**
 * Reads the job queue of one Odoo database through its external API with
 * the semantics of the queue_job source. Per channel and job function, it
 * reads the counts by state, the jobs stuck past the thresholds, the
 * scheduled jobs and the age of the oldest waiting job from
 * `max(eta, date_created)`. It also reads the newest failures.
 *
 * Ages and thresholds use the server clock from the HTTP `Date` header of
 * the first response, because Odoo stamps jobs with its own clock, and fall
 * back to the host clock when the header is missing.
 *
 * NOTE: each call is its own transaction on the Odoo side, so the counts,
 * ages and failures are not one snapshot as they are with the SQL source.
 */
export async function readOdooJobQueue(
  client: OdooModelClient,
  options: OdooJobQueueReadOptions,
): Promise<OdooJobQueueSnapshot> {
  const countCall = await readGroups(client, options, [['state', 'in', [...COUNTED_JOB_STATES]]], []);
  const clockSource: OdooClockSource = countCall.serverDate ? 'server' : 'host';
  const clockNow = countCall.serverDate ?? new Date();
  const stats = new Map<string, OdooJobGroupStats>();
  for (const row of countCall.rows) {
    const group = groupStats(stats, row.values);
    if (isCountedState(row.state)) group.counts[row.state] += row.count;
  }

  await readFlaggedCounts(client, options, clockNow, stats);
  await readOldestWaiting(client, options, clockNow, stats);
  const failures = await readFailures(client, options);
  return { groups: [...stats.values()], failures, clockNow, clockSource };
}

/** Parses an Odoo datetime (`YYYY-MM-DD HH:MM:SS`, naive UTC) into epoch milliseconds. */
export function parseOdooDatetime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = ODOO_DATETIME_PATTERN.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction] = match;
  const ms = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  return ms + (fraction ? Number(`0.${fraction}`) * 1000 : 0);
}

/** Formats epoch milliseconds as an Odoo datetime, dropping the fraction of a second. */
export function formatOdooDatetime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Counts stuck started, stuck enqueued and scheduled jobs in one call: each
 * condition selects a different state, so grouping by state separates them.
 */
async function readFlaggedCounts(
  client: OdooModelClient,
  options: OdooJobQueueReadOptions,
  clockNow: Date,
  stats: Map<string, OdooJobGroupStats>,
): Promise<void> {
  const nowMs = clockNow.getTime();
  const startedBefore = formatOdooDatetime(nowMs - options.stuckAfterSeconds.started * 1000);
  const enqueuedBefore = formatOdooDatetime(nowMs - options.stuckAfterSeconds.enqueued * 1000);
  const domain: Domain = [
    '|',
    '|',
    '&',
    ['state', '=', 'started'],
    ['date_started', '<', startedBefore],
    '&',
    ['state', '=', 'enqueued'],
    ['date_enqueued', '<', enqueuedBefore],
    '&',
    ['state', '=', 'pending'],
    ['eta', '>', formatOdooDatetime(nowMs)],
  ];
  const { rows } = await readGroups(client, options, domain, []);
  for (const row of rows) {
    const group = groupStats(stats, row.values);
    if (row.state === 'started') group.stuckStarted += row.count;
    else if (row.state === 'enqueued') group.stuckEnqueued += row.count;
    else if (row.state === 'pending') group.scheduled += row.count;
  }
}

/**
 * Finds, per group and waiting state, the smallest `max(eta, date_created)`.
 * Jobs without `eta` only need `min(date_created)`. For jobs with an `eta`,
 * `min(eta)` is the result when no such job was created after it, which is
 * the usual case. Otherwise the jobs are read in `eta` order until an `eta`
 * passes the best value found.
 */
async function readOldestWaiting(
  client: OdooModelClient,
  options: OdooJobQueueReadOptions,
  clockNow: Date,
  stats: Map<string, OdooJobGroupStats>,
): Promise<void> {
  const waiting = ['state', 'in', [...WAITING_STATES]];
  const oldest = new Map<string, number>();
  const keep = (key: string, state: string, ms: number | undefined) => {
    if (ms === undefined) return;
    const slot = `${key}\u0000${state}`;
    const current = oldest.get(slot);
    if (current === undefined || ms < current) oldest.set(slot, ms);
  };

  const withoutEta = await readGroups(client, options, [waiting, ['eta', '=', false]], [
    { alias: 'created_min', field: 'date_created', fn: 'min' },
  ]);
  for (const row of withoutEta.rows) {
    keep(groupKeyOf(row.values), row.state, parseOdooDatetime(row.aggregates.created_min));
  }

  const withEta = await readGroups(client, options, [waiting, ['eta', '!=', false]], [
    { alias: 'eta_min', field: 'eta', fn: 'min' },
    { alias: 'created_max', field: 'date_created', fn: 'max' },
  ]);
  const truncated = new Set<string>();
  for (const row of withEta.rows) {
    const key = groupKeyOf(row.values);
    const etaMin = parseOdooDatetime(row.aggregates.eta_min);
    const createdMax = parseOdooDatetime(row.aggregates.created_max);
    if (etaMin !== undefined && (createdMax === undefined || createdMax <= etaMin)) {
      keep(key, row.state, etaMin);
      continue;
    }
    const scan = await scanOldestWithEta(client, options.model, row);
    keep(key, row.state, scan.oldestMs);
    if (scan.truncated) truncated.add(key);
  }

  const nowMs = clockNow.getTime();
  for (const [key, group] of stats) {
    const pending = oldest.get(`${key}\u0000pending`);
    const enqueued = oldest.get(`${key}\u0000enqueued`);
    const waitingMs = minDefined(pending, enqueued);
    group.oldestPendingSeconds = pending === undefined ? null : (nowMs - pending) / 1000;
    group.oldestWaitingSeconds = waitingMs === undefined ? null : (nowMs - waitingMs) / 1000;
    group.oldestTruncated = truncated.has(key);
  }
}

async function scanOldestWithEta(
  client: OdooModelClient,
  model: string,
  row: GroupRow,
): Promise<{ oldestMs: number | undefined; truncated: boolean }> {
  const domain: Domain = [...groupDomain(row.values), ['state', '=', row.state], ['eta', '!=', false]];
  let best: number | undefined;
  for (let offset = 0; offset < ETA_SCAN_MAX_ROWS; offset += ETA_SCAN_PAGE_ROWS) {
    const { result } = await client.callModel(model, 'search_read', {
      domain,
      fields: ['eta', 'date_created'],
      offset,
      limit: ETA_SCAN_PAGE_ROWS,
      order: 'eta asc, id asc',
    });
    const records = expectArray(result, 'search_read');
    for (const record of records) {
      const eta = parseOdooDatetime(record.eta);
      if (eta === undefined) continue;
      // Jobs come in eta order, so no later job can start before the best one found.
      if (best !== undefined && eta >= best) return { oldestMs: best, truncated: false };
      const start = Math.max(eta, parseOdooDatetime(record.date_created) ?? eta);
      best = best === undefined ? start : Math.min(best, start);
    }
    if (records.length < ETA_SCAN_PAGE_ROWS) return { oldestMs: best, truncated: false };
  }
  return { oldestMs: best, truncated: true };
}

/**
 * Reads the newest failed jobs. Odoo cannot order by the `coalesce` of the
 * dates that the SQL source uses, so the rows come by `date_started` and are
 * sorted here. Tracebacks are read only for jobs without `exc_name`.
 *
 * NOTE: when more than `maxFailures` jobs failed, the rows kept may differ
 * from the SQL source's for jobs that have `date_done` but no `date_started`.
 */
async function readFailures(client: OdooModelClient, options: OdooJobQueueReadOptions): Promise<OdooFailedJob[]> {
  const { result } = await client.callModel(options.model, 'search_read', {
    domain: [['state', '=', 'failed']],
    fields: FAILURE_FIELDS,
    limit: options.maxFailures,
    order: 'date_started desc nulls last, date_created desc nulls last, id desc',
  });
  const records = expectArray(result, 'search_read');
  const withoutName = records.filter((record) => !isText(record.exc_name)).map((record) => record.id);
  const tracebacks = new Map<unknown, unknown>();
  if (withoutName.length > 0) {
    const { result: infoResult } = await client.callModel(options.model, 'search_read', {
      domain: [['id', 'in', withoutName]],
      fields: ['exc_info'],
    });
    for (const record of expectArray(infoResult, 'search_read')) tracebacks.set(record.id, record.exc_info);
  }

  const failures = records.map((record) => toFailedJob(record, tracebacks.get(record.id)));
  // Newest first, as the SQL source orders them; jobs without any date go last.
  return failures
    .map((failure, index) => ({ failure, index }))
    .sort((a, b) => (b.failure.failedAtMs ?? -Infinity) - (a.failure.failedAtMs ?? -Infinity) || a.index - b.index)
    .map(({ failure }) => failure);
}

function toFailedJob(record: Record<string, unknown>, excInfo: unknown): OdooFailedJob {
  const values = pickGroupValues(record);
  const failedAtMs =
    parseOdooDatetime(record.date_done) ??
    parseOdooDatetime(record.date_started) ??
    parseOdooDatetime(record.date_enqueued) ??
    parseOdooDatetime(record.date_created);
  return {
    uuid: String(record.uuid ?? record.id),
    channel: channelOf(values),
    jobFunction: jobFunctionOf(values),
    name: isText(record.name) ? record.name : undefined,
    excName: isText(record.exc_name) ? record.exc_name : undefined,
    excMessage: isText(record.exc_message) ? record.exc_message : undefined,
    excInfo: isText(excInfo) ? excInfo : undefined,
    failedAtMs,
    retry: typeof record.retry === 'number' ? record.retry : 0,
    maxRetries: typeof record.max_retries === 'number' ? record.max_retries : undefined,
  };
}

/**
 * Calls the grouping method and returns the rows in one shape. `read_group`
 * takes `alias:fn(field)` specs and `lazy: false`, and keys the aggregates by
 * alias. `formatted_read_group` keys them by `field:fn`.
 */
async function readGroups(
  client: OdooModelClient,
  options: OdooJobQueueReadOptions,
  domain: Domain,
  aggregates: Aggregate[],
): Promise<{ rows: GroupRow[]; serverDate: Date | undefined }> {
  const method = options.groupMethod;
  const legacy = method === 'read_group';
  const params: Record<string, unknown> = legacy
    ? {
        domain,
        fields: ['__count', ...aggregates.map((aggregate) => `${aggregate.alias}:${aggregate.fn}(${aggregate.field})`)],
        groupby: GROUP_BY_STATE,
        lazy: false,
      }
    : {
        domain,
        groupby: GROUP_BY_STATE,
        aggregates: ['__count', ...aggregates.map((aggregate) => `${aggregate.field}:${aggregate.fn}`)],
      };
  const { result, serverDate } = await client.callModel(options.model, method, params);
  const rows = expectArray(result, method).map((record) => {
    const values: Record<string, unknown> = {};
    for (const aggregate of aggregates) {
      values[aggregate.alias] = legacy ? record[aggregate.alias] : record[`${aggregate.field}:${aggregate.fn}`];
    }
    const count = record.__count;
    if (typeof count !== 'number') {
      throw new OdooRpcError(ODOO_ERROR_CODES.invalidResponse, `${method} returned a group without a numeric "__count"`);
    }
    return { values: pickGroupValues(record), state: String(record.state), count, aggregates: values };
  });
  return { rows, serverDate };
}

function groupStats(stats: Map<string, OdooJobGroupStats>, values: GroupValues): OdooJobGroupStats {
  const key = groupKeyOf(values);
  let group = stats.get(key);
  if (group === undefined) {
    group = {
      channel: channelOf(values),
      jobFunction: jobFunctionOf(values),
      counts: { wait_dependencies: 0, pending: 0, enqueued: 0, started: 0, failed: 0 },
      scheduled: 0,
      stuckStarted: 0,
      stuckEnqueued: 0,
      oldestWaitingSeconds: null,
      oldestPendingSeconds: null,
      oldestTruncated: false,
    };
    stats.set(key, group);
  }
  return group;
}

function pickGroupValues(record: Record<string, unknown>): GroupValues {
  return {
    channel: record.channel,
    channel_method_name: record.channel_method_name,
    model_name: record.model_name,
    method_name: record.method_name,
  };
}

/** Builds the key of a group from the channel and job function, as the entity of its samples. */
function groupKeyOf(values: GroupValues): string {
  return `${channelOf(values)}/${jobFunctionOf(values)}`;
}

function groupDomain(values: GroupValues): Domain {
  return GROUP_FIELDS.map((field) => [field, '=', values[field] ?? false]);
}

function channelOf(values: GroupValues): string {
  return isText(values.channel) ? values.channel : '';
}

/** Names the job function as the SQL source does: `channel_method_name`, else `<model>.method`, else empty. */
function jobFunctionOf(values: GroupValues): string {
  if (isText(values.channel_method_name)) return values.channel_method_name;
  if (isText(values.model_name) && isText(values.method_name)) return `<${values.model_name}>.${values.method_name}`;
  return '';
}

function isText(value: unknown): value is string {
  return typeof value === 'string';
}

function isCountedState(state: string): state is (typeof COUNTED_JOB_STATES)[number] {
  return (COUNTED_JOB_STATES as readonly string[]).includes(state);
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function expectArray(result: unknown, method: string): Array<Record<string, unknown>> {
  if (!Array.isArray(result) || result.some((item) => typeof item !== 'object' || item === null)) {
    throw new OdooRpcError(ODOO_ERROR_CODES.invalidResponse, `${method} returned ${describeShape(result)}: expected a list of objects`);
  }
  return result as Array<Record<string, unknown>>;
}

function describeShape(value: unknown): string {
  if (Array.isArray(value)) return 'a list with non-object items';
  return value === null ? 'null' : typeof value;
}
