/** How long to wait before reconnecting (milliseconds). */
export interface ReconnectOptions {
  /** the first wait; it doubles after each failed attempt (default 500) */
  readonly initialDelayMs?: number;
  /** the longest wait (default 30000) */
  readonly maxDelayMs?: number;
}

/**
 * The wait before reconnect attempt `attempt` (1, 2, 3, ...): doubles from
 * the initial delay up to the cap, then takes a random point in its upper
 * half, so that many devices dropped at once do not return in step.
 */
export function reconnectDelay(attempt: number, options: Required<ReconnectOptions>, random: () => number): number {
  const exponent = Math.min(Math.max(0, attempt - 1), 30);
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** exponent);
  return Math.round(base / 2 + (random() * base) / 2);
}
