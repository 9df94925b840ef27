import { runClosedLoop } from './closed-loop.js';
import { cpuSnapshot, describeCpuUse } from './cpu.js';
import { runPaced } from './paced.js';
import type { Figure, ScenarioContext } from './scenario.js';
import { shape } from './shape.js';

/** Sends one request to responder `target` (0 .. responders-1) and resolves on its reply. */
export type SendRequest = (target: number) => Promise<void>;

/**
 * The common measurement of every request/response scenario (the baselines
 * and Appia end to end): a closed loop of `shape.outstanding` requests over
 * `shape.responders` responders, then a paced run at `timing.pacedRatePerSecond`.
 * Slot i of the closed loop always targets responder i % responders, so each
 * responder has the same share of the load.
 *
 * @example
 * const { figures, notes } = await measureRequestReply(context, (target) => requester.send(target));
 */
export async function measureRequestReply(
  context: ScenarioContext,
  send: SendRequest,
  options: {
    /** processes the benchmark did not start whose CPU use is worth showing (e.g. nats-server) */
    readonly watch?: readonly { name: string; pid: number }[];
  } = {},
): Promise<{ figures: Figure[]; notes: string[] }> {
  const { timing } = context;
  const notes: string[] = [];
  const watched = (): { name: string; pid: number }[] => [...context.processes.list(), ...(options.watch ?? [])];

  context.progress(`closed loop, ${shape.outstanding} outstanding, ${seconds(timing.warmupMs)} + ${seconds(timing.measureMs)}`);
  let cpuBefore = cpuSnapshot(watched());
  // the CPU figures cover the measured window only
  const warm = setTimeout(() => (cpuBefore = cpuSnapshot(watched())), timing.warmupMs);
  const closed = await runClosedLoop({
    outstanding: shape.outstanding,
    warmupMs: timing.warmupMs,
    durationMs: timing.measureMs,
    send: (slot) => send(slot % shape.responders),
  });
  clearTimeout(warm);
  notes.push(`closed loop ${describeCpuUse(cpuBefore, cpuSnapshot(watched()))}`);
  if (closed.errors > 0) notes.push(`closed loop: ${closed.errors} errors (first: ${closed.firstError})`);
  if (closed.unfinished > 0) notes.push(`closed loop: ${closed.unfinished} requests never finished`);

  context.progress(`paced ${timing.pacedRatePerSecond}/s, ${seconds(timing.pacedMs)}`);
  const paced = await runPaced({
    ratePerSecond: timing.pacedRatePerSecond,
    warmupMs: timing.pacedWarmupMs,
    durationMs: timing.pacedMs,
    send: (seq) => send(seq % shape.responders),
  });
  if (paced.errors > 0) notes.push(`paced: ${paced.errors} errors (first: ${paced.firstError})`);
  if (paced.skipped > 0) notes.push(`paced: ${paced.skipped} requests skipped (too many in flight)`);
  if (paced.unfinished > 0) notes.push(`paced: ${paced.unfinished} requests never finished`);

  const rate = timing.pacedRatePerSecond;
  return {
    figures: [
      { key: 'closedLoop.roundTripsPerSecond', label: 'closed loop round trips', value: closed.perSecond, unit: '/s', better: 'higher' },
      { key: 'closedLoop.p50Ms', label: 'closed loop p50', value: closed.latency.p50, unit: 'ms', better: 'lower' },
      { key: 'closedLoop.p99Ms', label: 'closed loop p99', value: closed.latency.p99, unit: 'ms', better: 'lower' },
      { key: 'closedLoop.maxMs', label: 'closed loop max', value: closed.latency.max, unit: 'ms', better: 'lower' },
      { key: 'paced.p50Ms', label: `paced ${rate}/s p50`, value: paced.latency.p50, unit: 'ms', better: 'lower' },
      { key: 'paced.p99Ms', label: `paced ${rate}/s p99`, value: paced.latency.p99, unit: 'ms', better: 'lower' },
      { key: 'paced.maxMs', label: `paced ${rate}/s max`, value: paced.latency.max, unit: 'ms', better: 'lower' },
    ],
    notes,
  };
}

/** Spreads requests over several requester connections by target. */
export function spread(requesters: readonly { send: SendRequest }[]): SendRequest {
  let next = 0;
  return (target) => requesters[next++ % requesters.length].send(target);
}

/**
 * Replies awaited by correlation id, with a coarse timeout: one sweep a
 * second instead of a timer per request, which would cost more than the
 * relaying being measured.
 */
export class PendingReplies {
  readonly #pending = new Map<number, { resolve: () => void; reject: (error: Error) => void; sentAt: number }>();
  readonly #sweep: NodeJS.Timeout;
  #next = 1;

  constructor(readonly timeoutMs: number = shape.requestTimeoutMs) {
    this.#sweep = setInterval(() => {
      const oldest = Date.now() - this.timeoutMs;
      for (const [id, entry] of this.#pending) {
        if (entry.sentAt >= oldest) break; // insertion order is send order
        this.#pending.delete(id);
        entry.reject(new Error(`no reply within ${this.timeoutMs} ms`));
      }
    }, 1000);
    this.#sweep.unref();
  }

  /** A new correlation id and the promise its reply settles. */
  open(): { id: number; reply: Promise<void> } {
    const id = this.#next++;
    const reply = new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, sentAt: Date.now() });
    });
    return { id, reply };
  }

  settle(id: number, error?: string): void {
    const entry = this.#pending.get(id);
    if (entry === undefined) return; // late (already timed out)
    this.#pending.delete(id);
    if (error === undefined) entry.resolve();
    else entry.reject(new Error(error));
  }

  fail(id: number, error: Error): void {
    const entry = this.#pending.get(id);
    if (entry === undefined) return;
    this.#pending.delete(id);
    entry.reject(error);
  }

  close(reason: string): void {
    clearInterval(this.#sweep);
    for (const entry of this.#pending.values()) entry.reject(new Error(reason));
    this.#pending.clear();
  }
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}
