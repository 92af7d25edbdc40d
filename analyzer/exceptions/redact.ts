/**
 * Redaction of exception texts. It runs before any text is stored, written to
 * a file, logged or put into a prompt, so secrets and personal data stay in
 * the process that read them. Each match becomes a placeholder in angle
 * brackets, which fingerprinting keeps as it is.
 */

export interface RedactorOptions {
  /** Names to hide, such as people, customers or plants; matched as whole words, ignoring case. */
  names?: readonly string[];
}

export type Redactor = (text: string) => string;

interface Replacement {
  pattern: RegExp;
  replace: string | ((match: string, ...groups: string[]) => string);
}

/**
 * Ordered: URL credentials and labelled secrets go first, so the e-mail,
 * address and phone patterns never see a secret's parts.
 */
const REPLACEMENTS: readonly Replacement[] = [
  // user:password@ in any URL; the user name is kept because it identifies the account that failed.
  { pattern: /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]+):([^\s@/]+)@/gi, replace: '$1$2:<secret>@' },
  // Authorization header values.
  { pattern: /\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=-]{8,}/g, replace: '$1 <token>' },
  // JSON Web Tokens: three base64url parts, the first of which encodes `{"`.
  { pattern: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, replace: '<token>' },
  // Keys with well-known vendor prefixes: OpenAI, GitHub, Slack, AWS, Shopify, Stripe.
  {
    pattern: /\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{16,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,})\b/g,
    replace: '<token>',
  },
  // key=value, key: value and "key": "value" for names that carry secrets.
  {
    pattern:
      /\b(api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|token|secret|client[_-]?secret|password|passwd|pass|pwd|session[_-]?id|sessionid|signature|private[_-]?key)(["']?\s*[:=]\s*["']?)([^\s"'&,;}]+)/gi,
    replace: '$1$2<secret>',
  },
  // Local parts are at most 64 characters (RFC 5321), which also keeps the scan linear on long texts without "@".
  { pattern: /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,}/g, replace: '<email>' },
  // IPv6 in full or compressed form; lookarounds keep times such as 12:30:45 intact.
  {
    pattern: /(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4}|::1)(?![\w:])/gi,
    replace: '<ip>',
  },
  { pattern: /\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/g, replace: '<ip>' },
  // Phone numbers: international (+49 170 1234567), North American ((555) 123-4567) and labelled ones.
  { pattern: /\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,5}){2,4}\b/g, replace: '<phone>' },
  { pattern: /\(\d{2,4}\)\s?\d{3,4}[\s.-]\d{3,4}\b/g, replace: '<phone>' },
  { pattern: /\b(tel|phone|mobile|fax)(\s*[:.=]?\s*)[+(\d][\d\s().-]{6,}\d/gi, replace: '$1$2<phone>' },
  // Opaque strings of 32 or more letters and digits mixing both, such as keys and session ids.
  {
    pattern: /(?<![\w<])[A-Za-z0-9_-]{32,}(?![\w>])/g,
    replace: (match: string) => (/\d/.test(match) && /[A-Za-z]/.test(match) ? '<token>' : match),
  },
  // Base64 secrets such as AWS secret access keys: 30 or more characters with "/" or "+", a digit and both cases.
  // Starting after "/" is not allowed, so absolute paths stay readable.
  {
    pattern: /(?<![\w/+])(?=[A-Za-z0-9/+]*[/+])(?=[A-Za-z0-9/+]*\d)(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])[A-Za-z0-9+][A-Za-z0-9/+]{29,}={0,2}(?![\w/+])/g,
    replace: '<token>',
  },
];

/** Creates a redactor that also hides the configured names. */
export function createRedactor(options: RedactorOptions = {}): Redactor {
  const names = (options.names ?? []).map((name) => name.trim()).filter((name) => name.length > 0);
  // Longest first, so "Acme Plant 2" is hidden before "Acme".
  names.sort((a, b) => b.length - a.length);
  // Words of a name may be separated by any run of whitespace, such as a line break in a wrapped message.
  const namePatterns = names.map((name) => name.split(/\s+/).map(escapeRegExp).join('\\s+'));
  const namePattern = names.length === 0 ? undefined : new RegExp(`(?<![\\w])(?:${namePatterns.join('|')})(?![\\w])`, 'giu');

  return (text: string): string => {
    let result = text;
    for (const { pattern, replace } of REPLACEMENTS) {
      result = typeof replace === 'string' ? result.replace(pattern, replace) : result.replace(pattern, replace);
    }
    if (namePattern) result = result.replace(namePattern, '<name>');
    return result;
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
