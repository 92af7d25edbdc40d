import { createRedactor } from '../analyzer/exceptions/redact.js';

/**
 * The analyzer's redaction of exception texts (tokens, URL passwords, e-mail
 * and IP addresses, phone numbers). Samples from the store passed through it
 * already; running it again here covers texts that reach an alert another way.
 */
const redactExceptionText = createRedactor();

/**
 * Patterns masked after the analyzer's redaction: labelled credentials such
 * as `Authorization:` that it keeps, in the notation of earlier alerts.
 */
const REDACTIONS: Array<[RegExp, string]> = [
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  [/\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)(["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi, '$1$2[redacted]'],
  [/(\/\/[^:/@\s]+:)[^@\s]+@/g, '$1[redacted]@'],
  [/\bxox[abposr]-[A-Za-z0-9-]+/g, '[redacted]'],
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, '[email]'],
];

/** Masks credentials, addresses and phone numbers in an exception sample. */
export function redactSample(sample: string): string {
  return REDACTIONS.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), redactExceptionText(sample));
}

/**
 * Returns a URL fit for logs and error messages: the user name, password and
 * query values are replaced with `***`, because webhook receivers often carry
 * a token there. Text that is not a URL is returned with its query cut off.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const query = text.indexOf('?');
    return query === -1 ? text : `${text.slice(0, query)}?***`;
  }
  if (url.username) url.username = '***';
  if (url.password) url.password = '***';
  for (const name of [...new Set(url.searchParams.keys())]) url.searchParams.set(name, '***');
  return url.toString().replaceAll('%2A%2A%2A', '***');
}
