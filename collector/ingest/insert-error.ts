/** Classification of a failed insert. */
export interface InsertFailure {
  /**
   * True when ClickHouse rejected the rows themselves, so inserting the same
   * batch again fails the same way. False when the store may accept it later.
   */
  permanent: boolean;
  /** ClickHouse exception code, when the error carries one. */
  clickhouseCode?: number;
  /** ClickHouse exception name, such as `CANNOT_PARSE_NUMBER`, when the error carries one. */
  clickhouseType?: string;
}

/**
 * ClickHouse codes that reject the data of one insert. Everything not listed
 * here counts as transient, so an unknown failure delays rows but never drops
 * them.
 */
const PERMANENT_CLICKHOUSE_CODES: ReadonlySet<number> = new Set([
  6, // CANNOT_PARSE_TEXT
  25, // CANNOT_PARSE_ESCAPE_SEQUENCE
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  43, // ILLEGAL_TYPE_OF_ARGUMENT
  44, // ILLEGAL_COLUMN
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  128, // TOO_LARGE_ARRAY_SIZE
  130, // CANNOT_READ_ARRAY_FROM_TEXT
  131, // TOO_LARGE_STRING_SIZE
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  376, // CANNOT_PARSE_UUID
  395, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
  407, // DECIMAL_OVERFLOW
  441, // CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
  467, // CANNOT_PARSE_BOOL
  469, // VIOLATED_CONSTRAINT
  691, // UNKNOWN_ELEMENT_OF_ENUM
]);

/** Exception names that reject the data, for codes missing from the list above. */
const PERMANENT_CLICKHOUSE_TYPE_PATTERN = /^(CANNOT_PARSE_|ILLEGAL_)/;

/**
 * ClickHouse raises TOO_MANY_PARTS both as back-pressure (too many parts in a
 * partition, which merges resolve) and when one insert block spans too many
 * partitions, which no retry resolves. Only the message distinguishes them.
 */
const TOO_MANY_PARTS_CODE = 252;
const TOO_MANY_PARTITIONS_MESSAGE = /too many partitions for single insert block/i;

/**
 * Classifies an insert failure. Reads the `code` and `type` that
 * `@clickhouse/client` parses from a ClickHouse exception, which chDB's
 * connection fills the same way, or the `Code: N.` prefix of the message.
 * Network errors (`ECONNREFUSED`, `ECONNRESET`, timeouts) carry no
 * ClickHouse code and are transient.
 */
export function classifyInsertError(error: unknown): InsertFailure {
  const clickhouseCode = readClickHouseCode(error);
  const clickhouseType = readClickHouseType(error);
  const message = error instanceof Error ? error.message : String(error);
  let permanent = false;
  if (clickhouseCode === TOO_MANY_PARTS_CODE) {
    permanent = TOO_MANY_PARTITIONS_MESSAGE.test(message);
  } else if (clickhouseCode !== undefined && PERMANENT_CLICKHOUSE_CODES.has(clickhouseCode)) {
    permanent = true;
  } else if (clickhouseType !== undefined && PERMANENT_CLICKHOUSE_TYPE_PATTERN.test(clickhouseType)) {
    permanent = true;
  }
  return { permanent, clickhouseCode, clickhouseType };
}

function readClickHouseCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'number' && Number.isInteger(code)) return code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  if (typeof message === 'string') {
    const match = /^Code: (\d+)\./.exec(message);
    if (match) return Number(match[1]);
  }
  return undefined;
}

function readClickHouseType(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type } = error as { type?: unknown };
  return typeof type === 'string' && /^[A-Z0-9_]+$/.test(type) ? type : undefined;
}
