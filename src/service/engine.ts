import { randomBytes, randomUUID } from 'node:crypto';
import { subjects, type Bus, type BusMessage } from '../bus/bus.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import { AppiaError, isAppiaError } from '../domain/errors.js';
import { commandIdSource } from '../domain/ids.js';
import { transition, type LifecycleEvent } from '../domain/lifecycle.js';
import { isFinal, type Status } from '../domain/status.js';
import type { Store, StatusChange, TransitionResult } from '../store/store.js';

/** The timings the engine needs (DESIGN 8); 0 turns a limit off. */
export interface EngineTimings {
  readonly receiptTimeoutMs: number;
  readonly retryBaseMs: number;
  readonly maxAttempts: number;
  readonly cancelTimeoutMs: number;
  readonly defaultTtlMs: number;
  readonly maxOpenCommands: number;
}

export interface EngineDeps {
  readonly store: Store;
  readonly bus: Bus;
  readonly timings: EngineTimings;
  readonly now?: () => number;
  /** [0, 1) — the jitter seam */
  readonly random?: () => number;
}

/** What a caller asked for, already validated by http/ (or a test). */
export type CommandInput = Pick<
  CommandRecord,
  'type' | 'payloadJson' | 'appServiceName' | 'packageFamilyName' | 'permissionTicket' | 'postBackUri'
> & {
  /** epoch ms; undefined = now + default TTL */
  readonly expiresAt?: number;
};

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

export const MAX_TTL_MS = 30 * 24 * 3600 * 1000;
const RETRY_CAP_MS = 5 * 60 * 1000;
/** how often a lost compare-and-set is re-read and re-decided before giving up */
const CAS_ROUNDS = 8;

/**
 * The one path by which statuses change (DESIGN 3): decide with the pure
 * transition function, store as a compare-and-set on the status it was made
 * from (re-read and re-decide on a lost race), then wake whoever listens:
 * the status subject of the owner (SSE, Prefer: wait) and, for new work, the
 * subject of the device (the node holding its connection).
 */
export class Engine {
  readonly store: Store;
  readonly bus: Bus;
  readonly timings: EngineTimings;
  readonly now: () => number;
  readonly #random: () => number;
  readonly #nextId = commandIdSource(pooledRandomBytes());
  /** per command: the change queued last and not yet committed, with the record it will produce */
  readonly #inFlight = new Map<string, InFlight>();
  readonly #finalWatchers = new Map<string, { readonly commands: Map<string, Set<() => void>>; readonly unsubscribe: () => void }>();

  constructor(deps: EngineDeps) {
    this.store = deps.store;
    this.bus = deps.bus;
    this.timings = deps.timings;
    this.now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
  }

  /** Stores a new command (`requesting`) and wakes its device's node. */
  async createCommand(
    userId: string,
    deviceId: string,
    input: CommandInput,
    options: { idempotencyKey?: string } = {},
  ): Promise<{ command: CommandRecord; created: boolean }> {
    const now = this.now();
    const expiresAt = input.expiresAt ?? now + (this.timings.defaultTtlMs || MAX_TTL_MS);
    const result = await this.store.createCommand(
      {
        id: this.#nextId(now),
        userId,
        deviceId,
        type: input.type,
        payloadJson: input.payloadJson,
        appServiceName: input.appServiceName,
        packageFamilyName: input.packageFamilyName,
        permissionTicket: input.permissionTicket,
        postBackUri: input.postBackUri,
        createdAt: now,
        expiresAt,
      },
      {
        ...(options.idempotencyKey === undefined
          ? {}
          : { idempotencyKey: options.idempotencyKey, idempotencyExpiresAt: now + 24 * 3600 * 1000 }),
        maxOpen: this.timings.maxOpenCommands,
      },
    );
    if (result.created && result.history) {
      this.#announce(result.command, result.history);
      this.bus.publish(subjects.device(deviceId), { kind: 'deliver', deviceId, commandId: result.command.id });
    }
    return { command: result.command, created: result.created };
  }

