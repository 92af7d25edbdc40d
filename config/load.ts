import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parse as parseYaml, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type SyncwatchConfig } from './schema.js';

/** Default configuration file, relative to the working directory. */
export const DEFAULT_CONFIG_PATH = 'syncwatch.yaml';

/** One problem found in a configuration file, located by key path and line. */
export interface ConfigProblem {
  /** Key path such as `sources[0].url`; empty for the whole document. */
  key: string;
  line?: number;
  message: string;
}

/** A configuration that cannot be used; `problems` lists every issue found, not only the first. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_ERR_INVALID';

  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `invalid configuration in ${file}:\n` +
        problems
          .map((problem) => `  ${problem.line ? `line ${problem.line}: ` : ''}${problem.key || '(document)'}: ${problem.message}`)
          .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Reads, substitutes `${VAR}` references in, and validates a configuration file. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): SyncwatchConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [{ key: '', message: `cannot read the file: ${(error as Error).message}` }]);
  }
  return parseConfigText(text, path, env);
}

/**
 * Parses configuration text. `${VAR}` and `${VAR:-default}` inside string
 * values are replaced from `env`; a reference to an unset variable without a
 * default is an error.
 */
export function parseConfigText(text: string, file = DEFAULT_CONFIG_PATH, env: NodeJS.ProcessEnv = process.env): SyncwatchConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((error) => ({
        key: '',
        line: error.linePos?.[0]?.line,
        message: `invalid YAML: ${error.message.split('\n')[0]}`,
      })),
    );
  }

  const raw: unknown = document.toJS() ?? {};
  const envProblems: ConfigProblem[] = [];
  const fromEnv = new Set<string>();
  const substituted = substituteEnv(raw, [], env, envProblems, fromEnv);
  const result = configSchema.safeParse(substituted, { reportInput: true });
  if (result.success && envProblems.length === 0) return result.data;

  // A value still holding an unset ${VAR} fails the schema too; report the variable alone.
  const envKeys = new Set(envProblems.map((problem) => problem.key));
  const schemaProblems = result.success
    ? []
    : result.error.issues.flatMap((issue) => describeIssue(issue, fromEnv)).filter((problem) => !envKeys.has(problem.key));
  const problems = locate([...envProblems, ...schemaProblems], document, lineCounter);
  problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  throw new ConfigError(file, problems);
}

/** Validates an already built configuration object, as the demo does. */
export function parseConfigObject(value: unknown, origin = 'configuration'): SyncwatchConfig {
  const result = configSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ConfigError(origin, result.error.issues.flatMap((issue) => describeIssue(issue)));
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue, fromEnv: ReadonlySet<string> = new Set()): ConfigProblem | ConfigProblem[] {
  const key = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((name) => ({
        key: formatPath([...issue.path, name]),
        message: `unknown key "${name}"; check the spelling against the documented keys`,
      }));
    case 'invalid_type':
      return {
        key,
        message:
          issue.input === undefined
            ? `missing required value; expected ${issue.expected}`
            : `expected ${issue.expected}, received ${describeValue(issue.input, key, fromEnv)}`,
      };
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator) {
        const discriminator = String(issue.discriminator);
        const options = (issue as { options?: unknown[] }).options ?? [];
        const received = (issue.input as Record<string, unknown> | undefined)?.[discriminator];
        const receivedText = describeValue(received, `${key}.${discriminator}`, fromEnv);
        return { key, message: `unknown ${discriminator} ${receivedText}; expected one of: ${options.join(', ')}` };
      }
      return { key, message: `${issue.message}, received ${describeValue(issue.input, key, fromEnv)}` };
    case 'invalid_value':
      return {
        key,
        message: `expected one of: ${issue.values.map((value) => JSON.stringify(value)).join(', ')}; received ${describeValue(issue.input, key, fromEnv)}`,
      };
    case 'custom':
      // Cross-reference checks write complete messages; their input is the whole document.
      return { key, message: issue.message };
    default:
      return {
        key,
        message: issue.input === undefined ? issue.message : `${issue.message}; received ${describeValue(issue.input, key, fromEnv)}`,
      };
  }
}

const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

function substituteEnv(
  value: unknown,
  path: PropertyKey[],
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  fromEnv: Set<string>,
): unknown {
  if (typeof value === 'string') {
    const text = substituteEnvInString(value, path, env, problems);
    if (text !== value) fromEnv.add(formatPath(path));
    // A value that is one reference takes the type its text has, so `port: ${PORT:-4318}` is a number.
    if (WHOLE_REFERENCE.test(value) && text !== value) {
      const typed: unknown = parseYaml(text);
      if (typeof typed === 'number' || typeof typed === 'boolean') return typed;
    }
    return text;
  }
  if (Array.isArray(value)) return value.map((item, index) => substituteEnv(item, [...path, index], env, problems, fromEnv));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([name, item]) => [name, substituteEnv(item, [...path, name], env, problems, fromEnv)]),
    );
  }
  return value;
}

function substituteEnvInString(value: string, path: PropertyKey[], env: NodeJS.ProcessEnv, problems: ConfigProblem[]): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name: string, fallback?: string) => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    problems.push({ key: formatPath(path), message: `environment variable ${name} is not set; set it or write \${${name}:-default}` });
    return match;
  });
}

/**
 * Adds the line of each problem's key. A missing key has no node of its own,
 * so it gets the line of the nearest enclosing mapping or list that exists.
 */
function locate(problems: ConfigProblem[], document: Document, lineCounter: LineCounter): ConfigProblem[] {
  return problems.map((problem) => {
    const path = parsePath(problem.key);
    for (let length = path.length; length > 0; length -= 1) {
      const node = document.getIn(path.slice(0, length), true);
      const offset = isNode(node) ? node.range?.[0] : undefined;
      if (offset !== undefined) return { ...problem, line: lineCounter.linePos(offset).line };
    }
    return problem;
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

function parsePath(key: string): Array<string | number> {
  if (!key) return [];
  return key
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

const SECRET_KEY = /(token|password|secret|apikey|api_key|credentials)$/i;

/**
 * Describes a received value for an error message. Values under a secret key
 * and values read from the environment are hidden, and so are URL passwords.
 */
function describeValue(value: unknown, key = '', fromEnv: ReadonlySet<string> = new Set()): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  const underSecretKey = key.split(/[.[\]]/).some((segment) => SECRET_KEY.test(segment));
  const readFromEnv = [...fromEnv].some((path) => path === key || path.startsWith(`${key}[`) || path.startsWith(`${key}.`));
  if (underSecretKey || readFromEnv) return `${Array.isArray(value) ? 'a list' : `a ${typeof value}`} (hidden)`;
  if (Array.isArray(value)) return `a list (${hideUrlPasswords(JSON.stringify(value)).slice(0, 60)})`;
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${hideUrlPasswords(JSON.stringify(value)).slice(0, 60)}`;
}

function hideUrlPasswords(text: string): string {
  return text.replace(/(\/\/[^:/@\s"]+:)[^@\s"]*@/g, '$1***@');
}
