import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  baseSourceFields,
  buildSample,
  describeError,
  parseSourceConfig,
  resolveIntervalMs,
  type SampleOrigin,
} from './common.js';
import { SOURCE_ERROR_CODES, SourceError } from './errors.js';
import { sendProbe, type ProbeOutcome } from './http-probe-request.js';
import type { LagSample, LagSource, PollResult } from './types.js';

export const HTTP_PROBE_SOURCE_KIND = 'http_probe';
export const DEFAULT_HTTP_PROBE_POLL_INTERVAL_MS = 30_000;
export const DEFAULT_HTTP_PROBE_TIMEOUT_MS = 5_000;
/** A certificate closer than this to its expiry gets the `tls_expiring` attribute. */
export const DEFAULT_TLS_WARN_DAYS = 14;

const STATUS_CLASS_PATTERN = /^[1-5]xx$/;

const expectedStatusSchema = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(STATUS_CLASS_PATTERN, 'expected a status code such as 204 or a class such as "2xx"'),
]);

/** One endpoint to probe. */
const probeTargetSchema = z.strictObject({
  /** Entity name; defaults to the method and the URL without its query. */
  name: z.string().min(1).optional(),
  url: z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL'),
  /** HTTP method, such as GET, HEAD or POST. */
  method: z
    .string()
    .regex(/^[A-Z]+$/, 'expected an upper-case HTTP method such as GET, HEAD or POST')
    .default('GET'),
  headers: z.record(z.string().min(1), z.string()).optional(),
  body: z.string().optional(),
  /** Status codes or classes that count as up. */
  expectedStatus: z.array(expectedStatusSchema).min(1).default(['2xx']),
  /** Workflow of this endpoint, in place of the source's. */
  workflow: z.string().min(1).optional(),
  /** Time limit of this probe in milliseconds, in place of the source's `timeoutMs`. */
  timeoutMs: z.number().int().positive().optional(),
});

/**
 * Config of HTTP health probes of REST and webhook endpoints. Each target is
 * one entity. A probe is `ok` when the response status is expected and, for
 * https, the certificate is trusted.
 */
export const httpProbeSourceConfigSchema = z.strictObject({
  kind: z.literal(HTTP_PROBE_SOURCE_KIND),
  ...baseSourceFields,
  targets: z.array(probeTargetSchema).min(1, 'expected at least one target with a url'),
  tls: z
    .strictObject({
      /** Path of a PEM file with the certificates to trust in place of the system's roots. */
      caFile: z.string().min(1).optional(),
      /** PEM certificates to trust, given inline. */
      ca: z.string().min(1).optional(),
      /** Whether an untrusted certificate marks the endpoint down; when false it is only reported. */
      verify: z.boolean().default(true),
    })
    .default({ verify: true }),
  /** Days before expiry from which a certificate is flagged `tls_expiring`. */
  tlsWarnDays: z.number().positive().default(DEFAULT_TLS_WARN_DAYS),
});

export type HttpProbeSourceConfigInput = z.input<typeof httpProbeSourceConfigSchema>;
export type HttpProbeSourceConfig = z.output<typeof httpProbeSourceConfigSchema>;
type ProbeTarget = HttpProbeSourceConfig['targets'][number];

/** Services a source uses; all optional. */
export interface HttpProbeSourceDeps {
  logger?: Logger;
}

/**
 * Creates an HTTP probe source; throws `COLLECTOR_ERR_SOURCE_CONFIG` on an
 * invalid config or an unreadable `tls.caFile`.
 */
export function createHttpProbeSource(config: HttpProbeSourceConfigInput, deps: HttpProbeSourceDeps = {}): LagSource {
  return new HttpProbeSource(parseSourceConfig(httpProbeSourceConfigSchema, config, HTTP_PROBE_SOURCE_KIND), deps);
}

/**
 * Probes REST and webhook endpoints. A probe measures reachability, not a
 * backlog, so its samples leave the lag, depth and rate fields empty and
 * carry the measurements as attributes:
 * - `status_code`: the HTTP status, absent when no response arrived;
 * - `latency_ms`: milliseconds from the start of the probe (DNS, connect,
 *   TLS handshake included) to the response headers, or to the failure;
 * - `tls_days_left`, `tls_not_after`, `tls_authorized`, `tls_subject`,
 *   `tls_issuer`: the peer certificate of an https endpoint, from the handshake;
 * - `tls_expiring`: "true" when fewer than `tlsWarnDays` days are left.
 * The status is `source_down` when no response arrived, the status was not
 * expected, or the certificate is not trusted while `tls.verify` is on.
 */
