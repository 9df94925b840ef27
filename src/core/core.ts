import type { Bus, BusMessage, Subscription } from '../bus/bus.js';
import { subjects } from '../bus/bus.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import type { DeviceRecord } from '../domain/device.js';
import type { CommandQuery, DeviceQuery, Store } from '../store/store.js';
import type { BatchRecord } from '../domain/batch.js';
import type { BatchCommandQuery, BatchQuery } from '../store/store.js';
import * as batches from './batches.js';
import type { BatchTargets } from './batches.js';
import { cancelCommand, removeDevice } from './cancel.js';
import type { CoreContext, CoreLog, CoreObserver, CoreTimings } from './context.js';
import { createCommand, type CommandInput, type CreateCommandOptions } from './create.js';
import { cryptoIds, hashDeviceToken, type IdSource } from './ids.js';
import * as postbacks from './postbacks.js';
import type { PostbackEntry, PostbackOutcome, PostbackSecrets } from './postbacks.js';
import { DevicePairing } from './pairing.js';
import { DeviceSession, type Outlet, type SessionHooks } from './session.js';
import { Timers, type TimerOptions } from './timers.js';
import { FinalWaiters } from './waiters.js';
import { StatusWriter } from './writer.js';

export interface CoreDeps {
  readonly store: Store;
  readonly bus: Bus;
  readonly timings: CoreTimings;
  readonly log: CoreLog;
  readonly now?: () => number;
  /** [0, 1): the jitter seam */
  readonly random?: () => number;
  readonly ids?: IdSource;
  readonly timers?: TimerOptions;
  /** told of every stored change (metrics) */
  readonly observer?: CoreObserver;
}

/** What a device is registered with (DESIGN 2, POST /me/devices). */
export interface DeviceInput {
  readonly name: string;
  readonly kind: string | null;
  readonly platform: string | null;
  readonly model: string | null;
  readonly manufacturer: string | null;
}

/**
 * The command core (DESIGN 1): the only writer of statuses, and the one
 * way into the store and the bus for the rest of the system. It offers
 * operations (register and remove devices, create and cancel commands,
 * device sessions that deliver commands and apply reports, timers, waits
 * for a final status, the status feed) and never hands out its parts.
 *
 * @example
 * const core = new CommandCore({ store, bus, timings: config, log });
 * const { command } = await core.createCommand(user, deviceId, { type: 'LaunchUri', payloadJson: '{"uri":"https://example.com"}', ... });
 * const final = await core.waitForFinal(user, deviceId, command.id, 30_000);
 */
export class CommandCore {
  readonly #ctx: CoreContext;
  readonly #writer: StatusWriter;
  readonly #waiters: FinalWaiters;
  readonly #postbackListeners = new Set<() => void>();
  /** the started device sessions of this node, by device (the direct path of createCommand) */
  readonly #local = new Map<string, DeviceSession>();
  readonly timers: Timers;
  /** DESIGN 10: device pairing (RFC 8628) */
  readonly pairing: DevicePairing;

