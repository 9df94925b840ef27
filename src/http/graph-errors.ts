import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppiaError, type ErrorCode } from '../domain/errors.js';

/** DESIGN 2: the Graph error code and HTTP status for each Appia error code. */
export const GRAPH_ERRORS = {
  invalidToken: { status: 401, code: 'InvalidAuthenticationToken' },
  forbidden: { status: 403, code: 'Authorization_RequestDenied' },
  notFound: { status: 404, code: 'itemNotFound' },
  badRequest: { status: 400, code: 'BadRequest' },
  conflict: { status: 409, code: 'conflict' },
  idempotencyMismatch: { status: 422, code: 'unprocessableEntity' },
  tooLarge: { status: 413, code: 'requestEntityTooLarge' },
  // DESIGN 2, 8: every 429 and 503 says when to come back; these are the waits when the error names none
  tooManyOpen: { status: 429, code: 'TooManyRequests', retryAfter: 5 },
  rateLimited: { status: 429, code: 'TooManyRequests', retryAfter: 1 },
  unavailable: { status: 503, code: 'serviceNotAvailable', retryAfter: 1 },
  internal: { status: 500, code: 'generalException' },
} as const satisfies Record<ErrorCode, { status: number; code: string; retryAfter?: number }>;

/** What a client is told of an internal fault: its detail (often a driver's text) stays in the log. */
export const INTERNAL_MESSAGE = 'an internal error occurred; the request-id identifies it in the server log';

export function requestId(request: FastifyRequest): string {
  return String(request.id ?? randomUUID());
}

/** Sends Graph's error envelope: `{"error":{"code","message","innerError":{"request-id","date"}}}`. */
export function sendGraphError(request: FastifyRequest, reply: FastifyReply, err: AppiaError): FastifyReply {
  const mapped: { status: number; code: string; retryAfter?: number } = GRAPH_ERRORS[err.code];
  const retryAfter = err.retryAfter ?? mapped.retryAfter;
  if (retryAfter !== undefined) reply.header('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
  if (mapped.status === 401) reply.header('WWW-Authenticate', 'Bearer');
  return reply
    .code(mapped.status)
    .type('application/json')
    .send({
      error: {
        code: mapped.code,
        message: err.code === 'internal' ? INTERNAL_MESSAGE : err.message,
        innerError: { 'request-id': requestId(request), date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      },
    });
}

/**
 * Turns whatever a route threw into an AppiaError: Fastify's own errors
 * (bad JSON, body too large, schema validation) become 400/413/415, and
 * anything unknown becomes a 500 whose cause is logged, never sent.
 */
export function toAppiaError(err: unknown): AppiaError {
  if (err instanceof AppiaError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string; validation?: unknown; validationContext?: string };
  if (e?.validation) return new AppiaError('badRequest', validationMessage(e));
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppiaError('tooLarge', 'the request body is over the size limit');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppiaError('badRequest', `the request body is not valid JSON: ${e.message ?? ''}`.trim());
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppiaError('badRequest', 'send the body as Content-Type: application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppiaError('badRequest', 'the Content-Length does not match the body');
  }
  if (e?.statusCode === 413) return new AppiaError('tooLarge', 'the request body is over the size limit');
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new AppiaError('badRequest', e.message ?? 'bad request');
  }
  return new AppiaError('internal', INTERNAL_MESSAGE, { cause: err });
}

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (a
 * body that did not arrive within APPIA_REQUEST_TIMEOUT_MS: 408; headers
 * over the size limit: 431; bytes that are not HTTP: 400) in Graph's shape,
 * then closes the connection (Fastify's `clientErrorHandler`).
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'requestTimeout', 'the request headers and body did not arrive in time (APPIA_REQUEST_TIMEOUT_MS)']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'BadRequest', 'the request headers are over the size limit']
        : [400, 'Bad Request', 'BadRequest', 'the request is not valid HTTP'];
  const body = JSON.stringify({
    error: { code, message, innerError: { 'request-id': randomUUID(), date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } },
  });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function validationMessage(e: { message?: string; validation?: unknown; validationContext?: string }): string {
  const first = Array.isArray(e.validation) ? (e.validation[0] as { instancePath?: string; message?: string; params?: Record<string, unknown> }) : undefined;
  if (!first) return e.message ?? 'invalid request';
  const where = e.validationContext ?? 'body';
  const missing = first.params?.['missingProperty'];
  const extra = first.params?.['additionalProperty'];
  const field = (first.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  if (typeof missing === 'string') return `${where}: ${field ? field + '.' : ''}${missing} is required`;
  if (typeof extra === 'string') return `${where}: unknown property ${extra}`;
  return `${where}${field ? '.' + field : ''} ${first.message ?? 'is invalid'}`;
}
