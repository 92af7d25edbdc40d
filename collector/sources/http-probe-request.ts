import http from 'node:http';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { describeError } from './common.js';

/** Most response body bytes read before the connection is closed; a probe needs the status, not the body. */
export const MAX_PROBE_BODY_BYTES = 64 * 1024;
const MS_PER_DAY = 86_400_000;

/** One request a probe sends. */
export interface ProbeRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** PEM certificates trusted in place of the system's roots. */
  ca?: string;
  /** Whether an untrusted or mismatched certificate stops the probe before the request is sent. */
  verifyTls: boolean;
}

/** Peer certificate of an https probe, read from the TLS handshake. */
export interface ProbeCertificate {
  notAfter: Date;
  /** Days until `notAfter`, negative once expired. */
  daysLeft: number;
  subject: string;
  issuer: string;
  /** True when the chain is trusted and the certificate matches the host. */
  authorized: boolean;
  authorizationError?: string;
}

/** Measurements of one probe. Fields stay undefined when the probe did not get that far. */
export interface ProbeOutcome {
  statusCode?: number;
  /** Milliseconds from the start of the probe to the response headers, or to the failure. */
  latencyMs: number;
  certificate?: ProbeCertificate;
  /** Reason the probe failed before a response arrived. */
  error?: string;
}

/**
 * Sends one HTTP request and measures the time to the response headers. For
 * https the TLS handshake runs first on its own socket, so the certificate
 * is read and checked before any request byte (headers, credentials, body)
 * is sent. The HTTP request then runs over that socket.
 */
export async function sendProbe(request: ProbeRequest, nowMs: number): Promise<ProbeOutcome> {
  const startedAt = performance.now();
  const elapsed = () => Math.round((performance.now() - startedAt) * 10) / 10;
  const outcome: ProbeOutcome = { latencyMs: 0 };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), request.timeoutMs);
  timer.unref();
  try {
    let socket: tls.TLSSocket | undefined;
    if (request.url.protocol === 'https:') {
      socket = await connectTls(request, controller.signal);
      outcome.certificate = readCertificate(socket, nowMs);
      if (request.verifyTls && !outcome.certificate.authorized) {
        socket.destroy();
        outcome.error = `TLS certificate not trusted: ${outcome.certificate.authorizationError ?? 'unknown reason'}`;
        outcome.latencyMs = elapsed();
        return outcome;
      }
    }
    outcome.statusCode = await sendRequest(request, socket, controller.signal);
    outcome.latencyMs = elapsed();
  } catch (error) {
    outcome.latencyMs = elapsed();
    outcome.error = controller.signal.aborted ? `timed out after ${request.timeoutMs} ms` : describeError(error);
  } finally {
    clearTimeout(timer);
  }
  return outcome;
}

function connectTls(request: ProbeRequest, signal: AbortSignal): Promise<tls.TLSSocket> {
  const host = request.url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port: Number(request.url.port || 443),
      // SNI carries host names only, never IP addresses.
      servername: isIP(host) === 0 ? host : undefined,
      ca: request.ca,
      // The trust decision is taken after the handshake, so an untrusted certificate can still be read.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const onAbort = () => socket.destroy(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(error);
    });
  });
}

function readCertificate(socket: tls.TLSSocket, nowMs: number): ProbeCertificate {
  const peer = socket.getPeerCertificate();
  const notAfter = new Date(peer.valid_to);
  const certificate: ProbeCertificate = {
    notAfter,
    daysLeft: (notAfter.getTime() - nowMs) / MS_PER_DAY,
    subject: formatName(peer.subject),
    issuer: formatName(peer.issuer),
    authorized: socket.authorized,
  };
  if (!socket.authorized && socket.authorizationError) {
    certificate.authorizationError = String(socket.authorizationError);
  }
  return certificate;
}

function formatName(name: tls.Certificate | undefined): string {
  if (name === undefined) return '';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(', ');
}

/** Sends the request over `socket`, or over a new TCP connection for http, and resolves with the status code. */
function sendRequest(request: ProbeRequest, socket: tls.TLSSocket | undefined, signal: AbortSignal): Promise<number> {
  const { url } = request;
  const headers: Record<string, string> = { ...request.headers };
  if (request.body !== undefined && !hasHeader(headers, 'content-length')) {
    headers['content-length'] = String(Buffer.byteLength(request.body));
  }
  return new Promise((resolve, reject) => {
    const outgoing = http.request({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      path: `${url.pathname}${url.search}`,
      method: request.method,
      headers: { host: url.host, ...headers },
      signal,
      // A fresh connection per probe, so every probe measures the connect and reads the certificate.
      ...(socket === undefined ? { agent: false } : { createConnection: () => socket }),
    });
    outgoing.once('response', (response) => {
      resolve(response.statusCode ?? 0);
      drainBody(response);
    });
    outgoing.once('error', reject);
    outgoing.end(request.body);
  });
}

/** Reads and drops a bounded part of the body, then closes the connection. */
function drainBody(response: http.IncomingMessage): void {
  let received = 0;
  response.on('data', (chunk: Buffer) => {
    received += chunk.byteLength;
    if (received > MAX_PROBE_BODY_BYTES) response.destroy();
  });
  response.once('end', () => response.socket?.destroy());
  response.once('error', () => undefined);
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}