export class HttpProbeSource implements LagSource {
  readonly name: string;
  readonly kind = HTTP_PROBE_SOURCE_KIND;
  readonly intervalMs: number;
  readonly integration: string;
  readonly workflow: string;

  readonly #config: HttpProbeSourceConfig;
  readonly #origin: SampleOrigin;
  readonly #ca: string | undefined;

  constructor(config: HttpProbeSourceConfig, _deps: HttpProbeSourceDeps = {}) {
    this.#config = config;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_HTTP_PROBE_POLL_INTERVAL_MS);
    this.#origin = { integration: config.integration, source: config.name, sourceKind: HTTP_PROBE_SOURCE_KIND };
    this.#ca = readCertificateAuthorities(config.tls);
  }

  async poll(now: Date): Promise<PollResult> {
    const samples = await Promise.all(this.#config.targets.map((target) => this.#probeTarget(target, now)));
    return { samples, failures: [] };
  }

  async close(): Promise<void> {
    // Every probe opens and closes its own connection.
  }

  async #probeTarget(target: ProbeTarget, now: Date): Promise<LagSample> {
    const url = new URL(target.url);
    const request = {
      url,
      method: target.method,
      headers: { 'user-agent': 'syncwatch-probe', ...target.headers },
      timeoutMs: target.timeoutMs ?? this.#config.timeoutMs ?? DEFAULT_HTTP_PROBE_TIMEOUT_MS,
      verifyTls: this.#config.tls.verify,
      ...(target.body === undefined ? {} : { body: target.body }),
      ...(this.#ca === undefined ? {} : { ca: this.#ca }),
    };
    let outcome: ProbeOutcome;
    try {
      outcome = await sendProbe(request, now.getTime());
    } catch (error) {
      outcome = { latencyMs: 0, error: describeError(error) };
    }
    return this.#buildSample(target, url, outcome, now);
  }

  #buildSample(target: ProbeTarget, url: URL, outcome: ProbeOutcome, now: Date): LagSample {
    const entity = target.name ?? `${target.method} ${describeUrl(url)}`;
    const attributes: Record<string, string> = {
      url: describeUrl(url),
      method: target.method,
      latency_ms: outcome.latencyMs.toFixed(1),
    };
    if (outcome.statusCode !== undefined) attributes.status_code = String(outcome.statusCode);
    const certificate = outcome.certificate;
    if (certificate !== undefined) {
      attributes.tls_days_left = certificate.daysLeft.toFixed(2);
      attributes.tls_not_after = certificate.notAfter.toISOString();
      attributes.tls_authorized = String(certificate.authorized);
      attributes.tls_subject = certificate.subject;
      attributes.tls_issuer = certificate.issuer;
      if (certificate.authorizationError !== undefined) attributes.tls_error = certificate.authorizationError;
      if (certificate.daysLeft < this.#config.tlsWarnDays) attributes.tls_expiring = 'true';
    }

    let detail: string | undefined;
    if (outcome.error !== undefined) {
      detail = outcome.error;
    } else if (outcome.statusCode !== undefined && !isExpectedStatus(outcome.statusCode, target.expectedStatus)) {
      detail = `unexpected status ${outcome.statusCode}, expected ${target.expectedStatus.join(' or ')}`;
    }
    const status = detail === undefined ? 'ok' : 'source_down';
    const sample = buildSample(this.#origin, now, entity, target.workflow ?? this.workflow, status);
    if (detail !== undefined) sample.detail = detail;
    sample.attributes = attributes;
    return sample;
  }
}

function readCertificateAuthorities(options: HttpProbeSourceConfig['tls']): string | undefined {
  const parts: string[] = [];
  if (options.ca !== undefined) parts.push(options.ca);
  if (options.caFile !== undefined) {
    try {
      parts.push(readFileSync(options.caFile, 'utf8'));
    } catch (error) {
      throw new SourceError(
        SOURCE_ERROR_CODES.invalidConfig,
        `cannot read tls.caFile "${options.caFile}": ${describeError(error)}; expected a readable PEM file`,
        { cause: error },
      );
    }
  }
  return parts.length === 0 ? undefined : parts.join('\n');
}

function isExpectedStatus(statusCode: number, expected: ReadonlyArray<number | string>): boolean {
  return expected.some((entry) =>
    typeof entry === 'number' ? entry === statusCode : entry[0] === String(statusCode)[0],
  );
}

/** Returns the URL without credentials, query or fragment, which may carry secrets. */
function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
