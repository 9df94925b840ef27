import { LatencyRecorder, type LatencySummary } from './latency.js';
import { errorText, now, settlesWithin } from './time.js';

export interface PacedOptions {
  /** requests started per second, whatever the answers' pace */
  readonly ratePerSecond: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** one request; `seq` counts from 0 */
  readonly send: (seq: number) => Promise<void>;
  /** beyond this many in flight, due requests are skipped (and counted) */
  readonly maxOutstanding?: number;
  readonly drainTimeoutMs?: number;
}

export interface PacedResult {
  readonly ratePerSecond: number;
  /** requests of the window that finished, per second of the window */
  readonly achievedPerSecond: number;
  readonly latency: LatencySummary;
  readonly errors: number;
  readonly firstError?: string;
  readonly skipped: number;
  readonly unfinished: number;
}

/**
 * Open-loop load at a fixed rate, for latency under a realistic load rather
 * than at saturation. Latency runs from when a request was due, not from when
 * it was sent, so a stalled sender shows up in the figures instead of
 * silently lowering the rate (no coordinated omission).
 *
 * @example
 * const r = await runPaced({ ratePerSecond: 500, warmupMs: 500, durationMs: 5000,
 *   send: (seq) => requester.send(seq % 100) });
 */
export async function runPaced(options: PacedOptions): Promise<PacedResult> {
  const { ratePerSecond, warmupMs, durationMs, send } = options;
  const maxOutstanding = options.maxOutstanding ?? 10_000;
  const recorder = new LatencyRecorder();
  const startedAt = now();
  const measureFrom = startedAt + warmupMs;
  const endAt = measureFrom + durationMs;
  const intervalMs = 1000 / ratePerSecond;
  let issued = 0;
  let inFlight = 0;
  let errors = 0;
  let skipped = 0;
  let firstError: string | undefined;
  let settleAll: () => void = () => {};
  const allSettled = new Promise<void>((resolve) => (settleAll = resolve));
  let issuing = true;

  const issue = (seq: number, dueAt: number): void => {
    const measured = dueAt >= measureFrom;
    if (inFlight >= maxOutstanding) {
      if (measured) skipped++;
      return;
    }
    inFlight++;
    send(seq).then(
      () => {
        if (measured) recorder.record(now() - dueAt);
      },
      (error: unknown) => {
        if (measured) errors++;
        firstError ??= errorText(error);
      },
    ).finally(() => {
      inFlight--;
      if (!issuing && inFlight === 0) settleAll();
    });
  };

  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = Math.min(now(), endAt);
      while (startedAt + issued * intervalMs < t) {
        issue(issued, startedAt + issued * intervalMs);
        issued++;
      }
      if (t >= endAt) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  issuing = false;
  if (inFlight === 0) settleAll();
  const drained = await settlesWithin(allSettled, options.drainTimeoutMs ?? 15_000);
  const latency = recorder.summary();
  return {
    ratePerSecond,
    achievedPerSecond: latency.count / (durationMs / 1000),
    latency,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    skipped,
    unfinished: drained ? 0 : inFlight,
  };
}