  /**
   * Applies a lifecycle event to a command. `known` is the caller's copy of
   * the record, to save a read on the hot path; it is re-read if stale.
   * Without one, a change of this command that is queued but not yet
   * committed is decided upon as if it had landed (see `predicted`).
   */
  async apply(commandId: string, event: LifecycleEvent, fields: ChangeFields = {}, known?: CommandRecord): Promise<ApplyResult> {
    let current = known ?? this.predicted(commandId) ?? (await this.store.getCommandById(commandId));
    for (let round = 0; round < CAS_ROUNDS; round++) {
      if (!current) return { ok: false, command: undefined, reason: 'no such command' };
      const result = await this.tryApply(event, fields, current);
      if (result) return result;
      current = await this.store.getCommandById(commandId);
    }
    throw new AppiaError('internal', `command ${commandId} kept changing under ${event}`);
  }

  /**
   * One compare-and-set attempt of `event` on `known`. When the lifecycle
   * allows it, the store write is queued before this returns (the store
   * batches it with the writes queued in the same turn), and until it is
   * committed `predicted` answers with the record it will produce. Resolves
   * with the result once committed, or with undefined when the
   * compare-and-set was lost (nothing changed: re-read and re-decide).
   */
  tryApply(event: LifecycleEvent, fields: ChangeFields, known: CommandRecord): Promise<ApplyResult | undefined> {
    const decided = transition(known.status, event);
    if (!decided.ok) return Promise.resolve({ ok: false, command: known, reason: decided.reason });
    const change = this.#change(known, decided.to, event, fields);
    let write: Promise<TransitionResult | undefined>;
    try {
      write = this.store.transitionCommand(change);
    } catch (err) {
      write = Promise.reject(err);
    }
    const entry: InFlight = { record: predict(known, change), held: write.then((stored) => stored !== undefined, () => false) };
    this.#inFlight.set(known.id, entry);
    // Attached first, so it runs before anyone awaiting the result does.
    void entry.held.then(() => {
      if (this.#inFlight.get(known.id) === entry) this.#inFlight.delete(known.id);
    });
    return write.then(
      (stored): ApplyResult | undefined => {
        if (!stored) return undefined;
        this.#announce(stored.command, stored.history);
        return { ok: true, command: stored.command, history: stored.history };
      },
      (err: unknown) => {
        if (event === 'fault' || !isInternalFault(err)) throw err;
        return this.#fault(known, event, err);
      },
    );
  }

  /**
   * The record as a queued but not yet committed change of this process
   * will leave it (it may still lose its compare-and-set), else undefined.
   */
  predicted(commandId: string): CommandRecord | undefined {
    return this.#inFlight.get(commandId)?.record;
  }

  /**
   * Whether the queued change `predicted` answers with was committed:
   * undefined when none is in flight.
   */
  predictionHeld(commandId: string): Promise<boolean> | undefined {
    return this.#inFlight.get(commandId)?.held;
  }

  /** The command as the in-flight change will leave it, else as stored. */
  current(commandId: string): Promise<CommandRecord | undefined> {
    const predicted = this.predicted(commandId);
    return predicted ? Promise.resolve(predicted) : this.store.getCommandById(commandId);
  }

  /**
   * Records a failed delivery attempt (`retry`, with backoff) and, when the
   * attempts are used up, ends the command `failedToSend` (DESIGN 3: the last
   * attempt's `retry` is recorded first).
   */
  async deliveryFailed(commandId: string, detail: string, known?: CommandRecord): Promise<ApplyResult> {
    const result = await this.apply(commandId, 'deliveryFailed', { detail }, known);
    if (!result.ok) return result;
    if (this.timings.maxAttempts > 0 && result.command.attempts >= this.timings.maxAttempts) {
      // Graph clients read `error` on a failed command: say why there too.
      const why = `${result.command.attempts} delivery attempts failed (last: ${detail})`;
      return this.apply(commandId, 'attemptsExhausted', { detail: why, error: why }, result.command);
    }
    return result;
  }

  /**
   * The owner asks to cancel (DESIGN 3): `cancel`, then `canceled` at once if
   * the command never reached the device, else the device's node is asked to
   * send the cancel (`cancelling`). A final command is a conflict naming its
   * status; a cancel already under way is answered as it stands.
   */
  async cancel(userId: string, deviceId: string, commandId: string): Promise<CommandRecord> {
    const command = await this.store.getCommand(userId, deviceId, commandId);
    if (!command) throw new AppiaError('notFound', `command ${commandId} was not found`);
    if (isFinal(command.status)) {
      throw new AppiaError('conflict', `the command is already ${command.status} and can no longer be canceled`);
    }
    if (command.status === 'cancel' || command.status === 'cancelling') return command;
    const reachedDevice = command.status !== 'requesting' && command.status !== 'retry';
    const asked = await this.apply(commandId, 'cancelRequested', { detail: 'cancel requested by the owner' }, command);
    if (!asked.ok) {
      // Lost a race with a final status (the device finished, or expiry): report it.
      if (asked.command && isFinal(asked.command.status)) {
        throw new AppiaError('conflict', `the command is already ${asked.command.status} and can no longer be canceled`);
      }
      return asked.command ?? command;
    }
    if (!reachedDevice) {
      const done = await this.apply(commandId, 'cancelUndelivered', { detail: 'it had not reached the device' }, asked.command);
      return done.command ?? asked.command;
    }
    this.bus.publish(subjects.device(deviceId), { kind: 'cancel', deviceId, commandId });
    return asked.command;
  }

  /**
   * Removes a device (DESIGN 2, DELETE): its token stops working at once, its
   * undelivered commands end `failedToSend`, the ones it had received
   * `canceled`, and its live connection is closed.
   */
  async removeDevice(userId: string, deviceId: string): Promise<boolean> {
    const removed = await this.store.removeDevice(userId, deviceId, this.now());
    if (!removed) return false;
    this.bus.publish(subjects.device(deviceId), { kind: 'deviceRemoved', deviceId });
    for (const command of await this.store.listOpenCommands(deviceId)) {
      const undelivered = command.status === 'requesting' || command.status === 'retry';
      await this.apply(command.id, 'deviceRemoved', { detail: 'the device was removed', ...(undelivered ? { error: 'the device was removed before delivery' } : {}) }, command);
    }
    return true;
  }

  /** Resolves with the command once it is final, or as it stands after `timeoutMs`. */
  async waitForFinal(userId: string, deviceId: string, commandId: string, timeoutMs: number): Promise<CommandRecord | undefined> {
    let wake: () => void = () => {};
    // Watch before the first read, so a change between the two is not missed.
    const unwatch = this.#watchFinal(userId, commandId, () => wake());
    try {
      const first = await this.store.getCommand(userId, deviceId, commandId);
      if (!first || isFinal(first.status) || timeoutMs <= 0) return first;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      return await this.store.getCommand(userId, deviceId, commandId);
    } finally {
      unwatch();
    }
  }

  /**
   * Calls `onFinal` when the command reaches a final status (on any node).
   * One bus subscription per user serves all of that user's waiters, each
   * found by command id, so a status change wakes only its own waiters.
   */
  #watchFinal(userId: string, commandId: string, onFinal: () => void): () => void {
    let user = this.#finalWatchers.get(userId);
    if (!user) {
      const commands = new Map<string, Set<() => void>>();
      const subscription = this.bus.subscribe(subjects.user(userId), (m: BusMessage) => {
        if (m.kind !== 'status' || !isFinal(m.status)) return;
        for (const notify of commands.get(m.commandId) ?? []) notify();
      });
      user = { commands, unsubscribe: () => subscription.unsubscribe() };
      this.#finalWatchers.set(userId, user);
    }
    const { commands } = user;
    let watchers = commands.get(commandId);
    if (!watchers) commands.set(commandId, (watchers = new Set()));
    watchers.add(onFinal);
    return () => {
      watchers.delete(onFinal);
      if (watchers.size > 0) return;
      commands.delete(commandId);
      if (commands.size > 0 || this.#finalWatchers.get(userId) !== user) return;
      this.#finalWatchers.delete(userId);
      user.unsubscribe();
    };
  }

  /**
   * DESIGN 3, `error`: the store refused to record a change for a reason that
   * retrying cannot cure (e.g. it refuses the device's responsePayload). The
   * command is ended `error` with the reason, without the refused fields, so
   * it never stays stuck; the caller gets a refusal naming the reason (the
   * gateway answers the device's report with a nack). A store that is merely
   * unreachable (`unavailable`) is not a fault of the command: that error is
   * thrown as it is, and the work is retried later.
   */
  async #fault(current: CommandRecord, event: LifecycleEvent, err: unknown): Promise<ApplyResult> {
    const reason = `internal fault while recording ${event}: ${err instanceof Error ? err.message : String(err)}`;
    let faulted: ApplyResult;
    try {
      faulted = await this.apply(current.id, 'fault', { error: reason, detail: reason }, current);
    } catch {
      throw err;
    }
    return { ok: false, command: faulted.command, reason };
  }

