import type { FastifyBaseLogger } from 'fastify';
import { subjects } from '../bus/bus.js';
import type { CommandRecord } from '../domain/command.js';
import type { Config } from '../config.js';
import type { Engine } from '../service/engine.js';

/**
 * The durable timers of DESIGN 3 and 8. A timer is not held in memory: it is
 * the command's `dueAt` (or its `expiresAt`) in the store, so it survives a
 * restart and any node may fire it. Each node runs one loop that asks the
 * store what is due and fires it; a timer is claimed first (a compare-and-set
 * on the command's status and due time, or the lifecycle's own CAS), so two
 * nodes never fire one timer twice.
 *
 * What fires, by the status the command is in:
 * - any non-final, `expirationDateTime` passed -> `expired`
 * - `sentToTarget`: no receipt within the receipt timeout -> `retry` (with
 *   backoff), or `failedToSend` when the attempts are used up
 * - `retry`: the backoff is over -> the device's node is woken to send it
 *   again (`deliver` on the bus); when the device is away the command is
 *   parked until it reconnects, so waiting never burns attempts
 * - `cancel`: the cancel has not reached the device yet -> wake its node again
 * - `cancelling`: no answer within the cancel timeout -> `canceled`
 *
 * Beside the timers, a slow sweep wakes the node of every present device
 * that still has commands waiting for delivery: the bus is only a wake-up
 * signal, so a lost message delays a command but never strands it (DESIGN 1).
 */
export interface SchedulerDeps {
  readonly engine: Engine;
  readonly config: Pick<Config, 'receiptTimeoutMs' | 'cancelTimeoutMs'>;
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
  /**
   * how long a claimed timer is held while it is being fired; if the node
   * dies in between, another fires it after this (default 10 s)
   */
  readonly leaseMs?: number;
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
const DEFAULT_CANCEL_RESEND_MS = 30_000;

/**
 * Starts this node's timer loop (main wiring calls it once per process).
 *
 * @example
 * const scheduler = startScheduler({ engine, config, log: app.log });
 * // ... on shutdown:
 * await scheduler.close();
 */
export function startScheduler(deps: SchedulerDeps): Scheduler {
  const scheduler = new TimerLoop(deps);
  scheduler.start();
  return scheduler;
}

class TimerLoop implements Scheduler {
  readonly #engine: Engine;
  readonly #log: SchedulerDeps['log'];
  readonly #receiptTimeoutMs: number;
  readonly #tickMs: number;
  readonly #batch: number;
  readonly #sweepMs: number;
  readonly #leaseMs: number;
  /** how long a woken node has to send a `retry` before it is woken again */
  readonly #redeliverMs: number;
  /** how long a woken node has to send a cancel before it is woken again */
  readonly #cancelResendMs: number;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> = Promise.resolve();
  #closed = false;
  #nextSweepAt = 0;

  constructor(deps: SchedulerDeps) {
    const { config, options = {} } = deps;
    this.#engine = deps.engine;
    this.#log = deps.log;
    this.#receiptTimeoutMs = config.receiptTimeoutMs;
    this.#tickMs = options.tickMs ?? 200;
    this.#batch = options.batch ?? 100;
    this.#sweepMs = options.sweepMs ?? clamp(config.receiptTimeoutMs || 5_000, 250, 5_000);
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#redeliverMs = config.receiptTimeoutMs > 0 ? Math.max(config.receiptTimeoutMs, 250) : this.#leaseMs;
    this.#cancelResendMs = config.cancelTimeoutMs || DEFAULT_CANCEL_RESEND_MS;
  }