  constructor(deps: CoreDeps) {
    this.#ctx = {
      store: deps.store,
      bus: deps.bus,
      timings: deps.timings,
      log: deps.log,
      now: deps.now ?? Date.now,
      random: deps.random ?? Math.random,
      ids: deps.ids ?? cryptoIds(),
      ...(deps.observer ? { observer: deps.observer } : {}),
      postbackQueued: () => {
        for (const listener of this.#postbackListeners) listener();
      },
    };
    this.#waiters = new FinalWaiters(deps.store, deps.bus);
    this.#writer = new StatusWriter(this.#ctx, (command) => this.#waiters.stored(command));
    this.timers = new Timers(this.#ctx, this.#writer, deps.timers);
    this.pairing = new DevicePairing(this.#ctx);
  }

  /** the core's clock (epoch ms) */
  now(): number {
    return this.#ctx.now();
  }

  /** resolves while the store and the bus answer; rejects with the reason (`/readyz`) */
  async ready(): Promise<void> {
    await this.#ctx.store.ping();
    await this.#ctx.bus.ready();
  }

  // ---- devices ----

  /** Registers a device; the answer carries its token once (only its hash is stored, DESIGN 4). Refused `conflict` past the user's device limit (DESIGN 8). */
  async registerDevice(userId: string, input: DeviceInput): Promise<{ device: DeviceRecord; deviceToken: string }> {
    const deviceToken = this.#ctx.ids.deviceToken();
    const device = await this.#ctx.store.createDevice(
      {
        ...input,
        id: this.#ctx.ids.deviceId(),
        userId,
        tokenHash: hashDeviceToken(deviceToken),
        createdAt: this.#ctx.now(),
      },
      { maxDevices: this.#ctx.timings.maxDevicesPerUser ?? 0 },
    );
    return { device, deviceToken };
  }

  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.#ctx.store.getDevice(userId, deviceId);
  }

  /** the user's devices, oldest first; `status` narrows them to one presence */
  listDevices(userId: string, query: DeviceQuery): Promise<DeviceRecord[]> {
    return this.#ctx.store.listDevices(userId, query);
  }

  removeDevice(userId: string, deviceId: string): Promise<boolean> {
    return removeDevice(this.#ctx, this.#writer, userId, deviceId);
  }

  /**
   * DESIGN 4, the presence lease (each node, every ping interval): renews the
   * devices whose connections this node holds, then marks Offline every
   * device no node vouched for within `leaseMs` (its node died, or this
   * process was killed and started again). Resolves with how many it marked.
   */
  async renewPresence(connectionIds: readonly string[], leaseMs: number): Promise<number> {
    const now = this.#ctx.now();
    await this.#ctx.store.presence.renew(connectionIds, now);
    const expired = await this.#ctx.store.presence.expire(now - leaseMs);
    if (expired.length > 0) this.#ctx.log.info({ devices: expired.length }, 'no node renewed these devices\' presence: marked Offline');
    return expired.length;
  }

  /** the device a device token belongs to, unless it was removed */
  findDeviceByToken(token: string): Promise<DeviceRecord | undefined> {
    return this.#ctx.store.findDeviceByTokenHash(hashDeviceToken(token));
  }

  /** A live connection of the device (the gateway's): call `start()`, then `reports()`/`state()`, and `end()` when it closes. */
  openSession(device: DeviceRecord, outlet: Outlet, hooks: SessionHooks): DeviceSession {
    return new DeviceSession(this.#ctx, this.#writer, device, outlet, hooks, this.#local);
  }

  // ---- commands ----

  createCommand(userId: string, deviceId: string, input: CommandInput, options?: CreateCommandOptions): Promise<{ command: CommandRecord; created: boolean }> {
    return createCommand(this.#ctx, this.#writer, userId, deviceId, input, options, this.#local.get(deviceId));
  }

  getCommand(userId: string, deviceId: string, commandId: string): Promise<CommandRecord | undefined> {
    return this.#ctx.store.getCommand(userId, deviceId, commandId);
  }

  /** the device's commands, newest first (`beforeId` continues a page) */
  listCommands(userId: string, deviceId: string, query: CommandQuery): Promise<CommandRecord[]> {
    return this.#ctx.store.listCommands(userId, deviceId, query);
  }

  cancelCommand(userId: string, deviceId: string, commandId: string): Promise<CommandRecord> {
    return cancelCommand(this.#ctx, this.#writer, userId, deviceId, commandId);
  }

  /** Resolves with the command once it is final (a change on any node), or as it stands after `timeoutMs`. */
  waitForFinal(userId: string, deviceId: string, commandId: string, timeoutMs: number): Promise<CommandRecord | undefined> {
    return this.#waiters.waitForFinal(userId, deviceId, commandId, timeoutMs);
  }

  // ---- command batches (DESIGN 9) ----

  /** one command per target device, stored in one transaction (`notFound` for a listed device that is not the user's, `tooLarge` past the limit) */
  createBatch(userId: string, targets: BatchTargets, input: CommandInput, options?: CreateCommandOptions): Promise<{ batch: BatchRecord; created: boolean }> {
    return batches.createBatch(this.#ctx, this.#writer, userId, targets, input, options);
  }

  /** the user's batch with its live counts (`notFound` otherwise) */
  getBatch(userId: string, batchId: string): Promise<BatchRecord> {
    return batches.getBatch(this.#ctx, userId, batchId);
  }

  /** the user's batches, newest first */
  listBatches(userId: string, query: BatchQuery): Promise<BatchRecord[]> {
    return this.#ctx.store.listBatches(userId, query);
  }

  /** a page of the batch's commands, in the order they were made */
  listBatchCommands(userId: string, batchId: string, query: BatchCommandQuery): Promise<CommandRecord[]> {
    return batches.listBatchCommands(this.#ctx, userId, batchId, query);
  }

  /** resolves once every command of the batch is final, or with the batch as it stands after `timeoutMs` */
  waitForBatch(userId: string, batchId: string, timeoutMs: number): Promise<BatchRecord> {
    return batches.waitForBatch(this.#ctx, userId, batchId, timeoutMs);
  }

  /** cancels every open command of the batch; answers the batch */
  cancelBatch(userId: string, batchId: string): Promise<BatchRecord> {
    return batches.cancelBatch(this.#ctx, this.#writer, userId, batchId);
  }

  /** cancels every open command of the device; answers how many */
  purgeDeviceQueue(userId: string, deviceId: string): Promise<number> {
    return batches.purgeDeviceQueue(this.#ctx, this.#writer, userId, deviceId);
  }

  // ---- postbacks (DESIGN 6; the dispatcher in postback/ sends them) ----

  /** due outbox entries, the head of each command's queue only, leased until `now + leaseMs` */
  claimPostbacks(now: number, limit: number, leaseMs: number): Promise<PostbackEntry[]> {
    return postbacks.claimPostbacks(this.#ctx, now, limit, leaseMs);
  }

  /** records an attempt of a claimed entry; false when its claim passed to another node */
  recordPostbackAttempt(entry: PostbackEntry, outcome: PostbackOutcome): Promise<boolean> {
    return postbacks.recordPostbackAttempt(this.#ctx, entry, outcome);
  }

  /** the deliveries log of the user's command (`notFound` for anyone else's) */
  postbackLog(userId: string, deviceId: string, commandId: string): Promise<PostbackEntry[]> {
    return postbacks.postbackLog(this.#ctx, userId, deviceId, commandId);
  }

  /** the user's signing secrets, made on first use */
  postbackSecrets(userId: string): Promise<PostbackSecrets> {
    return postbacks.postbackSecrets(this.#ctx, userId);
  }

  /** a new signing secret; the old one keeps signing for 24 h */
  rotatePostbackSecret(userId: string): Promise<PostbackSecrets> {
    return postbacks.rotatePostbackSecret(this.#ctx, userId);
  }

  /** Calls `listener` (synchronously: keep it short) whenever this node stores a change whose postback is queued; returns the unsubscribe. */
  onPostbackQueued(listener: () => void): () => void {
    const own = () => listener();
    this.#postbackListeners.add(own);
    return () => void this.#postbackListeners.delete(own);
  }

  /** pending postbacks on every node */
  postbackDepth(): Promise<number> {
    return postbacks.postbackDepth(this.#ctx);
  }

  // ---- the status feed (SSE) ----

  /** a command's history, oldest first (check the command is the caller's first) */
  history(commandId: string): Promise<HistoryEntry[]> {
    return this.#ctx.store.listHistory(commandId);
  }

  /** the user's history feed after `afterId`, in order and gap-free (Store.listUserHistorySince) */
  historySince(userId: string, afterId: number, limit: number): Promise<HistoryEntry[]> {
    return this.#ctx.store.listUserHistorySince(userId, afterId, limit);
  }

  /** the id the user's feed continues after "from now on" (Store.lastUserHistoryId) */
  historyHead(userId: string): Promise<number> {
    return this.#ctx.store.lastUserHistoryId(userId);
  }

  /** the device (and batch) a command of the feed belongs to */
  async placeOfCommand(commandId: string): Promise<{ deviceId: string; batchId: string | null } | undefined> {
    const command = await this.#ctx.store.getCommandById(commandId);
    return command && { deviceId: command.deviceId, batchId: command.batchId };
  }

  /** Calls `onChange` for every status change of the user's commands, made on any node; await `ready` before reading the feed. */
  watchUser(userId: string, onChange: (change: Extract<BusMessage, { kind: 'status' }>) => void): Subscription {
    return this.#ctx.bus.subscribe(subjects.user(userId), (m) => {
      if (m.kind === 'status') onChange(m);
    });
  }
}
