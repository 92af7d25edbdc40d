import type { ExceptionCategory, ExceptionClassification } from './taxonomy.js';

/**
 * Deterministic classification by exception class, SQLSTATE, HTTP status,
 * broker error codes and known message shapes. Rules are tried in order and
 * the first match wins, so narrow shapes (a business reason inside an HTTP 500
 * body) come before the status codes that would also match.
 *
 * `retryable` is true only where a blind automatic retry is safe. Where the
 * same text can mean a call that already had an effect (a gateway timeout on
 * a create, a 500 after a partial write), a rule sets false, because retrying
 * a non-retryable error is the costliest mistake.
 */

interface Rule {
  id: string;
  category: ExceptionCategory;
  retryable: boolean;
  confidence: number;
  pattern: RegExp;
  /** HTTP statuses that match the rule as well, read by `extractHttpStatus`. */
  statuses?: readonly number[];
}

function rule(
  id: string,
  category: ExceptionCategory,
  retryable: boolean,
  confidence: number,
  pattern: RegExp,
  statuses?: readonly number[],
): Rule {
  return { id, category, retryable, confidence, pattern, statuses };
}

const RULES: readonly Rule[] = [
  // An exception without any text cannot be classified, by rules or by a model.
  rule('empty_fault', 'unknown', false, 0.9, /<Fault -?\d+: '(?:None)?'>|\bFault(?:Error)?:\s*(?:None)?\s*$/im),

  // Duplicates, before validation: Odoo raises "already exists" as a ValidationError.
  rule('sqlstate_unique_violation', 'duplicate', false, 0.95, /SQLSTATE\W{0,3}23505|UniqueViolation|duplicate key value violates unique constraint/i),
  rule('mysql_duplicate_entry', 'duplicate', false, 0.95, /\bDuplicate entry\b|\bER_DUP_ENTRY\b|\b1062\b.{0,40}duplicate/i),
  rule(
    'already_exists',
    'duplicate',
    false,
    0.85,
    /\balready (?:exists?|enqueued|queued|processed|imported|received|been (?:processed|imported|received|taken|used)|in use by another|registered)\b|\bexpected to be unique\b|\bmust be unique\b|\bpreviously recorded\b|\bduplicate (?:record|message|order|entry|document|invoice|reference|control number)s?\b/i,
  ),

  // Concurrency: PostgreSQL 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available; MySQL 1205 and 1213.
  rule('sqlstate_concurrency', 'concurrency_conflict', true, 0.95, /SQLSTATE\W{0,3}(?:40001|40P01|55P03)/i),
  rule(
    'lock_or_serialization',
    'concurrency_conflict',
    true,
    0.9,
    /could not serialize access|deadlock detected|Deadlock found when trying to get lock|could not obtain lock|Lock wait timeout exceeded|SerializationFailure|LockNotAvailable|TransactionRollbackError|concurrent (?:update|modification)|ConcurrentModificationException|OptimisticLock|StaleObjectState|RESOURCE_LOCKED|wrong last sequence|(?:has been|was) (?:modified|changed|updated) by another (?:user|process|transaction)/i,
  ),

  // Rate limits: HTTP 429 and provider-specific quota texts.
  rule(
    'rate_limit',
    'rate_limited',
    true,
    0.9,
    /too many requests|rate[ -]?limit|throttl|quota ?exceeded|exceeded (?:your|the)? ?quota|calls per (?:second|minute)|request limit (?:reached|exceeded)|RequestLimitExceeded|SlowDown/i,
    [429],
  ),

  // Authentication: an expired session is renewed by logging in again; a rejected credential needs a person.
  rule('session_expired', 'auth_expired', true, 0.9, /SessionExpiredException|\bsession (?:has )?expired\b/i),
  rule(
    'credential_rejected',
    'auth_expired',
    false,
    0.85,
    /invalid_grant|invalid_token|invalid_client|(?:access|refresh|id|bearer|oauth|auth)[ _-]?token (?:has |is )?(?:expired|invalid|revoked)|token (?:has )?expired|jwt expired|invalid (?:api[ _-]?key|access token|credentials|(?:auth|bearer|oauth|api|session) token)|\bunauthori[sz]ed\b|password authentication failed|SQLSTATE\W{0,3}28(?:000|P01)|authentication (?:failed|required)|\bNOAUTH\b|\bWRONGPASS\b|Access denied for user|SASL authentication failed|SaslAuthenticationException|odoo\.exceptions\.AccessDenied|\baccess denied\b(?! for the groups)/i,
    [401],
  ),

  // Authorization: the credential is valid but lacks a right. PostgreSQL 42501 insufficient_privilege, AMQP 403 ACCESS_REFUSED.
  rule(
    'permission',
    'permission_denied',
    false,
    0.9,
    /\bAccessError\b|not allowed to access|not allowed to (?:create|modify|delete|read|write|unlink) '[^']+' \([\w.]+\) records|security restrictions|allowed for the (?:following )?groups|permission denied|SQLSTATE\W{0,3}42501|\bforbidden\b|ACCESS_REFUSED|(?:TOPIC|GROUP|CLUSTER)_AUTHORIZATION_FAILED|Authorization Violation|\bNOPERM\b|insufficient[_ ]scope|requires? [\w ]{0,40}\bscope\b|not authori[sz]ed to/i,
    [403],
  ),

  // Resources. Broker flow control and connection limits clear by themselves; full disks and memory limits do not.
  rule(
    'broker_flow_control',
    'resource_exhausted',
    true,
    0.9,
    /resource limit alarm|(?:memory|disk) alarm|Publishers will be blocked|connection\.blocked|too many (?:connections|clients)|remaining connection slots|SQLSTATE\W{0,3}53300|RESOURCE_ERROR|insufficient resources/i,
  ),
  rule(
    'storage_or_memory',
    'resource_exhausted',
    false,
    0.9,
    /No space left on device|\bENOSPC\b|disk (?:is )?full|SQLSTATE\W{0,3}53(?:100|200)|out of memory|\bMemoryError\b|OutOfMemoryError|memory limit \(?\d*\)? ?(?:reached|exceeded)|virtual memory limit|maxmemory|heap out of memory|quota of (?:disk|storage)|Insufficient Storage|Too many open files|\bEMFILE\b/i,
    [507],
  ),

  // Configuration: declarations, names and settings that disagree with the system on the other side.
  rule(
    'broker_declaration',
    'configuration_error',
    false,
    0.9,
    /PRECONDITION[_-]FAILED|inequivalent arg|NOT_FOUND - no (?:queue|exchange|binding)|vhost '?[^']*'? not found|UNKNOWN_TOPIC_OR_PARTITION|UnknownTopicOrPartition|stream not found|CommitFailedException|maximum payload exceeded|RecordTooLargeException|MESSAGE_TOO_LARGE|BUSYGROUP/i,
  ),
  rule(
    'settings',
    'configuration_error',
    false,
    0.85,
    /configuration error|misconfigur|not configured|are you sure you have [\w ]{1,60} installed|chart of accounts? (?:is )?(?:not )?installed|(?:enter (?:a )?valid|invalid|malformed) url|MissingSchema|InvalidURL|No connection adapters|Name or service not known|nodename nor servname|\bENOTFOUND\b|getaddrinfo ENOTFOUND|self[- ]signed certificate|hostname mismatch|Hostname\/IP does not match|unknown database|SQLSTATE\W{0,3}(?:3D000|42P01)|database "[^"]*" does not exist|relation "[^"]*" does not exist|No module named|ModuleNotFoundError|please (?:define|configure|set up|install)\b|(?:no|missing) (?:journal|account|sequence|warehouse|pricelist|payment method|fiscal position)s? (?:found|defined|configured)|InvalidTopicException|OffsetOutOfRange/i,
  ),

  // Partner side down or degraded. An expired certificate of the partner clears once they renew it.
  rule('partner_certificate_expired', 'partner_unavailable', true, 0.8, /certificate (?:has )?expired|CERT_HAS_EXPIRED/i),
  rule(
    'partner_down',
    'partner_unavailable',
    true,
    0.85,
    /service unavailable|bad gateway|temporarily unavailable|\b(?:service|server|proxy|backend|upstream|host|api|gateway|endpoint|fleet|broker|site)\b[^.\n]{0,40}\bunavailable\b|under maintenance|no responders|\bLOADING\b.{0,20}dataset|upstream connect error|NOT_ENOUGH_REPLICAS|NotEnoughReplicas|LEADER_NOT_AVAILABLE|CLUSTERDOWN/i,
  ),

  // Timeouts. A gateway timeout or an expired producer batch may hide a call that did complete, so those are not retried blindly.
  rule('gateway_timeout', 'timeout', false, 0.85, /gateway time-?out/i, [504]),
  rule('producer_batch_expired', 'timeout', false, 0.8, /Expiring \d+ record\(s\)/i),
  // A worker killed by its CPU or real-time limit hits the same limit on a retry.
  rule('worker_time_limit', 'timeout', false, 0.8, /(?:virtual real|real|CPU) time limit|CpuTimeLimit|limit_time_(?:cpu|real)/i),
  rule(
    'timeout',
    'timeout',
    true,
    0.85,
    /socket\.timeout|\btimed out\b|\btime ?out\b(?![=(:.])|\bETIMEDOUT\b|\bESOCKETTIMEDOUT\b|ReadTimeout|ConnectTimeout|TimeoutError|TimeoutException|deadline exceeded|DEADLINE_EXCEEDED|statement timeout|SQLSTATE\W{0,3}57014|REQUEST_TIMED_OUT|Request Timeout/i,
    [408],
  ),

  // Network faults that a new connection fixes.
  rule(
    'connection_dropped',
    'transient_network',
    true,
    0.9,
    /\bE(?:CONNRESET|CONNREFUSED|CONNABORTED|PIPE|HOSTUNREACH|NETUNREACH|NETDOWN|AI_AGAIN)\b|connection (?:refused|reset|aborted)|broken pipe|Errno (?:32|54|61|104|110|111|113)\b|SSLEOFError|EOF occurred in violation of protocol|connection (?:to (?:the )?(?:broker|server|host)[\w ]{0,20} )?(?:was )?(?:lost|closed unexpectedly|dropped)|socket hang up|RemoteDisconnected|server closed the connection unexpectedly|MySQL server has gone away|Lost connection to|CONNECTION_FORCED|NotLeader(?:For|Or)|NetworkException|DisconnectException|Temporary failure in name resolution|could not connect to server|ConnectionResetError|ConnectionRefusedError|\bREADONLY\b|\bMOVED \d+|AMQPConnectionError|StreamLostError|ConnectionClosedByBroker|ProxyError|database system is (?:starting up|shutting down|in recovery mode)|SQLSTATE\W{0,3}57P0[1-3]|terminating connection due to administrator command/i,
  ),

  // Business rules the target system enforces: a person decides, a retry repeats the refusal.
  rule(
    'business_rule',
    'business_rule_violation',
    false,
    0.85,
    /\bYou (?:cannot|can not|can't|are not allowed to (?:delete|cancel|modify|change|validate|confirm|post))\b|not[ _]enough[ _](?:stock|quantity|inventory)|insufficient[ _](?:stock|quantity|funds)|out[ _]of[ _]stock|lock (?:to )?date|period is (?:locked|closed)|credit limit|odoo\.exceptions\.UserError|\bUserError\b/i,
  ),

  // Payloads that do not fit the receiver's model: unknown fields, schema violations, unit codes without a mapping.
  rule(
    'mapping_schema',
    'mapping_schema_error',
    false,
    0.85,
    /Invalid field|unknown field|Unrecognized field|invalid child element|not expected\. Expected|additional propert(?:y|ies)|\bcvc-[\w.-]+:|xsd|schema validation|does not conform to (?:the )?schema|Invalid parameter|rest_invalid_param|invalid[_ ]id\b|\bunitCode\b|unit code|incompatible with its category|SerializationException|Unknown magic byte|column "[^"]*" (?:of relation "[^"]*" )?does not exist|SQLSTATE\W{0,3}42703|Cannot deserialize|cannot unmarshal|segment\b[^.\n]{0,30}\b(?:missing|not expected|unrecognized|invalid)|mandatory (?:segment|element) (?:is )?missing|invalid (?:segment|element|qualifier)|not well-formed|XMLSyntaxError/i,
  ),

  // Records the message refers to but that do not exist on the receiving side.
  rule(
    'record_missing',
    'master_data_missing',
    false,
    0.85,
    /No matching record found|\bnot exists?\b|Record does not exist|MissingError|SQLSTATE\W{0,3}23503|violates foreign key constraint|foreign key constraint fails|\b(?:product|customer|partner|vendor|supplier|record|item|sku|article|location|warehouse|lot|serial|uom|unit of measure|account|tax|currency|carrier|company|order|employee)\b[^.\n]{0,40}\b(?:not found|does not exist|could not be found|unknown)\b|could not find (?:the |a |an )?(?:product|customer|partner|record|item|location)/i,
  ),

  // Data the receiver rejects as invalid, in Odoo's, PostgreSQL's (23502, 23514, class 22) and plain words.
  rule(
    'validation',
    'validation_error',
    false,
    0.8,
    /ValidationError|ValidateError|failed against a constraint|violates (?:check|not-null) constraint|SQLSTATE\W{0,3}(?:23502|23514|22\w{3})|\bis (?:not valid|invalid)\b|\bnot a valid\b|\binvalid (?:value|format|date|number|vat|email|iban|quantity|amount)\b|required field|\bmissing required\b|required (?:parameter|attribute|property|value)s? (?:is )?(?:missing|not (?:set|provided))|\bInvalidInput\b|non (?:sembra essere |è )?valid[ao]|n'est pas valide|\bungültig\b|no es válid[oa]|não é válid[oa]|Unprocessable/i,
    [422],
  ),

  // Programming errors: every retry fails the same way.
  rule(
    'code_defect',
    'code_defect',
    false,
    0.85,
    /\b(?:TypeError|AttributeError|KeyError|IndexError|NameError|UnboundLocalError|ZeroDivisionError|AssertionError|RecursionError|NotImplementedError|ReferenceError|NullPointerException|ClassCastException|ArrayIndexOutOfBoundsException|NullReferenceException|IllegalArgumentException|CacheMiss|ExpatError)\b|Expected singleton|is not subscriptable|has no attribute|Cannot read propert(?:y|ies) of (?:undefined|null)|is not a function|is not defined|no element found/i,
  ),
];

