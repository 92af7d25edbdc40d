import type { CollectorError } from '../errors.js';
import {
  BAD_REQUEST_TYPE_URL,
  ERROR_INFO_TYPE_URL,
  loadOtlpProtoTypes,
  RETRY_INFO_TYPE_URL,
} from './proto-schema.js';

/** `google.rpc.ErrorInfo.domain` of the receiver's errors. */
export const ERROR_INFO_DOMAIN = 'syncwatch.collector';

/** The two OTLP/HTTP payload encodings. */
export type OtlpEncoding = 'protobuf' | 'json';

export const CONTENT_TYPE_BY_ENCODING: Record<OtlpEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** Count and reasons of the spans rejected from one request, for `partial_success`. */
export interface PartialSuccess {
  rejectedSpans: number;
  errorMessage: string;
}

/**
 * Encodes an `ExportTraceServiceResponse`. JSON comes back as a Buffer too,
 * so fastify sends `Content-Type: application/json` without a charset. `partial_success` stays unset
 * unless spans were rejected, as OTLP requires for a full success.
 */
export function encodeExportResponse(partial: PartialSuccess, encoding: OtlpEncoding): Buffer {
  const hasPartial = partial.rejectedSpans > 0;
  if (encoding === 'json') {
    if (!hasPartial) return Buffer.from('{}');
    // proto3 JSON writes int64 as a decimal string.
    const partialSuccess = { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage };
    return Buffer.from(JSON.stringify({ partialSuccess }));
  }
  const { exportTraceServiceResponse } = loadOtlpProtoTypes();
  const message = hasPartial
    ? { partialSuccess: { rejectedSpans: partial.rejectedSpans, errorMessage: partial.errorMessage } }
    : {};
  return Buffer.from(exportTraceServiceResponse.encode(exportTraceServiceResponse.create(message)).finish());
}

/**
 * Encodes the `google.rpc.Status` body OTLP requires on every 4xx and 5xx
 * response. Its details hold a `google.rpc.ErrorInfo` whose reason is the
 * catalogue code, a `google.rpc.BadRequest` naming the field for a 400, and
 * a `google.rpc.RetryInfo` for a retryable error.
 */
export function encodeErrorStatus(error: CollectorError, encoding: OtlpEncoding): Buffer {
  if (encoding === 'json') {
    const status = { code: error.rpcCode, message: error.message, details: toJsonDetails(error) };
    return Buffer.from(JSON.stringify(status));
  }
  const { rpcStatus } = loadOtlpProtoTypes();
  const message = rpcStatus.create({ code: error.rpcCode, message: error.message, details: toProtobufDetails(error) });
  return Buffer.from(rpcStatus.encode(message).finish());
}

function toJsonDetails(error: CollectorError): object[] {
  const details: object[] = [{ '@type': ERROR_INFO_TYPE_URL, reason: error.code, domain: ERROR_INFO_DOMAIN }];
  if (error.httpStatus === 400) {
    details.push({
      '@type': BAD_REQUEST_TYPE_URL,
      fieldViolations: [{ field: error.field ?? '', description: error.message }],
    });
  }
  if (error.retryAfterSeconds !== undefined) {
    details.push({ '@type': RETRY_INFO_TYPE_URL, retryDelay: `${error.retryAfterSeconds}s` });
  }
  return details;
}

function toProtobufDetails(error: CollectorError): { typeUrl: string; value: Uint8Array }[] {
  const { badRequest, errorInfo, retryInfo } = loadOtlpProtoTypes();
  const info = errorInfo.encode(errorInfo.create({ reason: error.code, domain: ERROR_INFO_DOMAIN }));
  const details: { typeUrl: string; value: Uint8Array }[] = [{ typeUrl: ERROR_INFO_TYPE_URL, value: info.finish() }];
  if (error.httpStatus === 400) {
    const value = badRequest.encode(
      badRequest.create({ fieldViolations: [{ field: error.field ?? '', description: error.message }] }),
    );
    details.push({ typeUrl: BAD_REQUEST_TYPE_URL, value: value.finish() });
  }
  if (error.retryAfterSeconds !== undefined) {
    const value = retryInfo.encode(retryInfo.create({ retryDelay: { seconds: error.retryAfterSeconds } }));
    details.push({ typeUrl: RETRY_INFO_TYPE_URL, value: value.finish() });
  }
  return details;
}
