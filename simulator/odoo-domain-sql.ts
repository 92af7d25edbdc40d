/**
 * Translation of Odoo search domains into parameterised PostgreSQL
 * conditions, with Odoo's rules for `False` and for negative operators.
 * NOTE: this is the subset of the ORM's domain language that syncwatch and
 * its tests use: no dotted paths, `child_of`, `any` or field-to-field terms.
 */

/** Column types the translation distinguishes. */
export type OdooFieldType = 'char' | 'integer' | 'float' | 'datetime' | 'boolean';

/** An Odoo exception to return to the client, named as the Python class Odoo raises. */
export class OdooFault extends Error {
  readonly odooName: string;
  /** HTTP status of the error on the `/json/2` endpoint. */
  readonly httpStatus: number;

  constructor(odooName: string, message: string, httpStatus = 422) {
    super(message);
    this.name = 'OdooFault';
    this.odooName = odooName;
    this.httpStatus = httpStatus;
  }
}

/** Collects the parameters of one SQL statement and returns their placeholders. */
export class SqlParameters {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const COMPARISONS = new Set(['<', '<=', '>', '>=']);
const LIKE_OPERATORS: Record<string, { sql: string; negated: boolean; wrap: boolean }> = {
  like: { sql: 'LIKE', negated: false, wrap: true },
  ilike: { sql: 'ILIKE', negated: false, wrap: true },
  'not like': { sql: 'LIKE', negated: true, wrap: true },
  'not ilike': { sql: 'ILIKE', negated: true, wrap: true },
  '=like': { sql: 'LIKE', negated: false, wrap: false },
  '=ilike': { sql: 'ILIKE', negated: false, wrap: false },
};

/**
 * Translates `domain` into a SQL condition over the columns in `fields`.
 * Prefix operators (`&`, `|`, `!`) take the next one or two expressions, and
 * expressions left side by side are joined with AND, as in Odoo.
 * Throws an `OdooFault` named `ValueError` on an invalid domain.
 */
export function translateDomain(domain: unknown, fields: ReadonlyMap<string, OdooFieldType>, params: SqlParameters): string {
  if (domain === undefined || domain === null || domain === false) return 'TRUE';
  if (!Array.isArray(domain)) throw invalidDomain(`expected a list, received ${JSON.stringify(domain)}`);
  const tokens = domain as unknown[];
  let position = 0;

  const readExpression = (): string => {
    if (position >= tokens.length) throw invalidDomain(`an operator is missing operands in ${JSON.stringify(domain)}`);
    const token = tokens[position];
    position += 1;
    if (token === '&' || token === '|') {
      const left = readExpression();
      const right = readExpression();
      return `(${left} ${token === '&' ? 'AND' : 'OR'} ${right})`;
    }
    if (token === '!') return `(NOT ${readExpression()})`;
    return translateTerm(token, fields, params);
  };

  const parts: string[] = [];
  while (position < tokens.length) parts.push(readExpression());
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

/** Quotes a column name that `fields` lists. */
export function quoteColumn(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function translateTerm(term: unknown, fields: ReadonlyMap<string, OdooFieldType>, params: SqlParameters): string {
  if (!Array.isArray(term) || term.length !== 3) {
    throw invalidDomain(`expected an operator or a [field, operator, value] term, received ${JSON.stringify(term)}`);
  }
  const [field, rawOperator, value] = term as [unknown, unknown, unknown];
  // Odoo's constant leaves: [1, '=', 1] is true and [0, '=', 1] is false.
  if (typeof field === 'number' && rawOperator === '=' && value === 1) return field === 1 ? 'TRUE' : 'FALSE';
  if (typeof field !== 'string' || !fields.has(field)) {
    throw invalidDomain(`invalid field ${JSON.stringify(field)} in leaf ${JSON.stringify(term)}`);
  }
  if (typeof rawOperator !== 'string') throw invalidDomain(`invalid operator ${JSON.stringify(rawOperator)}`);
  const operator = rawOperator.toLowerCase();
  const column = quoteColumn(field);

  if (operator === '=' || operator === '!=') return translateEquality(column, operator, value, params);
  if (operator === 'in' || operator === 'not in') return translateMembership(column, operator, value, params, term);
  if (COMPARISONS.has(operator)) {
    checkScalar(value, term);
    if (value === false) throw invalidDomain(`cannot compare with False in ${JSON.stringify(term)}`);
    return `${column} ${operator} ${params.add(value)}`;
  }
  const like = LIKE_OPERATORS[operator];
  if (like !== undefined) {
    checkScalar(value, term);
    if (value === false) return like.negated ? `${column} IS NOT NULL` : `${column} IS NULL`;
    const pattern = like.wrap ? `%${String(value)}%` : String(value);
    const condition = `${column}::text ${like.sql} ${params.add(pattern)}`;
    // Negative operators match NULL too, as in Odoo.
    return like.negated ? `(NOT (${condition}) OR ${column} IS NULL)` : condition;
  }
  throw invalidDomain(`invalid operator ${JSON.stringify(rawOperator)} in leaf ${JSON.stringify(term)}`);
}

function translateEquality(column: string, operator: string, value: unknown, params: SqlParameters): string {
  if (value === false || value === null) return operator === '=' ? `${column} IS NULL` : `${column} IS NOT NULL`;
  checkScalar(value, [column, operator, value]);
  if (operator === '=') return `${column} = ${params.add(value)}`;
  return `(${column} != ${params.add(value)} OR ${column} IS NULL)`;
}

function translateMembership(
  column: string,
  operator: string,
  value: unknown,
  params: SqlParameters,
  term: unknown[],
): string {
  const values = Array.isArray(value) ? value : [value];
  values.forEach((item) => checkScalar(item, term));
  const withNull = values.some((item) => item === false || item === null);
  const present = values.filter((item) => item !== false && item !== null).map(String);
  if (operator === 'in') {
    const match = present.length > 0 ? `${column}::text = ANY(${params.add(present)}::text[])` : 'FALSE';
    return withNull ? `(${match} OR ${column} IS NULL)` : match;
  }
  const noMatch = present.length > 0 ? `${column}::text != ALL(${params.add(present)}::text[])` : 'TRUE';
  return withNull ? `(${noMatch} AND ${column} IS NOT NULL)` : `(${noMatch} OR ${column} IS NULL)`;
}

function checkScalar(value: unknown, term: unknown): void {
  const scalar = value === null || ['string', 'number', 'boolean'].includes(typeof value);
  if (!scalar) throw invalidDomain(`invalid value ${JSON.stringify(value)} in leaf ${JSON.stringify(term)}`);
}

function invalidDomain(message: string): OdooFault {
  return new OdooFault('builtins.ValueError', `Invalid domain: ${message}`);
}
