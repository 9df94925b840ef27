import type { DeviceFrame, Report } from './protocol.js';

/** How a report ended: recorded by the server, refused, or abandoned when the connection closed. */
export type ReportOutcome =
  | { readonly kind: 'acked' }
  | { readonly kind: 'nacked'; readonly error: string }
  | { readonly kind: 'abandoned' };

/** One report and its `ref`, kept until the server answers for it. */
export interface OutboxEntry {
  readonly ref: string;
  readonly report: Report;
  /** the JSON text sent on the wire (the same text on every re-send) */
  readonly text: string;
  /** undefined while the server has not answered */
  outcome: ReportOutcome | undefined;
  readonly settled: Promise<ReportOutcome>;
}

/**
 * DESIGN 4: every report carries a device-chosen `ref` and is kept until the
 * server acks it; unacked reports are sent again, in order, after a
 * reconnect. A nack is final for that report.
 *
 * Refs are a random prefix chosen per outbox and a counter, so they are
 * unique across connections and across restarts of the device program.
 */
export class Outbox {
  readonly #prefix: string;
  #counter = 0;
  /** insertion order = send order */
  readonly #pending = new Map<string, OutboxEntry & { resolve(outcome: ReportOutcome): void }>();
  #emptyWaiters: Array<() => void> = [];
  #closed = false;

  constructor(randomBytes: (n: number) => Uint8Array) {
    this.#prefix = Buffer.from(randomBytes(9)).toString('base64url');
  }

  /** Queues a report under a new ref. After `close()` the entry is abandoned at once. */
  add(report: Report): OutboxEntry {
    const ref = `${this.#prefix}.${(++this.#counter).toString(36)}`;
    let resolve!: (outcome: ReportOutcome) => void;
    const settled = new Promise<ReportOutcome>((r) => (resolve = r));
    const frame: DeviceFrame = { ...report, ref };
    const entry: OutboxEntry & { resolve(outcome: ReportOutcome): void } = { ref, report, text: JSON.stringify(frame), outcome: undefined, settled, resolve };
    if (this.#closed) {
      entry.outcome = { kind: 'abandoned' };
      resolve(entry.outcome);
    } else {
      this.#pending.set(ref, entry);
    }
    return entry;
  }

  /** Records the server's answer; returns the entry, or undefined for a ref that is not pending (a second ack). */
  settle(ref: string, outcome: ReportOutcome): OutboxEntry | undefined {
    const entry = this.#pending.get(ref);
    if (!entry) return undefined;
    this.#pending.delete(ref);
    entry.outcome = outcome;
    entry.resolve(outcome);
    if (this.#pending.size === 0) this.#wakeEmptyWaiters();
    return entry;
  }

  /** The reports not yet answered, oldest first. */
  pending(): IterableIterator<OutboxEntry> {
    return this.#pending.values();
  }

  isPending(entry: OutboxEntry): boolean {
    return this.#pending.has(entry.ref);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Resolves when no report is waiting for an answer. */
  whenEmpty(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  /** Abandons every pending report (their `settled` promises resolve `abandoned`); later adds are abandoned at once. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#pending.values()) {
      entry.outcome = { kind: 'abandoned' };
      entry.resolve(entry.outcome);
    }
    this.#pending.clear();
    this.#wakeEmptyWaiters();
  }

  #wakeEmptyWaiters(): void {
    const waiters = this.#emptyWaiters;
    this.#emptyWaiters = [];
    for (const wake of waiters) wake();
  }
}
