import { LatencyRecorder, type LatencySummary } from './latency.js';
import { errorText, now, settlesWithin, sleep } from './time.js';

export interface ClosedLoopOptions {
  /** requests kept in flight: each finished request immediately starts the next */
  readonly outstanding: number;
  /** run, but do not count, this long first (connections, JIT, caches) */
  readonly warmupMs: number;
  /** the measured window */
  readonly durationMs: number;
  /** one request; `slot` (0 .. outstanding-1) says which of the loops sends it */
  readonly send: (slot: number) => Promise<void>;
  /** how long to wait for requests still in flight after the window */
  readonly drainTimeoutMs?: number;
}

export interface ClosedLoopResult {
  /** requests that finished inside the measured window */
  readonly completed: number;
  readonly perSecond: number;
  readonly latency: LatencySummary;
  readonly errors: number;
  readonly firstError?: string;
  /** requests still in flight when the drain timeout passed */
  readonly unfinished: number;
}

/**
 * Closed-loop load: `outstanding` loops each send a request, await it and
 * send the next. Throughput is the requests that finished inside the window;
 * latency is measured from send to finish for those same requests.
 *
 * @example
 * const r = await runClosedLoop({ outstanding: 200, warmupMs: 1000, durationMs: 5000,
 *   send: (slot) => requester.send(slot % 100) });
 * console.log(r.perSecond, r.latency.p99);
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { outstanding, warmupMs, durationMs, send } = options;
  const recorder = new LatencyRecorder();
  const measureFrom = now() + warmupMs;
  const endAt = measureFrom + durationMs;
  let errors = 0;
  let firstError: string | undefined;
  let inFlight = 0;

  async function loop(slot: number): Promise<void> {
    // Checking the clock on every turn (rather than waiting for a timer)
    // ends the loop even when `send` settles without yielding to timers.
    while (now() < endAt) {
      const startedAt = now();
      inFlight++;
      try {
        await send(slot);
        const finishedAt = now();
        if (finishedAt >= measureFrom && finishedAt <= endAt) recorder.record(finishedAt - startedAt);
      } catch (error) {
        if (startedAt >= measureFrom) errors++;
        firstError ??= errorText(error);
        await sleep(10); // a failing target must not turn into a busy loop
      } finally {
        inFlight--;
      }
    }
  }

  const loops = Promise.all(Array.from({ length: outstanding }, (_, slot) => loop(slot)));
  const drained = await settlesWithin(loops, warmupMs + durationMs + (options.drainTimeoutMs ?? 15_000));
  const latency = recorder.summary();
  return {
    completed: latency.count,
    perSecond: latency.count / (durationMs / 1000),
    latency,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    unfinished: drained ? 0 : inFlight,
  };
}