  /** the backoff before attempt n+1 after n failed ones: doubles from the base, capped, with jitter */
  retryDelay(attempts: number): number {
    const base = Math.min(RETRY_CAP_MS, this.timings.retryBaseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(base / 2 + (this.#random() * base) / 2);
  }

  #change(current: CommandRecord, to: Status, event: LifecycleEvent, fields: ChangeFields): StatusChange {
    const at = this.now();
    const attempts = event === 'sent' ? current.attempts + 1 : current.attempts;
    return {
      commandId: current.id,
      from: current.status,
      to,
      at,
      // the history says why: the caller's detail, else the device's progress text or failure
      detail: fields.detail ?? fields.customStatus ?? fields.error ?? null,
      ...(fields.error === undefined ? {} : { error: fields.error }),
      ...(fields.responsePayloadJson === undefined ? {} : { responsePayloadJson: fields.responsePayloadJson }),
      ...(fields.customStatus === undefined ? {} : { customStatus: fields.customStatus }),
      attempts,
      dueAt: this.#dueAt(to, at, attempts),
    };
  }

  /** the timer that belongs to a status (DESIGN 3 and 8); 0 turns one off */
  #dueAt(status: Status, at: number, attempts: number): number | null {
    switch (status) {
      case 'sentToTarget':
        return this.timings.receiptTimeoutMs > 0 ? at + this.timings.receiptTimeoutMs : null;
      case 'retry':
        return at + this.retryDelay(attempts);
      case 'cancel':
        // Until the device's node sends the cancel; when it comes due, the scheduler asks that node again.
      case 'cancelling':
        return this.timings.cancelTimeoutMs > 0 ? at + this.timings.cancelTimeoutMs : null;
      default:
        return null;
    }
  }

  #announce(command: CommandRecord, history: HistoryEntry): void {
    this.bus.publish(subjects.user(command.userId), {
      kind: 'status',
      userId: command.userId,
      deviceId: command.deviceId,
      commandId: command.id,
      status: command.status,
      historyId: history.id,
    });
  }
}

