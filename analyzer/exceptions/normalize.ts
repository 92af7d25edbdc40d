import { createHash } from 'node:crypto';

/** Maximum length of a template; longer texts are cut, so one huge traceback cannot bloat the store. */
export const MAX_TEMPLATE_CHARS = 1000;

type Replacer = string | ((match: string, ...rest: unknown[]) => string);

/**
 * Variable parts of exception texts and their placeholders, in the order they
 * are replaced. Wider shapes (timestamps, URLs, paths) go before the numbers
 * inside them.
 */
const VARIABLE_PARTS: ReadonlyArray<{ pattern: RegExp; replace: Replacer }> = [
  // ISO 8601 and log-style timestamps, with optional fraction and zone.
  { pattern: /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b/g, replace: '<ts>' },
  { pattern: /\b\d{4}-\d{2}-\d{2}\b/g, replace: '<date>' },
  { pattern: /\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b/g, replace: '<date>' },
  { pattern: /\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, replace: '<time>' },
  { pattern: /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, replace: '<uuid>' },
  { pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>)\]]+/gi, replace: '<url>' },
  // Absolute file paths with at least two segments; Windows drive paths too.
  { pattern: /(?<![\w<>.])(?:\/[\w.@-]+){2,}\/?/g, replace: '<path>' },
  { pattern: /\b[A-Za-z]:\\(?:[\w.-]+\\)*[\w.-]+/g, replace: '<path>' },
  { pattern: /\b0x[0-9a-f]+\b/gi, replace: '<hex>' },
  { pattern: /\b[0-9a-f]{16,}\b/gi, replace: '<hex>' },
  // Shorter hex runs such as the random tail of an idempotency key; a digit and a letter keep words and plain numbers out.
  { pattern: /\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,15}\b/gi, replace: '<hex>' },
  // Document numbers with a short letter prefix, such as P67162 or SO004711.
  { pattern: /\b([A-Za-z]{1,4})\d{3,}\b/g, replace: '$1<n>' },
  // host:port, and dotted host names under common top-level domains but not Java packages such as java.io.File.
  { pattern: /(?<![\w.])(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*:\d{2,5}\b/gi, replace: '<host>' },
  {
    pattern: /\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|de|fr|it|es|nl|local|internal|example|lan|corp|cloud)\b(?!\.\w)/gi,
    replace: '<host>',
  },
  // Quoted single tokens (names, ids, codes) but not JSON keys and not quoted sentences, which carry the message.
  { pattern: /"(?:[^"\\\n]|\\.)*"|(?<!\w)'(?:[^'\\\n]|\\.)*'(?!\w)/g, replace: replaceQuotedValue },
  // Numbers, except HTTP statuses and SQLSTATE codes, which tell errors apart.
  { pattern: /(?<![\w<])[-+]?\d+(?:[.,]\d+)?(?![\w>])/g, replace: replaceNumber },
];

function replaceQuotedValue(match: string, ...rest: unknown[]): string {
  const offset = rest.at(-2) as number;
  const whole = rest.at(-1) as string;
  const quote = match[0]!;
  const inner = match.slice(1, -1);
  const isKey = /^\s*:/.test(whole.slice(offset + match.length));
  if (isKey || inner.length === 0 || /^<\w+>$/.test(inner)) return match;
  // Several words are a sentence or a message, whose numbers are replaced later.
  if (/\s/.test(inner.trim()) && inner.length > 3) return match;
  return `${quote}<str>${quote}`;
}

const STATUS_BEFORE = /(?:HTTP(?:\/[\d.]+)?|status(?:[ _-]?code)?\]?|response code|statusCode|code|error|exception)\W{0,3}$/i;
const STATUS_AFTER =
  /^\]?\s*[-:]?\s*(?:Bad Request|Unauthorized|Forbidden|Not Found|Method Not Allowed|Conflict|Gone|Payload Too Large|Unsupported Media Type|Unprocessable|Locked|Too Many Requests|Internal Server Error|Not Implemented|Bad Gateway|Service Unavailable|Gateway Time-?out)/i;

function replaceNumber(match: string, ...rest: unknown[]): string {
  const offset = rest.at(-2) as number;
  const whole = rest.at(-1) as string;
  const before = whole.slice(Math.max(0, offset - 20), offset);
  const after = whole.slice(offset + match.length, offset + match.length + 30);
  // A 4xx or 5xx number next to HTTP words is a status that separates errors; elsewhere it is an id or a count.
  const isStatus = /^[45]\d\d$/.test(match) && (STATUS_BEFORE.test(before) || STATUS_AFTER.test(after) || (before.endsWith('[') && after.startsWith(']')));
  if (isStatus) return match;
  if (/SQLSTATE\W{0,3}$/i.test(before)) return match;
  return '<n>';
}

/**
 * Returns the template of an exception text: variable parts (ids, numbers,
 * uuids, hosts, paths, quoted values, timestamps) replaced by placeholders,
 * lists of them collapsed, whitespace folded, at most `MAX_TEMPLATE_CHARS`.
 * Run it on redacted text; redaction placeholders such as `<email>` pass
 * through unchanged.
 */
export function normalizeMessage(text: string): string {
  let template = text;
  for (const { pattern, replace } of VARIABLE_PARTS) {
    template = typeof replace === 'string' ? template.replace(pattern, replace) : template.replace(pattern, replace);
  }
  // "(<n>, <n>, <n>)" and similar lists of one placeholder become one entry.
  template = template.replace(/(<\w+>|'<str>'|"<str>")(?:\s*,\s*\1)+/g, '$1, ...');
  template = template.replace(/\s+/g, ' ').trim();
  return template.length > MAX_TEMPLATE_CHARS ? `${template.slice(0, MAX_TEMPLATE_CHARS)}…` : template;
}

/**
 * Returns the text a template is built from: the exception type in front of
 * the message unless the message already names it, as most tracebacks do.
 */
export function exceptionText(exceptionType: string | undefined, message: string): string {
  const type = exceptionType?.trim() ?? '';
  if (type === '' || message.includes(type)) return message;
  return `${type}: ${message}`;
}

/**
 * Returns the fingerprint of a template: 16 hex digits of its SHA-256. It does
 * not depend on the integration, so one classification serves every
 * integration that raises the same error; the store groups by integration and
 * fingerprint.
 */
export function fingerprintOf(template: string): string {
  return createHash('sha256').update(template).digest('hex').slice(0, 16);
}
