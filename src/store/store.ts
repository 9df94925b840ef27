import type { BatchStore } from './batch-types.js';
import type { StatusChange } from '../domain/change.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import type { DeviceRecord, DeviceStatus } from '../domain/device.js';
import { AppiaError } from '../domain/errors.js';
import type { Status } from '../domain/status.js';

export type { StatusChange } from '../domain/change.js';
export type { BatchCommandQuery, BatchQuery, BatchStore, CreateBatchResult, NewBatch } from './batch-types.js';

/**
 * The store is the source of truth (DESIGN 1). One interface, one adapter per
 * backend (sqlite/, postgres/), all run against test/contract/store.contract.ts.
 * Every method is async so that adapters can group commits and so a network
 * database fits behind the same calls. Times are epoch milliseconds.
 *
 * A status is only ever written by `createCommand` (born `requesting`) and
 * `transitionChain` (compare-and-sets on the status each was made from); the
 * command core decides every change with `domain/lifecycle.transition` first.
 * Every write that records a status change also records, in the same
 * transaction, its history entry and, for a command with `postBackUri`, its
 * postback outbox entry (DESIGN 6): no change without its postback, no
 * postback without its change.
 */
export interface Store extends BatchStore {
  // ---- devices ----
  /**
   * Stores a new device (Offline, never seen). With `maxDevices`, throws
   * AppiaError `conflict` (see `tooManyDevices`) when the user already has
   * that many devices that are not removed, counted in the same transaction:
   * racing registrations never exceed it (DESIGN 8).
   */
  createDevice(device: NewDevice, options?: CreateDeviceOptions): Promise<DeviceRecord>;
  /** a device of this user that is not removed */
  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  /** the device a (hashed) device token belongs to, if it is not removed */
  findDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined>;
  /** the user's devices that are not removed, oldest first; with `status`, only those in that status */
  listDevices(userId: string, query: DeviceQuery): Promise<DeviceRecord[]>;
  /**
   * The device opened connection `connectionId` (on any node): it is Online,
   * last seen `at`, and this connection becomes its latest. False when the
   * device is removed or unknown.
   */
  connectDevice(deviceId: string, connectionId: string, at: number): Promise<boolean>;
  /**
   * Presence reported by connection `connectionId` (Online / Standby from a
   * `state` frame, Offline when it closes), applied only while that
   * connection is still the device's latest, so a stale connection (on this
   * or another node) never marks a device Offline over a newer one. Returns
   * whether it applied.
   */
  setDevicePresence(deviceId: string, connectionId: string, status: DeviceStatus, at: number): Promise<boolean>;
  /**
   * Marks the device removed (its token stops working, it is no longer
   * listed or found). Its commands stay stored; the caller ends them through
   * the lifecycle. Returns false if there was no such device for this user.
   */
  removeDevice(userId: string, deviceId: string, at: number): Promise<boolean>;

