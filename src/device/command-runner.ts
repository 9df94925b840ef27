import type { OutboxEntry } from './outbox.js';
import type { CommandReport, DeviceCommand } from './protocol.js';
import type { CommandContext, CommandHandler, DeviceLogger } from './types.js';

/** What the runner needs from the connection. */
export interface RunnerDeps {
  /** queues a new report (and sends it if the socket is open) */
  send(report: CommandReport, command?: DeviceCommand): OutboxEntry;
  /** sends a pending report again now, under its own ref */
  resend(entry: OutboxEntry): void;
  isPending(entry: OutboxEntry): boolean;
  /** the handler for a command, or the error text to fail it with */
  findHandler(command: DeviceCommand): CommandHandler | string;
  /** runs `fn` after the current tick's promise jobs (setImmediate), in call order */
  defer(fn: () => void): void;
  readonly logger: DeviceLogger;
}

interface Job {
  readonly command: DeviceCommand;
  readonly abort: AbortController;
  phase: 'waiting' | 'running' | 'finished';
  /** `received`, or `dropped` for a command refused in standby */
  receipt: OutboxEntry | undefined;
  /** the device is stopping: the handler was given up on and the command reported failed */
  stopped: boolean;
  /** the report that ended it: completed, failed, dropped or canceled */
  final: OutboxEntry | undefined;
}

/** DESIGN 4: the error of a command the server resumes but this device does not know (it restarted and lost it) */
export const LOST_BY_THE_DEVICE = 'lost by the device';
/** DESIGN 4: the error of a command still running when the device stopped after its grace period */
export const THE_DEVICE_STOPPED = 'the device stopped';

/** how many command ids whose outcome the server recorded are remembered, to ignore a late duplicate */
const REMEMBERED_IDS = 10_000;
/** how many finished commands whose final report was refused are kept, to send it again on a redelivery */
const KEPT_REFUSED = 1_000;

/**
 * Runs commands and turns their outcomes into reports (DESIGN 4): `received`
 * as soon as the frame is read, then `completed` / `failed` / `canceled`, or `dropped` in standby.
 * A command delivered again (same id) is never run twice: its latest reports
 * are sent again instead, so the server can settle it.
 */
