import { subjects } from '../bus/bus.js';
import type { StatusChange } from '../domain/change.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import { AppiaError, isAppiaError } from '../domain/errors.js';
import { transition, type LifecycleEvent } from '../domain/lifecycle.js';
import { timerDueAt } from '../domain/policy.js';
import type { ChainResult } from '../store/store.js';
import type { CoreContext } from './context.js';

/** Fields a status change may carry (the device's answer, its progress text, a failure). */
export interface ChangeFields {
  readonly detail?: string | null;
  readonly error?: string | null;
  readonly responsePayloadJson?: string | null;
  readonly customStatus?: string | null;
}

export type ApplyResult =
  | { readonly ok: true; readonly command: CommandRecord; readonly history: HistoryEntry }
  /** refused by the lifecycle; `command` is the record as it stands */
  | { readonly ok: false; readonly command: CommandRecord | undefined; readonly reason: string };

export type Decision = { readonly ok: true; readonly change: StatusChange } | { readonly ok: false; readonly reason: string };

/** how often a lost compare-and-set is re-read and re-decided before giving up */
export const CAS_ROUNDS = 8;

/**
 * The one writer of statuses (DESIGN 1 and 3): decides each change with the
 * lifecycle's transition function and the policy's timers, stores changes as
 * compare-and-sets (a lost race is re-read and re-decided), then announces
 * each stored change on the owner's subject (SSE, Prefer: wait).
 */
export class StatusWriter {
  readonly #ctx: CoreContext;
  readonly #stored: (command: CommandRecord) => void;

  /** `stored` hears of each stored change first, in this process (the final-status waiters) */
  constructor(ctx: CoreContext, stored: (command: CommandRecord) => void = () => {}) {
    this.#ctx = ctx;
    this.#stored = stored;
  }

  /** The change `event` makes to `record`, with its timer; refused when the lifecycle does not allow it. Pure but for the clock and jitter. */
  decide(record: Pick<CommandRecord, 'id' | 'status' | 'attempts'>, event: LifecycleEvent, fields: ChangeFields = {}): Decision {
    const decided = transition(record.status, event);
    if (!decided.ok) return decided;
    const at = this.#ctx.now();
    const attempts = event === 'sent' ? record.attempts + 1 : record.attempts;
    const { timings, random } = this.#ctx;
    return {
      ok: true,
      change: {
        commandId: record.id,
        from: record.status,
        to: decided.to,
        at,
        // the history says why: the caller's detail, else the device's progress text or failure
        detail: fields.detail ?? fields.customStatus ?? fields.error ?? null,
        ...(fields.error === undefined ? {} : { error: fields.error }),
        ...(fields.responsePayloadJson === undefined ? {} : { responsePayloadJson: fields.responsePayloadJson }),
        ...(fields.customStatus === undefined ? {} : { customStatus: fields.customStatus }),
        attempts,
        dueAt: timerDueAt(decided.to, at, attempts, timings, random()),
      },
    };
  }

  /** Stores a chain of decided changes in one transaction (a prefix applies) and announces what applied. */
  async commit(changes: readonly StatusChange[]): Promise<ChainResult> {
    const result = await this.#ctx.store.transitionChain(changes);
    for (const { command, history } of result.applied) this.announce(command, history);
    return result;
  }

  /**
   * Applies one event to a command. `known` is the caller's copy of the
   * record, to save a read; it is re-read when the compare-and-set finds it
   * stale. A store refusal other than an outage ends the command `error`
   * (DESIGN 3) and is answered as a refusal naming the reason.
   */
  async apply(commandId: string, event: LifecycleEvent, fields: ChangeFields = {}, known?: CommandRecord): Promise<ApplyResult> {
    let current = known ?? (await this.#ctx.store.getCommandById(commandId));
    for (let round = 0; round < CAS_ROUNDS; round++) {
      if (!current) return { ok: false, command: undefined, reason: 'no such command' };
      const decided = this.decide(current, event, fields);
      if (!decided.ok) return { ok: false, command: current, reason: decided.reason };
      let stored: ChainResult;
      try {
        stored = await this.commit([decided.change]);
      } catch (err) {
        if (event === 'fault' || !isInternalFault(err)) throw err;
        return this.#fault(current, event, err);
      }
      const applied = stored.applied[0];
      if (applied) return { ok: true, command: applied.command, history: applied.history };
      current = await this.#ctx.store.getCommandById(commandId);
    }
    throw new AppiaError('internal', `command ${commandId} kept changing under ${event}`);
  }

  /**
   * Records a failed delivery attempt (`retry`, with backoff) and, when the
   * attempts are used up, ends the command `failedToSend` (DESIGN 3: the last
   * attempt's `retry` is recorded first).
   */
  async deliveryFailed(commandId: string, detail: string, known?: CommandRecord): Promise<ApplyResult> {
    const result = await this.apply(commandId, 'deliveryFailed', { detail }, known);
    if (!result.ok) return result;
    const { maxAttempts } = this.#ctx.timings;
    if (maxAttempts > 0 && result.command.attempts >= maxAttempts) {
      // Graph clients read `error` on a failed command: say why there too.
      const why = `${result.command.attempts} delivery attempts failed (last: ${detail})`;
      return this.apply(commandId, 'attemptsExhausted', { detail: why, error: why }, result.command);
    }
    return result;
  }

  announce(command: CommandRecord, history: HistoryEntry): void {
    this.#ctx.observer?.changed(command, history);
    this.#stored(command);
    if (command.postBackUri !== null) this.#ctx.postbackQueued();
    this.#ctx.bus.publish(subjects.user(command.userId), {
      kind: 'status',
      userId: command.userId,
      deviceId: command.deviceId,
      commandId: command.id,
      status: command.status,
      historyId: history.id,
      ...(command.batchId === null ? {} : { batchId: command.batchId }),
    });
  }

  /**
   * DESIGN 3, `error`: the store refused to record a change for a reason that
   * retrying cannot cure. The command is ended `error` with the reason,
   * without the refused fields, so it never stays stuck.
   */
  async #fault(current: CommandRecord, event: LifecycleEvent, err: unknown): Promise<ApplyResult> {
    // The command's `error` is read by its owner over HTTP: it names the fault in the catalogue's
    // words (store adapters keep their driver's text out of those); the detail goes to the log only.
    const reason = `internal fault while recording ${event}${isAppiaError(err) ? `: ${err.message}` : ''}`;
    this.#ctx.log.warn({ err, commandId: current.id, event }, 'the store refused a status change; the command ends error');
    let faulted: ApplyResult;
    try {
      faulted = await this.apply(current.id, 'fault', { error: reason, detail: reason }, current);
    } catch {
      throw err;
    }
    return { ok: false, command: faulted.command, reason };
  }
}

/** Any store error except a passing outage (`unavailable`): the store will not take this change. */
export function isInternalFault(err: unknown): boolean {
  return !(isAppiaError(err) && err.code === 'unavailable');
}
