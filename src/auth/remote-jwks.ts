import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AppiaError } from '../domain/errors.js';
import { assertTrustworthyUrl, fetchJsonObject, type FetchLike } from './fetch-json.js';

/** DESIGN 5: a new `kid` is picked up at most 30 s after the key appears. */
export const MAX_REFETCH_COOLDOWN_MS = 30_000;

export interface RemoteJwksOptions {
  readonly url: URL;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  /**
   * After a fetch (successful or not), how long before a token with an
   * unknown `kid`, or stale keys, may cause another. This is the rate limit
   * on the issuer and also the bound on how late a new key is seen: at most
   * 30000 (DESIGN 5). Default 10000.
   */
  readonly cooldownMs?: number;
  /** Keys older than this are refetched on the next request. Default 600000 (10 min). */
  readonly maxAgeMs?: number;
  /** Per fetch. Default 5000. */
  readonly timeoutMs?: number;
}

/** A key resolver for `jwtVerify`, plus a way to refetch at once. */
export interface RemoteJwks {
  readonly getKey: JWTVerifyGetKey;
  /** fetches now, ignoring the cooldown */
  reload(): Promise<void>;
}

/**
 * An issuer's JWKS, fetched on first use and cached. A token whose `kid` is
 * not in the cache triggers a refetch, unless one happened within the
 * cooldown (so tokens with made-up `kid`s cannot hammer the issuer). If the
 * issuer is unreachable when the cache goes stale, the cached keys keep
 * being used; only with no keys at all does verification fail, as
 * `unavailable`.
 *
 * jose's `createRemoteJWKSet` does the same but reads the wall clock itself;
 * this one takes the clock as a seam so the rate limit is tested without
 * sleeping. Key selection (kid, alg, kty, use) is still jose's.
 */
export function createRemoteJwks(options: RemoteJwksOptions): RemoteJwks {
  const cooldownMs = options.cooldownMs ?? 10_000;
  const maxAgeMs = options.maxAgeMs ?? 600_000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  if (!Number.isFinite(cooldownMs) || cooldownMs < 0 || cooldownMs > MAX_REFETCH_COOLDOWN_MS) {
    throw new RangeError(`the JWKS refetch cooldown must be 0..${MAX_REFETCH_COOLDOWN_MS} ms, got ${cooldownMs}`);
  }
  if (!(maxAgeMs >= cooldownMs)) throw new RangeError(`the JWKS cache age must be at least the cooldown, got ${maxAgeMs}`);
  if (!(timeoutMs > 0)) throw new RangeError(`the JWKS fetch timeout must be positive, got ${timeoutMs}`);
  assertTrustworthyUrl(options.url, 'the JWKS URL');

  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let inFlight: Promise<void> | undefined;

  async function fetchKeys(): Promise<void> {
    attemptedAt = now();
    const document = await fetchJsonObject(options.url, { fetch: options.fetch, timeoutMs, what: "issuer's JWKS" });
    try {
      keySet = createLocalJWKSet(document as unknown as JSONWebKeySet);
    } catch (err) {
      throw new AppiaError('unavailable', `the issuer's JWKS at ${options.url.href} is not a valid key set`, {
        cause: err,
        retryAfter: 5,
      });
    }
    fetchedAt = now();
  }

  /** One fetch at a time: concurrent requests share it. */
  function reload(): Promise<void> {
    inFlight ??= fetchKeys().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  const coolingDown = () => now() - attemptedAt < cooldownMs;

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (keySet === undefined) {
      if (inFlight === undefined && coolingDown()) {
        const wait = Math.max(1, Math.ceil((attemptedAt + cooldownMs - now()) / 1000));
        throw new AppiaError('unavailable', "the issuer's keys could not be fetched; retrying shortly", {
          retryAfter: wait,
        });
      }
      await reload();
    } else if (now() - fetchedAt >= maxAgeMs && (inFlight !== undefined || !coolingDown())) {
      // Stale but usable: an unreachable issuer must not lock every user out.
      await reload().catch(() => undefined);
    }
    try {
      return await keySet!(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // DESIGN 5: an unknown kid may be a freshly rotated key. Join a fetch
      // already under way; start one only outside the cooldown.
      if (inFlight === undefined && coolingDown()) throw err;
      await reload().catch(() => undefined);
      return keySet!(header, token);
    }
  };

  return { getKey, reload };
}