interface InFlight {
  readonly record: CommandRecord;
  /** resolves once committed: whether the compare-and-set held */
  readonly held: Promise<boolean>;
}

/** the record a change will produce if its compare-and-set holds (as the store's UPDATE writes it) */
function predict(current: CommandRecord, change: StatusChange): CommandRecord {
  return {
    ...current,
    status: change.to,
    lastModifiedAt: change.at,
    ...(change.error === undefined ? {} : { error: change.error }),
    ...(change.responsePayloadJson === undefined ? {} : { responsePayloadJson: change.responsePayloadJson }),
    ...(change.customStatus === undefined ? {} : { customStatus: change.customStatus }),
    ...(change.attempts === undefined ? {} : { attempts: change.attempts }),
    ...(change.dueAt === undefined ? {} : { dueAt: change.dueAt }),
  };
}

/** Any store error except a passing outage (`unavailable`): the store will not take this change. */
function isInternalFault(err: unknown): boolean {
  return !(isAppiaError(err) && err.code === 'unavailable');
}

/**
 * Random bytes drawn from a 4 KiB pool refilled from the CSPRNG: one
 * `randomBytes` call per id cost 2% of the server's time under load.
 */
function pooledRandomBytes(): (n: number) => Uint8Array {
  let pool = Buffer.alloc(0);
  let offset = 0;
  return (n) => {
    if (offset + n > pool.length) {
      pool = randomBytes(Math.max(4096, n));
      offset = 0;
    }
    const bytes = pool.subarray(offset, offset + n);
    offset += n;
    return bytes;
  };
}

/** A new device id (UUID, DESIGN 2). */
export function newDeviceId(): string {
  return randomUUID();
}