/** HTTP statuses that decide the label when no message shape did. */
const STATUS_RULES: Record<number, { category: ExceptionCategory; retryable: boolean }> = {
  400: { category: 'validation_error', retryable: false },
  401: { category: 'auth_expired', retryable: false },
  403: { category: 'permission_denied', retryable: false },
  404: { category: 'master_data_missing', retryable: false },
  405: { category: 'configuration_error', retryable: false },
  408: { category: 'timeout', retryable: true },
  409: { category: 'concurrency_conflict', retryable: false },
  410: { category: 'master_data_missing', retryable: false },
  413: { category: 'configuration_error', retryable: false },
  415: { category: 'mapping_schema_error', retryable: false },
  422: { category: 'validation_error', retryable: false },
  423: { category: 'concurrency_conflict', retryable: true },
  429: { category: 'rate_limited', retryable: true },
  // A 500 can follow a partial write, so it is held rather than retried.
  500: { category: 'partner_unavailable', retryable: false },
  501: { category: 'configuration_error', retryable: false },
  502: { category: 'partner_unavailable', retryable: true },
  503: { category: 'partner_unavailable', retryable: true },
  504: { category: 'timeout', retryable: false },
  507: { category: 'resource_exhausted', retryable: false },
};

const STATUS_PATTERNS: readonly RegExp[] = [
  /(?:^|\n|')\s*([45]\d\d)\s*(?:-|:)\s/,
  /\b(?:HTTP(?:\/\d(?:\.\d)?)?|status(?:[ _-]?code)?\]?|response code|statusCode|code)\s*[:=]?\s*\[?([45]\d\d)\b/i,
  /(?:Error|Exception)\s*:?\s*\[?([45]\d\d)\]?(?=[\s,:\]-]|$)/,
  /:\s*\[([45]\d\d)\]/,
  /\b([45]\d\d)\s*[-:]?\s*(?:Bad Request|Unauthorized|Forbidden|Not Found|Method Not Allowed|Conflict|Gone|Payload Too Large|Request Entity Too Large|Unsupported Media Type|Unprocessable|Locked|Internal Server Error|Not Implemented|Bad Gateway|Service Unavailable|Gateway Time-?out)\b/i,
];

