/**
 * Patterns masked in exception samples before they leave syncwatch. The
 * analyzer redacts samples already; this second pass catches credentials and
 * contact data that a new exception format lets through.
 */
const REDACTIONS: Array<[RegExp, string]> = [
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  [/\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)(["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi, '$1$2[redacted]'],
  [/(\/\/[^:/@\s]+:)[^@\s]+@/g, '$1[redacted]@'],
  [/\bxox[abposr]-[A-Za-z0-9-]+/g, '[redacted]'],
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, '[email]'],
];

/** Masks credentials and e-mail addresses in an exception sample. */
export function redactSample(sample: string): string {
  return REDACTIONS.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), sample);
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
