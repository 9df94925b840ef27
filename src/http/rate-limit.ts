import ipaddr from 'ipaddr.js';

/**
 * DESIGN 8: so many events per second per key (a user's requests, a client
 * address's failed authentications), then 429 with Retry-After. A fixed
 * one-second window; the counts start over each second, so memory is
 * bounded by the keys seen in one second. 0 turns it off.
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #now: () => number;
  readonly #windowMs: number;
  #window = -1;
  #counts = new Map<string, number>();

  /** `windowMs`: the window the limit counts in (default one second; the pairing codes' guesses count per minute) */
  constructor(limitPerSecond: number, now: () => number = Date.now, windowMs = 1000) {
    this.#limit = limitPerSecond;
    this.#now = now;
    this.#windowMs = windowMs;
  }

  /** counts one event; true when it is within the limit */
  take(key: string): boolean {
    if (this.#limit <= 0) return true;
    const count = this.count(key) + 1;
    this.#counts.set(key, count);
    return count <= this.#limit;
  }

  /** true when `key` has used up this second's events (counts nothing) */
  exhausted(key: string): boolean {
    return this.#limit > 0 && this.count(key) >= this.#limit;
  }

  /** events of `key` in the current window */
  count(key: string): number {
    const window = Math.floor(this.#now() / this.#windowMs);
    if (window !== this.#window) {
      this.#window = window;
      this.#counts = new Map();
    }
    return this.#counts.get(key) ?? 0;
  }

  /** seconds until the current window ends, at least 1 */
  retryAfter(): number {
    return Math.max(1, Math.ceil((this.#windowMs - (this.#now() % this.#windowMs)) / 1000));
  }
}

/**
 * The key a client address is limited under: an IPv4 address (also when
 * mapped into IPv6), or the /64 of an IPv6 address, since one host commonly
 * holds a whole /64.
 */
export function clientKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
    else return `${v6.parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
  }
  return parsed.toString();
}

const socketKeys = new WeakMap<object, string>();

/**
 * `clientKey` of a request's peer address, worked out once per connection
 * (a keep-alive connection sends many requests from one address).
 */
export function connectionClientKey(socket: { readonly remoteAddress?: string | undefined }): string {
  let key = socketKeys.get(socket);
  if (key === undefined) socketKeys.set(socket, (key = clientKey(socket.remoteAddress ?? '')));
  return key;
}
