import { describe, expect, it } from 'vitest';
import { classifyByRules, extractHttpStatus, unknownClassification } from '../../../analyzer/exceptions/rules.js';

/** Messages of the kinds integrations log, with the label a careful operator would give. */
const CASES: Array<[string, string, boolean]> = [
  ['psycopg2.errors.DeadlockDetected: deadlock detected DETAIL: Process 1 waits for ShareLock', 'concurrency_conflict', true],
  ['ERROR 1213 (40001): Deadlock found when trying to get lock; try restarting transaction', 'concurrency_conflict', true],
  ['pq: could not serialize access due to read/write dependencies (SQLSTATE 40001)', 'concurrency_conflict', true],
  ['ERROR: duplicate key value violates unique constraint "stock_lot_name_uniq"', 'duplicate', false],
  ["ER_DUP_ENTRY: Duplicate entry 'SO-1001' for key 'name'", 'duplicate', false],
  ['insert or update on table "stock_move" violates foreign key constraint "stock_move_product_id_fkey"', 'master_data_missing', false],
  ['ERROR: null value in column "product_uom" violates not-null constraint', 'validation_error', false],
  ['could not extend file: No space left on device', 'resource_exhausted', false],
  ['FATAL: sorry, too many clients already', 'resource_exhausted', true],
  ['DuplicateRequestError: shipment confirmation OUT-17 with idempotency key k-1 was already processed', 'duplicate', false],
  ['ERROR: canceling statement due to statement timeout', 'timeout', true],
  ['FATAL: password authentication failed for user "odoo"', 'auth_expired', false],
  ['ERROR: permission denied for table stock_picking', 'permission_denied', false],
  ['ERROR: relation "x_mes_orders" does not exist', 'configuration_error', false],
  ['Error: connect ECONNREFUSED 127.0.0.1:5672', 'transient_network', true],
  ['Error: read ETIMEDOUT', 'timeout', true],
  ['Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - no queue \'mes.orders\' in vhost \'/\'"', 'configuration_error', false],
  ['Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - broker forced connection closure"', 'transient_network', true],
  ['ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN', 'permission_denied', false],
  ['KafkaJSProtocolError: This server is not the leader for that topic-partition (NotLeaderForPartition)', 'transient_network', true],
  ['org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition', 'configuration_error', false],
  ['NatsError: 503 no responders available for request', 'partner_unavailable', true],
  ['OOM command not allowed when used memory > maxmemory', 'resource_exhausted', false],
  ['HTTP/1.1 502 Bad Gateway', 'partner_unavailable', true],
  ['Request failed with status code 503', 'partner_unavailable', true],
  ['Request failed with status code 500', 'partner_unavailable', false],
  ['Request failed with status code 404', 'master_data_missing', false],
  ['Request failed with status code 422', 'validation_error', false],
  ['Request failed with status code 429', 'rate_limited', true],
  ['upstream returned 504 Gateway Time-out', 'timeout', false],
  ['odoo.exceptions.UserError: You cannot validate a transfer if no quantities are reserved', 'business_rule_violation', false],
  ['odoo.exceptions.MissingError: Record does not exist or has been deleted.', 'master_data_missing', false],
  ["KeyError: 'product_id'", 'code_defect', false],
  ["AttributeError: 'NoneType' object has no attribute 'id'", 'code_defect', false],
  ["TypeError: Cannot read properties of undefined (reading 'lines')", 'code_defect', false],
  ['Product with SKU ABC-1 not found in warehouse WH2', 'master_data_missing', false],
  ['cvc-complex-type.2.4.a: Invalid content was found starting with element cbc:Note', 'mapping_schema_error', false],
  ['The access token expired at 10:00', 'auth_expired', false],
  ['requests.exceptions.ReadTimeout: HTTPSConnectionPool: Read timed out. (read timeout=30)', 'timeout', true],
  ["getaddrinfo ENOTFOUND api.partner-b.example", 'configuration_error', false],
  ['The record has been modified by another user, your changes have been discarded', 'concurrency_conflict', true],
  ["xmlrpc.client.Fault: <Fault 3: 'Access Denied'>", 'auth_expired', false],
  ["You are not allowed to modify 'Sales Order' (sale.order) records.", 'permission_denied', false],
  ['odoo.exceptions.UserError: Please define an accounting sales journal for the company', 'configuration_error', false],
  ['pika.exceptions.AMQPConnectionError: Connection to 10.0.0.4:5672 failed', 'transient_network', true],
  ['psycopg2.OperationalError: FATAL: the database system is starting up', 'transient_network', true],
  ['There is not enough quantity available for product DESK-1', 'business_rule_violation', false],
  ['Interchange rejected: mandatory segment missing: BGM', 'mapping_schema_error', false],
  ['xml.etree.ElementTree.ParseError: not well-formed (invalid token): line 1, column 7', 'mapping_schema_error', false],
  ['Required parameter missing or invalid: line_items', 'validation_error', false],
  ['Odoo worker: virtual real time limit (120/120s) reached', 'timeout', false],
  ['requests.exceptions.HTTPError: 413 Client Error: Request Entity Too Large', 'configuration_error', false],
  ['org.apache.kafka.common.errors.NotEnoughReplicasException: Messages are rejected', 'partner_unavailable', true],
];

describe('classifyByRules', () => {
  it.each(CASES)('labels %s', (text, category, retryable) => {
    const label = classifyByRules({ text });
    expect(label?.category).toBe(category);
    expect(label?.retryable).toBe(retryable);
  });

  it('names the rule and the classifier', () => {
    const label = classifyByRules({ text: 'Error: read ECONNRESET' });
    expect(label?.classifiedBy).toBe('rules');
    expect(label?.rule).toBe('connection_dropped');
  });

  it('prefers a business reason inside a 500 body', () => {
    expect(classifyByRules({ text: 'HTTP 500, body: {"code":"not_enough_stock"}' })?.category).toBe('business_rule_violation');
  });

  it('does not read a timeout parameter as a timeout', () => {
    expect(classifyByRules({ text: 'consumer restarted; drain_events(timeout=0)' })).toBeUndefined();
  });

  it('ignores retry signs in a quoted field value', () => {
    const label = classifyByRules({ text: "partner rejected order: field ref value '503 Service Unavailable' invalid" });
    expect(label?.retryable ?? false).toBe(false);
  });

  it('still reads quoted JSON error bodies', () => {
    const label = classifyByRules({ text: '{"error": {"message": "Odoo Session Expired", "data": {"name": "odoo.http.SessionExpiredException"}}}' });
    expect(label?.category).toBe('auth_expired');
  });

  it('returns undefined for unknown texts', () => {
    expect(classifyByRules({ text: 'the widget went sideways' })).toBeUndefined();
  });
});

describe('extractHttpStatus', () => {
  it.each([
    ['HTTP 503 Service Unavailable', 503],
    ['status code: 404', 404],
    ['[status code] 500 [reason phrase]', 500],
    ['Exception when calling Api: [429] quota', 429],
    ['RequestError: 503, {}', 503],
    ['resulted in a `403 Forbidden` response', 403],
    ['429 - {"errors": "slow down"}', 429],
  ])('reads %s', (text, status) => {
    expect(extractHttpStatus(text)).toBe(status);
  });

  it('ignores other numbers', () => {
    expect(extractHttpStatus('line 448, in close; order 503 lines')).toBeUndefined();
  });
});

describe('unknownClassification', () => {
  it('is unknown and not retryable', () => {
    const label = unknownClassification('no rule matched');
    expect(label.category).toBe('unknown');
    expect(label.retryable).toBe(false);
    expect(label.confidence).toBe(0);
  });
});