export class CommandRunner {
  readonly #deps: RunnerDeps;
  readonly #jobs = new Map<string, Job>();
  readonly #recorded = new BoundedSet(REMEMBERED_IDS);
  readonly #refused = new BoundedSet(KEPT_REFUSED);
  #accepting = true;
  #active = 0;
  #idleWaiters: Array<() => void> = [];
  /** while true, new commands are answered `dropped` (Windows ConnectedStandby) */
  standby = false;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
  }

  /**
   * DESIGN 4, `{"t":"command"}`. `resumed`: the server's record shows this
   * device already had it (it was executing); a device that does not know it
   * (this process restarted) answers `failed` "lost by the device" instead of
   * running it, so it does not wait for its expiry.
   */
  onCommand(command: DeviceCommand, resumed = false): void {
    const known = this.#jobs.get(command.id);
    if (known) return this.#redelivered(known);
    if (this.#recorded.has(command.id)) {
      this.#deps.logger.debug?.(`command ${command.id} delivered again after its outcome was recorded; ignored`);
      return;
    }
    if (resumed) {
      this.#deps.logger.info?.(`command ${command.id} was running on this device before it restarted; reporting it lost`);
      const job: Job = { command, abort: new AbortController(), phase: 'finished', receipt: undefined, final: undefined, stopped: false };
      this.#jobs.set(command.id, job);
      this.#trackFinal(job, this.#deps.send({ t: 'failed', id: command.id, error: LOST_BY_THE_DEVICE }, command));
      return;
    }
    if (!this.#accepting) {
      // Draining: leave it unreceived, so the server delivers it again on the next connection.
      this.#deps.logger.debug?.(`command ${command.id} arrived while draining; left for redelivery`);
      return;
    }
    const job: Job = { command, abort: new AbortController(), phase: 'waiting', receipt: undefined, final: undefined, stopped: false };
    this.#jobs.set(command.id, job);
    const inStandby = this.standby;
    if (!inStandby) this.#active++;
    // Deferred past the current tick, in arrival order: commands that were waiting for the device
    // can arrive with the handshake itself, before the caller of connect() has had a chance to
    // register handlers or subscribe to status().
    this.#deps.defer(() => {
      if (job.stopped) return;
      if (inStandby) {
        this.#finish(job, { t: 'dropped', id: command.id });
        job.receipt = job.final;
        return;
      }
      job.receipt = this.#deps.send({ t: 'received', id: command.id }, command);
      void this.#run(job);
    });
  }

  /** DESIGN 4, `{"t":"cancel","id"}`. */
  onCancel(id: string): void {
    const job = this.#jobs.get(id);
    if (!job) {
      if (this.#recorded.has(id)) return;
      // Never seen (or long forgotten): nothing runs here, so it is canceled as far as this device knows.
      this.#deps.logger.debug?.(`cancel for unknown command ${id}: reporting canceled`);
      this.#deps.send({ t: 'canceled', id });
      return;
    }
    if (job.phase === 'finished') return;
    job.abort.abort(new DOMException('the command was canceled', 'AbortError'));
  }

  /** Stops taking new commands (drain): they stay undelivered for the next connection. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Resolves when no handler is running or about to run. */
  whenIdle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * DESIGN 4, graceful stop: every handler still running is given up on:
   * its signal is aborted and its command reported `failed` "the device
   * stopped" at once. Resolves with how many there were.
   */
  stopRunning(): number {
    this.#accepting = false;
    let stopped = 0;
    for (const job of this.#jobs.values()) {
      if (job.phase !== 'running' && job.phase !== 'waiting') continue;
      stopped++;
      job.stopped = true;
      job.abort.abort(new DOMException(THE_DEVICE_STOPPED, 'AbortError'));
      this.#finish(job, { t: 'failed', id: job.command.id, error: THE_DEVICE_STOPPED });
    }
    return stopped;
  }

  /** Aborts every handler (the connection is closed for good); their outcomes are not reported. */
  abortAll(reason: string): void {
    this.#accepting = false;
    for (const job of this.#jobs.values()) {
      if (job.phase !== 'finished') job.abort.abort(new DOMException(reason, 'AbortError'));
    }
  }

  async #run(job: Job): Promise<void> {
    const { command } = job;
    let report: CommandReport;
    const found = job.abort.signal.aborted ? undefined : this.#deps.findHandler(command);
    if (found === undefined) {
      report = { t: 'canceled', id: command.id };
    } else if (typeof found === 'string') {
      report = { t: 'failed', id: command.id, error: found };
    } else {
      job.phase = 'running';
      try {
        const result = await found(command, this.#context(job));
        report = job.abort.signal.aborted ? { t: 'canceled', id: command.id } : completedReport(command.id, result);
      } catch (err) {
        report = job.abort.signal.aborted ? { t: 'canceled', id: command.id } : { t: 'failed', id: command.id, error: errorText(err) };
      }
    }
    // given up on while the device stopped: already reported failed
    if (!job.stopped) this.#finish(job, report);
    if (--this.#active === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #context(job: Job): CommandContext {
    return {
      ...job.command,
      signal: job.abort.signal,
      progress: async (text: string) => {
        if (job.phase !== 'running' || job.abort.signal.aborted) return false;
        const entry = this.#deps.send({ t: 'progress', id: job.command.id, customStatus: String(text) }, job.command);
        return (await entry.settled).kind === 'acked';
      },
    };
  }

  #finish(job: Job, report: CommandReport): void {
    job.phase = 'finished';
    this.#trackFinal(job, this.#deps.send(report, job.command));
  }

  #trackFinal(job: Job, entry: OutboxEntry): void {
    job.final = entry;
    void entry.settled.then((outcome) => {
      if (job.final !== entry) return; // replaced by a re-send on redelivery
      if (outcome.kind === 'acked') {
        this.#forget(job.command.id);
      } else if (outcome.kind === 'nacked') {
        // Kept for a while: a redelivery (after the server reconciled) sends it again under a new ref.
        const evicted = this.#refused.add(job.command.id);
        if (evicted !== undefined) this.#forget(evicted);
      }
    });
  }

  #forget(id: string): void {
    this.#jobs.delete(id);
    this.#refused.delete(id);
    this.#recorded.add(id);
  }

  /**
   * DESIGN 4: the server delivers a command again after a reconnect when it
   * has not recorded the receipt. Not run twice: the receipt (and the final
   * report, if any) are sent again, so the record catches up.
   */
  #redelivered(job: Job): void {
    this.#deps.logger.debug?.(`command ${job.command.id} delivered again; sending its reports again instead of running it twice`);
    if (job.receipt && job.receipt !== job.final) job.receipt = this.#again(job.receipt, job.command);
    if (job.final) {
      const again = this.#again(job.final, job.command);
      if (job.receipt === job.final) job.receipt = again;
      if (again !== job.final) this.#trackFinal(job, again);
    }
  }

  /** a pending report goes again under its ref; an answered one goes again under a new ref */
  #again(entry: OutboxEntry, command: DeviceCommand): OutboxEntry {
    if (this.#deps.isPending(entry)) {
      this.#deps.resend(entry);
      return entry;
    }
    return this.#deps.send(entry.report as CommandReport, command);
  }
}

/** The handler's answer as a `completed` report, or a `failed` one when it is not a JSON object. */
export function completedReport(id: string, result: unknown): CommandReport {
  if (result === undefined || result === null) return { t: 'completed', id, responsePayload: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(JSON.stringify(result));
  } catch (err) {
    return { t: 'failed', id, error: `the handler's answer is not JSON: ${errorText(err)}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const what = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`;
    return { t: 'failed', id, error: `the handler must return a JSON object (or nothing), not ${what}` };
  }
  return { t: 'completed', id, responsePayload: parsed as Record<string, unknown> };
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name || 'the handler failed';
  if (typeof err === 'string' && err) return err;
  return `the handler failed: ${String(err)}`;
}

/** A Set that forgets its oldest members past a size. */
class BoundedSet {
  readonly #items = new Set<string>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  has(id: string): boolean {
    return this.#items.has(id);
  }
  /** adds; returns the member evicted to make room, if any */
  add(id: string): string | undefined {
    this.#items.delete(id);
    this.#items.add(id);
    if (this.#items.size <= this.#max) return undefined;
    const oldest = this.#items.values().next().value as string;
    this.#items.delete(oldest);
    return oldest;
  }
  delete(id: string): void {
    this.#items.delete(id);
  }
}
