import { AppiaError } from '../domain/errors.js';

/** how long a caller refused for too many open streams is asked to wait */
const RETRY_AFTER_SECONDS = 5;

/**
 * DESIGN 8, APPIA_MAX_STREAMS_PER_USER: what one user may hold open on this
 * node at once, event streams and `Prefer: wait` requests together. Each
 * hold is taken before the work it guards begins and released when it ends.
 * 0 turns the limit off.
 */
export class HoldLimiter {
  readonly #limit: number;
  readonly #open = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Takes one hold for the user and returns its release (safe to call more
   * than once), or throws AppiaError `rateLimited` (429) when the user holds
   * the limit already.
   *
   * @example
   * const release = holds.take(userId);
   * try { await longWait(); } finally { release(); }
   */
  take(userId: string): () => void {
    const open = this.#open.get(userId) ?? 0;
    if (this.#limit > 0 && open >= this.#limit) {
      throw new AppiaError(
        'rateLimited',
        `this user already holds ${this.#limit} open event streams and Prefer: wait requests, the most allowed; close one first`,
        { retryAfter: RETRY_AFTER_SECONDS },
      );
    }
    this.#open.set(userId, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(userId) ?? 1) - 1;
      if (left > 0) this.#open.set(userId, left);
      else this.#open.delete(userId);
    };
  }
}