/** A single-quoted value of at most 40 characters. Double quotes are left alone, because JSON error bodies quote every string. */
const SHORT_QUOTED_VALUE = /'[^'\n]{1,40}'/g;

/** Returns the HTTP status an exception text reports, when it names one in a recognizable way. */
export function extractHttpStatus(text: string): number | undefined {
  for (const pattern of STATUS_PATTERNS) {
    const match = pattern.exec(text);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/** Input of the rules: the redacted text, with the exception type in front when there is one. */
export interface RuleInput {
  text: string;
  system?: string;
}

/**
 * Returns the label of the first matching rule, or undefined when none
 * matches. The label is retryable only when no other matching rule or
 * reported HTTP status marks it non-retryable, so a text that carries signs of two
 * causes is never retried on the strength of one.
 */
export function classifyByRules(input: RuleInput): ExceptionClassification | undefined {
  const text = input.text;
  // A short quoted value is data, such as a partner's field value, and may not make a text retryable.
  const unquoted = text.replace(SHORT_QUOTED_VALUE, '<str>');
  const status = extractHttpStatus(text);
  const unquotedStatus = extractHttpStatus(unquoted);
  const statusRule = status === undefined ? undefined : STATUS_RULES[status];
  const matches = RULES.filter((candidate) => {
    const source = candidate.retryable ? unquoted : text;
    const sourceStatus = candidate.retryable ? unquotedStatus : status;
    const statusMatches = sourceStatus !== undefined && candidate.statuses?.includes(sourceStatus) === true;
    return statusMatches || candidate.pattern.test(source);
  });

  const first = matches[0];
  if (first) {
    const veto = matches.find((candidate) => !candidate.retryable) ?? (statusRule && !statusRule.retryable ? { id: `http_${status}` } : undefined);
    const retryable = first.retryable && veto === undefined;
    return {
      category: first.category,
      retryable,
      confidence: first.confidence,
      classifiedBy: 'rules',
      rule: first.id,
      rationale: first.retryable && !retryable ? `matched rule ${first.id}; not retryable because ${veto?.id} also matched` : `matched rule ${first.id}`,
    };
  }
  if (status !== undefined && statusRule && (!statusRule.retryable || unquotedStatus === status)) {
    return {
      ...statusRule,
      confidence: 0.7,
      classifiedBy: 'rules',
      rule: `http_${status}`,
      rationale: `HTTP status ${status}`,
    };
  }
  return undefined;
}

/** Returns the label for a text neither rules nor a model can place: unknown and not retryable, so a person looks. */
export function unknownClassification(rationale: string): ExceptionClassification {
  return { category: 'unknown', retryable: false, confidence: 0, classifiedBy: 'rules', rationale };
}
