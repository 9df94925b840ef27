import { subjects } from '../bus/bus.js';
import type { CommandRecord } from '../domain/command.js';
import { DEFAULT_CANCEL_RESEND_MS, policyOf, type TimerAction } from '../domain/policy.js';
import type { CoreContext } from './context.js';
import type { StatusWriter } from './writer.js';

export interface TimerOptions {
  /**
   * how long a claimed timer is held while it is being fired; if the node
   * dies in between, another fires it after this (default 10 s)
   */
  readonly leaseMs?: number;
}

/**
 * The durable timers of DESIGN 3 and 8. A timer is not held in memory: it is
 * the command's `dueAt` (or its `expiresAt`) in the store, so it survives a
 * restart and any node may fire it. What firing does is the policy's
 * (domain/policy.ts); each timer is claimed first (a compare-and-set on the
 * command's status and due time, or the lifecycle's own), so two nodes never
 * fire one timer twice.
 */
export class Timers {
  readonly #ctx: CoreContext;
  readonly #writer: StatusWriter;
  readonly #leaseMs: number;
  /** how long a woken node has to send a `retry` before it is woken again */
  readonly #redeliverMs: number;

  constructor(ctx: CoreContext, writer: StatusWriter, options: TimerOptions = {}) {
    this.#ctx = ctx;
    this.#writer = writer;
    this.#leaseMs = options.leaseMs ?? 10_000;
    const receipt = ctx.timings.receiptTimeoutMs;
    this.#redeliverMs = receipt > 0 ? Math.max(receipt, 250) : this.#leaseMs;
  }

  /** Fires up to `limit` timers due now; resolves with how many it handled and the failures (each stays due). */
  async runDue(limit: number): Promise<{ handled: number; failures: { commandId: string; error: unknown }[] }> {
    const now = this.#ctx.now();
    const due = await this.#ctx.store.listDue(now, limit);
    const outcomes = await Promise.allSettled(due.map((command) => this.#fire(command, now)));
    const failures = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ commandId: due[i]!.id, error: o.reason as unknown }] : []));
    return { handled: due.length, failures };
  }

  /**
   * Wakes the node of every present device whose commands have waited for
   * delivery longer than `waitedMs`: the bus is only a wake-up signal, so a
   * lost message delays a command but never strands it (DESIGN 1).
   */
  async sweep(waitedMs: number, limit: number): Promise<number> {
    const waiting = await this.#ctx.store.listUndelivered(this.#ctx.now() - waitedMs, limit);
    for (const command of waiting) this.#wake(command, 'deliver');
    return waiting.length;
  }

  async #fire(command: CommandRecord, now: number): Promise<void> {
    // DESIGN 3: any non-final -> expired. The lifecycle's compare-and-set lets exactly one node win.
    if (command.expiresAt <= now) {
      await this.#writer.apply(command.id, 'expire', { detail: 'its expirationDateTime passed' }, command);
      return;
    }
    if (command.dueAt === null || command.dueAt > now) return;
    const timer = policyOf(command.status).timer;
    // No timer belongs to this status: drop it, so it is not listed again.
    if (timer === null) return void (await this.#claim(command, null));
    return this.#act(command, timer.onFire, now);
  }

  async #act(command: CommandRecord, action: TimerAction, now: number): Promise<void> {
    switch (action.kind) {
      case 'event': {
        if (!(await this.#claim(command, now + this.#leaseMs))) return;
        if (action.event === 'deliveryFailed') {
          await this.#writer.deliveryFailed(command.id, `${action.detail} (${this.#ctx.timings.receiptTimeoutMs} ms)`, command);
        } else {
          await this.#writer.apply(command.id, action.event, { detail: action.detail }, command);
        }
        return;
      }
      case 'wakeDelivery':
        return this.#redeliver(command, now);
      case 'wakeCancel':
        // Until the device hears it: its node is asked again once per re-send interval.
        if (await this.#claim(command, now + (this.#ctx.timings.cancelTimeoutMs || DEFAULT_CANCEL_RESEND_MS))) this.#wake(command, 'cancel');
        return;
    }
  }

  /** The backoff is over: wake the node holding the device's connection, or park the command while the device is away. */
  async #redeliver(command: CommandRecord, now: number): Promise<void> {
    const device = await this.#ctx.store.getDevice(command.userId, command.deviceId);
    if (!device || device.status === 'Offline') {
      // DESIGN 3: the next attempt is made at once when the device reconnects (every open command
      // is sent on connect). Parked with no timer, it uses no attempts while away and still expires.
      await this.#claim(command, null);
      return;
    }
    // If no node sends it within this time (the connection is gone, a message was lost), the
    // timer comes due again. Only a send counts as an attempt.
    if (await this.#claim(command, now + this.#redeliverMs)) this.#wake(command, 'deliver');
  }

  #claim(command: CommandRecord, nextDueAt: number | null): Promise<boolean> {
    return this.#ctx.store.claimTimer(command.id, command.status, command.dueAt!, nextDueAt);
  }

  #wake(command: CommandRecord, kind: 'deliver' | 'cancel'): void {
    this.#ctx.bus.publish(subjects.device(command.deviceId), { kind, deviceId: command.deviceId, commandId: command.id });
  }
}