  // ---- commands ----
  /**
   * Stores a new command (status `requesting`), its first history entry and
   * (with `postBackUri`) its first postback in one transaction. With an
   * idempotency key that this user already used (and that has not expired)
   * it stores nothing and returns the first command with `created: false`,
   * or throws AppiaError `idempotencyMismatch` when the key was first used
   * with another fingerprint (another device or body). Throws `tooManyOpen`
   * when the device already has `maxOpen` non-final commands (0 = no limit),
   * `notFound` if the device is gone. Racing creates never exceed `maxOpen`.
   */
  createCommand(command: NewCommand, options?: CreateOptions): Promise<CreateResult>;
  getCommand(userId: string, deviceId: string, commandId: string): Promise<CommandRecord | undefined>;
  getCommandById(commandId: string): Promise<CommandRecord | undefined>;
  /** newest first; `beforeId` continues a page (ids are time-ordered) */
  listCommands(userId: string, deviceId: string, query: CommandQuery): Promise<CommandRecord[]>;
  /** the device's non-final commands, oldest first */
  listOpenCommands(deviceId: string): Promise<CommandRecord[]>;
  /**
   * Applies a chain of compare-and-set status changes in order, in one
   * transaction (DESIGN 1). Each change applies only if its command's status
   * is still `change.from` after the chain's earlier changes. At the first
   * change that does not apply (the status moved on, or no such command) the
   * store stops: that change and every later one are not applied, the earlier
   * ones are. The result is therefore always a prefix of the chain. A store
   * fault rejects the whole chain and keeps nothing of it.
   */
  transitionChain(changes: readonly StatusChange[]): Promise<ChainResult>;
  /**
   * Claims a timer: moves `dueAt` from `dueAt` to `nextDueAt` if the command
   * is still in `status` with that due time. Exactly one of several racing
   * callers gets true.
   */
  claimTimer(commandId: string, status: Status, dueAt: number, nextDueAt: number | null): Promise<boolean>;
  /** non-final commands whose timer or expiry is due at `now`, soonest first */
  listDue(now: number, limit: number): Promise<CommandRecord[]>;
  /**
   * Commands waiting for delivery with no timer of their own (`requesting`,
   * or a `retry` parked while its device was away) whose device is present
   * (not Offline, not removed) and that have not changed since `before`, in
   * no particular order. The scheduler's sweep wakes their device's node
   * again: the bus is only a wake-up signal, and a lost one must only delay
   * a command (DESIGN 1).
   */
  listUndelivered(before: number, limit: number): Promise<CommandRecord[]>;

  // ---- history ----
  /** a command's history, oldest first */
  listHistory(commandId: string): Promise<HistoryEntry[]>;
  /**
   * The user's history feed (SSE `/me/events` and its resume): entries of the
   * user's commands with id > afterId, in id order. Gap-free: an entry is
   * never returned while an entry with a lower id may still become visible
   * (a concurrent transaction not yet committed), so a reader that resumes
   * after the last id it saw never skips one.
   */
  listUserHistorySince(userId: string, afterId: number, limit: number): Promise<HistoryEntry[]>;
  /**
   * The id of the user's latest history entry (0 when there is none), on the
   * feed's gap-free terms: every entry that commits after it was read has a
   * higher id. `listUserHistorySince(userId, head)` is "from now on".
   */
  lastUserHistoryId(userId: string): Promise<number>;

  // ---- postbacks (DESIGN 6) ----
  /**
   * Claims up to `limit` due postbacks: of each command only its lowest
   * pending sequence (entry n+1 waits until n is delivered or failed), with
   * `nextAttemptAt <= now` and no unexpired lease; each is leased until
   * `now + leaseMs` under a fresh `claimToken`. Racing callers (other nodes)
   * never get the same entry while its lease holds.
   */
  claimPostbacks(now: number, limit: number, leaseMs: number): Promise<PostbackEntry[]>;
  /**
   * Records an attempt of a claimed entry if the claim still holds (the same
   * `claimToken`); `failed` also appends `historyNote` to the detail of the
   * history entry it reports. Returns whether it applied.
   */
  recordPostbackAttempt(id: number, claimToken: string, outcome: PostbackOutcome): Promise<boolean>;
  /** one command's deliveries log, by sequence */
  listPostbacks(commandId: string): Promise<PostbackEntry[]>;
  /** pending postbacks in all (the outbox depth) */
  postbackDepth(): Promise<number>;

  // ---- users ----
  /** the user's postback signing secrets; stores `candidate` as the current one if the user has none yet */
  ensurePostbackSecrets(userId: string, candidate: string): Promise<PostbackSecrets>;
  /** makes `next` the current secret; the old current one keeps signing until `previousUntil` */
  rotatePostbackSecret(userId: string, next: string, previousUntil: number): Promise<PostbackSecrets>;

