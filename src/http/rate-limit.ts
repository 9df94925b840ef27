/**
 * DESIGN 8: requests per second per user, then 429 with Retry-After.
 * A fixed one-second window per user; 0 turns it off.
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #now: () => number;
  #window = -1;
  #counts = new Map<string, number>();

  constructor(limitPerSecond: number, now: () => number = Date.now) {
    this.#limit = limitPerSecond;
    this.#now = now;
  }

  /** true when the request may go ahead */
  take(userId: string): boolean {
    if (this.#limit <= 0) return true;
    const window = Math.floor(this.#now() / 1000);
    if (window !== this.#window) {
      this.#window = window;
      this.#counts = new Map();
    }
    const count = (this.#counts.get(userId) ?? 0) + 1;
    this.#counts.set(userId, count);
    return count <= this.#limit;
  }

  /** seconds until the current window ends, at least 1 */
  retryAfter(): number {
    return Math.max(1, Math.ceil((1000 - (this.#now() % 1000)) / 1000));
  }
}
