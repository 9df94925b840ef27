import {
  createLocalJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { AppiaError } from '../domain/errors.js';
import type { FetchLike } from './fetch-json.js';
import { principalOf, type Principal } from './principal.js';
import { createRemoteJwks } from './remote-jwks.js';

export type { Principal } from './principal.js';

/** A JWKS of public keys, as the embedded issuer hands it out (frozen). */
export interface PublicKeySet {
  readonly keys: readonly JWK[];
}

/** Where the issuer's public keys come from. */
export type VerifierKeys =
  /** the embedded issuer's keys, in process (e.g. `issuer.jwks`) */
  | { readonly kind: 'local'; readonly jwks: () => PublicKeySet }
  /** an external issuer's JWKS URL (see `discoverIssuer`), cached and refetched on an unknown `kid` */
  | {
      readonly kind: 'remote';
      readonly jwksUrl: URL;
      /** see `RemoteJwksOptions.cooldownMs`: default 10000, at most 30000 */
      readonly cooldownMs?: number;
      /** default 600000 */
      readonly maxAgeMs?: number;
      /** default 5000 */
      readonly timeoutMs?: number;
    };

export interface VerifierOptions {
  /** the exact `iss` accepted */
  readonly issuer: string;
  /** the `aud` accepted (a token may list several; one must match) */
  readonly audience: string;
  readonly keys: VerifierKeys;
  /** asymmetric JWS algorithms only; default `DEFAULT_ALGORITHMS` */
  readonly algorithms?: readonly string[];
  /** skew allowed on `exp` and `nbf`, in seconds; default 60 */
  readonly clockToleranceSeconds?: number;
  /**
   * The claim naming the user: `oid` (the default) falls back to `sub` when a
   * token has no `oid`, as the embedded issuer's tokens do; `sub` uses only
   * `sub`. (An Entra ID token's `sub` differs per app; its `oid` does not.)
   */
  readonly userClaim?: 'oid' | 'sub';
  /**
   * Put before every user id this issuer names, so that users of several
   * issuers never share an id (see `openAuth`); default none.
   */
  readonly userIdPrefix?: string;
  readonly now?: () => number;
  readonly fetch?: FetchLike;
  /**
   * How long a verified token is accepted again without a new signature
   * check, at most until it expires; default `DEFAULT_CACHE_MS`, 0 = never.
   * Only successes are kept, at most 10,000 tokens.
   */
  readonly cacheMs?: number;
}

export interface Verifier {
  /**
   * Verifies an `Authorization` header value and returns the caller.
   * Throws AppiaError `invalidToken` (401) for anything wrong with the
   * token, `forbidden` (403) for an app-only token, and `unavailable` (503)
   * when an external issuer's keys cannot be fetched at all.
   */
  verify(authorizationHeader: string | undefined): Promise<Principal>;
}

/** The asymmetric algorithms accepted unless configured otherwise. */
export const DEFAULT_ALGORITHMS = Object.freeze([
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
  'Ed25519',
]);

/**
 * `none` is never a signature, and an HMAC algorithm would let anyone who
 * has the issuer's *public* key sign tokens (algorithm confusion), so an
 * allow-list can only name algorithms from this set.
 */
const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set(DEFAULT_ALGORITHMS);

/** Well beyond any real access token; stops parsing megabytes of header. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/**
 * Builds the bearer-token check of DESIGN 5: signature against the issuer's
 * keys, `iss`, `aud`, `exp` (required) and `nbf` with a small skew, the
 * algorithm on an allow-list, and a delegated (`scp`) token.
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: issuer.issuer,
 *   audience: issuer.audience,
 *   keys: { kind: 'local', jwks: () => issuer.jwks() },
 * });
 * const principal = await verifier.verify(request.headers.authorization);
 * requireScope(principal, ['Device.Read', 'Device.Command']);
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  if (algorithms.length === 0) throw new RangeError('the algorithm allow-list is empty');
  for (const alg of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.has(alg)) {
      throw new RangeError(`"${alg}" cannot be allowed: only ${[...ASYMMETRIC_ALGORITHMS].join(', ')} are accepted`);
    }
  }
  const clockTolerance = options.clockToleranceSeconds ?? 60;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > 300) {
    throw new RangeError(`the clock tolerance must be 0..300 seconds, got ${clockTolerance}`);
  }
  if (!options.issuer) throw new TypeError('the verifier needs an issuer');
  if (!options.audience) throw new TypeError('the verifier needs an audience');
  const now = options.now ?? Date.now;
  const getKey = keyResolver(options.keys, options.fetch, now);
  const cacheMs = options.cacheMs ?? DEFAULT_CACHE_MS;
  // token -> its principal, until the earlier of its expiry and cacheMs from its check.
  // A signature check costs more than the rest of a request; a client sends one token many times.
  const verified = new Map<string, { readonly principal: Principal; readonly until: number }>();

  return {
    async verify(authorizationHeader) {
      const token = bearerToken(authorizationHeader);
      const cached = verified.get(token);
      if (cached !== undefined) {
        if (cached.until > now()) return cached.principal;
        verified.delete(token);
      }
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, getKey, {
          algorithms,
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance,
          currentDate: new Date(now()),
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        throw toAppiaError(err);
      }
      const principal = principalOf(claims, options.userClaim, options.userIdPrefix ?? '');
      if (cacheMs > 0) {
        if (verified.size >= MAX_CACHED_TOKENS) verified.delete(verified.keys().next().value!);
        const expiresAt = ((claims.exp ?? 0) + clockTolerance) * 1000;
        verified.set(token, { principal, until: Math.min(expiresAt, now() + cacheMs) });
      }
      return principal;
    },
  };
}

/** How long a verified token is trusted without checking its signature again. */
export const DEFAULT_CACHE_MS = 60_000;
const MAX_CACHED_TOKENS = 10_000;

/**
 * Throws AppiaError `forbidden` unless the principal holds one of `anyOf`
 * (DESIGN 2: each route lists the scopes that admit it).
 *
 * @example
 * requireScope(principal, ['Device.Command']);
 */
export function requireScope(principal: Pick<Principal, 'scopes'>, anyOf: readonly string[]): void {
  if (anyOf.some((scope) => principal.scopes.has(scope))) return;
  const needed = anyOf.length === 1 ? `the scope ${anyOf[0]}` : `one of the scopes ${anyOf.join(', ')}`;
  throw new AppiaError('forbidden', `Insufficient privileges: this operation needs ${needed}.`);
}

function keyResolver(keys: VerifierKeys, fetchImpl: FetchLike | undefined, now: () => number): JWTVerifyGetKey {
  switch (keys.kind) {
    case 'local': {
      // The embedded issuer hands out one frozen key set; rebuild only if it
      // hands out another, so imported keys stay cached between requests.
      let source: PublicKeySet | undefined;
      let resolver: ReturnType<typeof createLocalJWKSet> | undefined;
      return (header, token) => {
        const current = keys.jwks();
        if (current !== source || resolver === undefined) {
          resolver = createLocalJWKSet(current as JSONWebKeySet);
          source = current;
        }
        return resolver(header, token);
      };
    }
    case 'remote':
      return createRemoteJwks({
        url: keys.jwksUrl,
        now,
        ...(fetchImpl ? { fetch: fetchImpl } : {}),
        ...(keys.cooldownMs !== undefined ? { cooldownMs: keys.cooldownMs } : {}),
        ...(keys.maxAgeMs !== undefined ? { maxAgeMs: keys.maxAgeMs } : {}),
        ...(keys.timeoutMs !== undefined ? { timeoutMs: keys.timeoutMs } : {}),
      }).getKey;
    default: {
      const unknown: never = keys;
      throw new TypeError(`unknown key source ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * The compact JWT of an `Authorization: Bearer` header, checked for shape
 * only (no signature); throws AppiaError `invalidToken` naming what is wrong.
 *
 * @example
 * const token = bearerToken(request.headers.authorization);
 */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') {
    throw new AppiaError('invalidToken', 'Access token is empty: send Authorization: Bearer <token>.');
  }
  // RFC 7235: the scheme is case-insensitive.
  const match = /^\s*Bearer[ \t]+([^\s]+)\s*$/i.exec(header);
  if (!match) throw new AppiaError('invalidToken', 'The Authorization header must use the Bearer scheme with one token.');
  const token = match[1]!;
  if (token.length > MAX_TOKEN_LENGTH) throw new AppiaError('invalidToken', 'The access token is too long.');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token)) {
    throw new AppiaError('invalidToken', 'The access token is malformed: it is not a compact JWT.');
  }
  return token;
}

/** Maps jose's failures to messages that say what is wrong, never the token. */
function toAppiaError(err: unknown): AppiaError {
  if (err instanceof AppiaError) return err;
  const invalid = (message: string) => new AppiaError('invalidToken', message, { cause: err });
  if (err instanceof errors.JWTExpired) return invalid('Lifetime validation failed, the token is expired.');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
        return invalid('Lifetime validation failed, the token is not yet valid (nbf).');
      case 'iss':
        return invalid('The token was issued by an issuer this server does not trust (iss).');
      case 'aud':
        return invalid('The token is meant for another audience (aud).');
      case 'exp':
        return invalid('The token has no valid expiry (exp).');
      default:
        return invalid(`The token's ${err.claim} claim is invalid.`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return invalid("The token's signing algorithm is not allowed.");
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid("The token's signature is invalid.");
  if (err instanceof errors.JWKSNoMatchingKey) return invalid('No signing key of the issuer matches the token (kid).');
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid('The token names no key (kid) and the issuer has several.');
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return invalid('The access token is malformed.');
  }
  return invalid('The access token could not be verified.');
}