  /** resolves when the store answers (readiness) */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface NewDevice {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly kind: string | null;
  readonly platform: string | null;
  readonly model: string | null;
  readonly manufacturer: string | null;
  readonly tokenHash: string;
  readonly createdAt: number;
}

/** The refusal of a registration beyond `CreateDeviceOptions.maxDevices`, the same from every adapter. */
export function tooManyDevices(maxDevices: number): AppiaError {
  return new AppiaError('conflict', `the user already has ${maxDevices} devices, the most allowed: remove one before registering another`);
}

export interface CreateDeviceOptions {
  /** devices (not removed) a user may have; 0 or absent = no limit */
  readonly maxDevices?: number;
}

/** A page of a user's devices (offset paging), optionally of one status (`$filter=status eq '...'`). */
export interface DeviceQuery {
  readonly limit: number;
  readonly offset: number;
  readonly status?: DeviceStatus;
}

/** A command as it is first stored (DESIGN 3: born `requesting`, no attempts, no timer). */
export type NewCommand = Pick<
  CommandRecord,
  | 'id'
  | 'userId'
  | 'deviceId'
  | 'type'
  | 'payloadJson'
  | 'appServiceName'
  | 'packageFamilyName'
  | 'permissionTicket'
  | 'postBackUri'
  | 'createdAt'
  | 'expiresAt'
> & {
  /** set only by a batch (createBatch) */
  readonly batchId?: string | null;
};

export interface CreateOptions {
  readonly idempotencyKey?: string;
  /** what the key is bound to (device and body): a replay with another fingerprint is refused */
  readonly idempotencyFingerprint?: string;
  /** when the idempotency key may be forgotten */
  readonly idempotencyExpiresAt?: number;
  /** non-final commands allowed per device; 0 = no limit */
  readonly maxOpen?: number;
  /** changes of the new command applied after its insert, in its transaction, as transitionChain would; never on a replay */
  readonly chain?: readonly StatusChange[];
  /** the chain applies only while this is the device's latest connection (connectDevice's id), else it is refused at 0 */
  readonly chainConnection?: string;
}

export interface CreateResult {
  readonly command: CommandRecord;
  /** the `requesting` entry (undefined when an idempotent replay returned an existing command) */
  readonly history?: HistoryEntry;
  readonly created: boolean;
  /** what `CreateOptions.chain` applied (absent without a chain or on a replay) */
  readonly chain?: ChainResult;
}

export interface CommandQuery {
  readonly limit: number;
  readonly status?: Status;
  readonly beforeId?: string;
}

export interface TransitionResult {
  readonly command: CommandRecord;
  readonly history: HistoryEntry;
}

export interface ChainResult {
  /** the applied changes' results, in chain order: a prefix of the chain */
  readonly applied: readonly TransitionResult[];
  /** the index of the first change that did not apply; undefined when all did */
  readonly refusedAt?: number;
}

/** One postback of the outbox (DESIGN 6): a status change to POST to the command's postBackUri. */
export interface PostbackEntry {
  readonly id: number;
  readonly commandId: string;
  readonly userId: string;
  /** the history sequence it reports: 1, 2, 3, ... per command */
  readonly sequence: number;
  /** unchanged across retries, so receivers can drop duplicates */
  readonly webhookId: string;
  readonly url: string;
  /** the command as the change left it: JSON text of its CommandRecord */
  readonly recordJson: string;
  readonly state: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly createdAt: number;
  readonly nextAttemptAt: number | null;
  /** when it was first tried: the retries go on for at least 24 h from then */
  readonly firstAttemptAt: number | null;
  readonly lastAttemptAt: number | null;
  readonly lastResponseStatus: number | null;
  readonly lastError: string | null;
  readonly deliveredAt: number | null;
  /** set on a claimed entry: proves the claim when its attempt is recorded */
  readonly claimToken?: string;
}

export type PostbackOutcome =
  | { readonly state: 'delivered'; readonly at: number; readonly responseStatus: number }
  | {
      readonly state: 'pending';
      readonly at: number;
      readonly responseStatus: number | null;
      readonly error: string;
      readonly nextAttemptAt: number;
    }
  | {
      readonly state: 'failed';
      readonly at: number;
      readonly responseStatus: number | null;
      readonly error: string;
      /** appended to the detail of the history entry this postback reported */
      readonly historyNote: string;
    };

export interface PostbackSecrets {
  readonly current: string;
  /** the secret before the last rotation, still signing until previousUntil */
  readonly previous: string | null;
  readonly previousUntil: number | null;
}