  start(): void {
    this.#nextSweepAt = this.#engine.now() + this.#sweepMs;
    this.#schedule();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#pass;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#pass = this.#tick().finally(() => this.#schedule());
    }, this.#tickMs);
    // the loop alone must not keep a process alive
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      await this.runDue();
      if (this.#engine.now() >= this.#nextSweepAt) {
        this.#nextSweepAt = this.#engine.now() + this.#sweepMs;
        await this.sweep();
      }
    } catch (err) {
      // e.g. the store is briefly unreachable: the timers are still stored, the next tick retries
      this.#log.warn({ err }, 'scheduler pass failed; retrying on the next tick');
    }
  }

  async runDue(): Promise<number> {
    let handled = 0;
    for (let round = 0; round < MAX_ROUNDS_PER_TICK && !this.#closed; round++) {
      const now = this.#engine.now();
      const due = await this.#engine.store.listDue(now, this.#batch);
      const outcomes = await Promise.allSettled(due.map((command) => this.#fire(command, now)));
      handled += due.length;
      let failed = false;
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status === 'rejected') {
          failed = true;
          this.#log.warn({ err: outcome.reason, commandId: due[i]!.id }, 'a due timer could not be fired; it stays due');
        }
      }
      // A full batch may hide more due work; a failure means the rest can wait for the next tick.
      if (due.length < this.#batch || failed) break;
    }
    return handled;
  }

  async sweep(): Promise<number> {
    const { store, bus } = this.#engine;
    const waiting = await store.listUndelivered(this.#engine.now() - this.#sweepMs, this.#batch * 10);
    for (const command of waiting) {
      bus.publish(subjects.device(command.deviceId), { kind: 'deliver', deviceId: command.deviceId, commandId: command.id });
    }
    return waiting.length;
  }

  async #fire(command: CommandRecord, now: number): Promise<void> {
    const engine = this.#engine;
    // DESIGN 3: any non-final -> expired. The lifecycle's compare-and-set lets exactly one node win.
    if (command.expiresAt <= now) {
      await engine.apply(command.id, 'expire', { detail: 'its expirationDateTime passed' }, command);
      return;
    }
    if (command.dueAt === null || command.dueAt > now) return;
    switch (command.status) {
      case 'sentToTarget':
        if (await this.#claim(command, now + this.#leaseMs)) {
          await engine.deliveryFailed(command.id, `no receipt within the receipt timeout (${this.#receiptTimeoutMs} ms)`, command);
        }
        return;
      case 'retry':
        return this.#redeliver(command, now);
      case 'cancel':
        // The cancel has not reached the device (its node missed the message, or the device is
        // away). DESIGN 3 allows `cancel -> canceled` only while it had not reached the device,
        // so it stays `cancel` and its node is asked again until the device hears it, finishes,
        // or the command expires.
        if (await this.#claim(command, now + this.#cancelResendMs)) {
          engine.bus.publish(subjects.device(command.deviceId), { kind: 'cancel', deviceId: command.deviceId, commandId: command.id });
        }
        return;
      case 'cancelling':
        if (await this.#claim(command, now + this.#leaseMs)) {
          await engine.apply(command.id, 'cancelTimedOut', { detail: 'the device did not confirm the cancel within the cancel timeout' }, command);
        }
        return;
      default:
        // No timer belongs to this status (the engine sets none): drop it, so it is not listed again.
        await this.#claim(command, null);
    }
  }

  /** `retry`'s backoff is over: wake the node holding the device's connection, or park it while the device is away. */
  async #redeliver(command: CommandRecord, now: number): Promise<void> {
    const { store, bus } = this.#engine;
    const device = await store.getDevice(command.userId, command.deviceId);
    if (!device || device.status === 'Offline') {
      // DESIGN 3: the next attempt is made at once when the device reconnects (the gateway sends
      // every open command on connect). Parked with no timer, it costs nothing while the device is
      // away, uses no attempts, and still expires.
      await this.#claim(command, null);
      return;
    }
    // If no node sends it within the lease (the device's connection is gone, a message was lost),
    // the timer comes due again and the node is woken again. Only a send counts as an attempt.
    if (await this.#claim(command, now + this.#redeliverMs)) {
      bus.publish(subjects.device(command.deviceId), { kind: 'deliver', deviceId: command.deviceId, commandId: command.id });
    }
  }

  #claim(command: CommandRecord, nextDueAt: number | null): Promise<boolean> {
    return this.#engine.store.claimTimer(command.id, command.status, command.dueAt!, nextDueAt);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
