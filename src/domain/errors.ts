/**
 * One error catalogue (STYLE: fastify's lib/errors). Each code is stable;
 * only http/ turns a code into a status code and Graph's envelope, and only
 * gateway/ turns one into a `nack`.
 */
export const ERROR_CODES = {
  invalidToken: 'the bearer token is missing, malformed, expired or not ours',
  forbidden: 'the token lacks the scope, or is an app-only token',
  notFound: 'no such item for this user',
  badRequest: 'the request is malformed or a field is invalid',
  conflict: 'the item is in a state that does not allow this',
  idempotencyMismatch: 'an Idempotency-Key was reused for another request',
  tooLarge: 'the request or a payload is over its limit',
  tooManyOpen: 'the device has too many open commands',
  rateLimited: 'too many requests',
  unavailable: 'a backing service is unreachable',
  internal: 'an internal fault',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppiaError extends Error {
  readonly code: ErrorCode;
  /** seconds a client should wait before retrying (rateLimited, unavailable) */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppiaError';
    this.code = code;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

export function isAppiaError(err: unknown): err is AppiaError {
  return err instanceof AppiaError;
}
