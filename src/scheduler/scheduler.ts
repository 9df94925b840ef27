import type { FastifyBaseLogger } from 'fastify';
import type { Timers } from '../core/timers.js';

/**
 * The loop that runs the core's durable timers (core/timers.ts: what fires
 * and what firing does) on this node: every tick it fires what is due, and
 * every sweep interval it wakes the nodes of devices whose commands still
 * wait for delivery (DESIGN 1: a lost wake-up only delays a command).
 */
export interface SchedulerDeps {
  readonly timers: Timers;
  /** the receipt timeout (DESIGN 8): sets the default sweep interval */
  readonly receiptTimeoutMs: number;
  readonly log: Pick<FastifyBaseLogger, 'warn' | 'error'>;
  readonly options?: SchedulerOptions;
}

export interface SchedulerOptions {
  /** how often the store is asked for due timers (default 200 ms; DESIGN 8: fire within 1 s) */
  readonly tickMs?: number;
  /** most due commands handled at once (default 100) */
  readonly batch?: number;
  /**
   * how long a command may wait for delivery on a present device before the
   * sweep wakes its node again, and how often the sweep runs (default: the
   * receipt timeout, kept within 250 ms .. 5 s)
   */
  readonly sweepMs?: number;
}

export interface Scheduler {
  /** stops the loop and waits for the pass in progress */
  close(): Promise<void>;
  /** fires whatever is due now and returns how many commands it handled (tests, diagnostics) */
  runDue(): Promise<number>;
  /** runs the undelivered-command sweep now and returns how many it woke */
  sweep(): Promise<number>;
}

const MAX_ROUNDS_PER_TICK = 20;

/**
 * Starts this node's timer loop (main wiring calls it once per process).
 *
 * @example
 * const scheduler = startScheduler({ timers: core.timers, receiptTimeoutMs: config.receiptTimeoutMs, log: app.log });
 * // ... on shutdown:
 * await scheduler.close();
 */
export function startScheduler(deps: SchedulerDeps): Scheduler {
  const { timers, log, options = {} } = deps;
  const tickMs = options.tickMs ?? 200;
  const batch = options.batch ?? 100;
  const sweepMs = options.sweepMs ?? clamp(deps.receiptTimeoutMs || 5_000, 250, 5_000);
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  let nextSweepAt = Date.now() + sweepMs;

  const runDue = async (): Promise<number> => {
    let handled = 0;
    for (let round = 0; round < MAX_ROUNDS_PER_TICK && !closed; round++) {
      const outcome = await timers.runDue(batch);
      handled += outcome.handled;
      for (const { commandId, error } of outcome.failures) {
        log.warn({ err: error, commandId }, 'a due timer could not be fired; it stays due');
      }
      // A full batch may hide more due work; a failure means the rest can wait for the next tick.
      if (outcome.handled < batch || outcome.failures.length > 0) break;
    }
    return handled;
  };
  const sweep = () => timers.sweep(sweepMs, batch * 10);

  const tick = async (): Promise<void> => {
    try {
      await runDue();
      if (Date.now() >= nextSweepAt) {
        nextSweepAt = Date.now() + sweepMs;
        await sweep();
      }
    } catch (err) {
      // e.g. the store is briefly unreachable: the timers are still stored, the next tick retries
      log.warn({ err }, 'scheduler pass failed; retrying on the next tick');
    }
  };
  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      pass = tick().finally(schedule);
    }, tickMs);
    // the loop alone must not keep a process alive
    timer.unref();
  };
  schedule();

  return {
    runDue,
    sweep,
    async close() {
      closed = true;
      clearTimeout(timer);
      await pass;
    },
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
