import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import type { DeviceRecord, DeviceStatus } from '../domain/device.js';
import type { Status } from '../domain/status.js';

/**
 * The store is the source of truth (DESIGN 1). One interface, one adapter per
 * backend (sqlite/, postgres/), all run against test/contract/store.contract.ts.
 * Every method is async so that adapters can group commits and so a network
 * database fits behind the same calls. Times are epoch milliseconds.
 *
 * A status is only ever written by `createCommand` (born `requesting`) and
 * `transitionCommand` (a compare-and-set on the status it was made from);
 * callers decide the change with `domain/lifecycle.transition` first.
 */
export interface Store {
  // ---- devices ----
  createDevice(device: NewDevice): Promise<DeviceRecord>;
  /** a device of this user that is not removed */
  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  /** the device a (hashed) device token belongs to, if it is not removed */
  findDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined>;
  /** the user's devices that are not removed, oldest first */
  listDevices(userId: string, page: { limit: number; offset: number }): Promise<DeviceRecord[]>;
  /** presence: Online / Offline / Standby, and when it was last seen */
  setDevicePresence(deviceId: string, status: DeviceStatus, lastSeenAt: number): Promise<void>;
  /**
   * Marks the device removed (its token stops working, it is no longer
   * listed or found). Its commands stay stored; the caller ends them through
   * the lifecycle. Returns false if there was no such device for this user.
   */
  removeDevice(userId: string, deviceId: string, at: number): Promise<boolean>;

  // ---- commands ----
  /**
   * Stores a new command (status `requesting`) and its first history entry in
   * one transaction. With an idempotency key that this user already used (and
   * that has not expired) it stores nothing and returns the first command with
   * `created: false`. Throws AppiaError `tooManyOpen` when the device already
   * has `maxOpen` non-final commands (0 = no limit), `notFound` if the device
   * is gone.
   */
  createCommand(command: NewCommand, options?: CreateOptions): Promise<CreateResult>;
  getCommand(userId: string, deviceId: string, commandId: string): Promise<CommandRecord | undefined>;
  getCommandById(commandId: string): Promise<CommandRecord | undefined>;
  /** newest first; `beforeId` continues a page (ids are time-ordered) */
  listCommands(userId: string, deviceId: string, query: CommandQuery): Promise<CommandRecord[]>;
  /** the device's non-final commands, oldest first */
  listOpenCommands(deviceId: string): Promise<CommandRecord[]>;
  /**
   * The compare-and-set status change: applies only if the command's status
   * is still `change.from`, and records the history entry in the same
   * transaction. Returns undefined when the command moved on (the caller
   * re-reads and re-decides) or does not exist.
   */
  transitionCommand(change: StatusChange): Promise<TransitionResult | undefined>;
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
  /** history entries of the user's commands with id > afterId, oldest first (SSE resume) */
  listUserHistorySince(userId: string, afterId: number, limit: number): Promise<HistoryEntry[]>;

  // ---- users ----
  /** the user's postback secret; stores `candidate` if the user has none yet */
  ensurePostbackSecret(userId: string, candidate: string): Promise<string>;

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
>;

export interface CreateOptions {
  readonly idempotencyKey?: string;
  /** when the idempotency key may be forgotten */
  readonly idempotencyExpiresAt?: number;
  /** non-final commands allowed per device; 0 = no limit */
  readonly maxOpen?: number;
}

export interface CreateResult {
  readonly command: CommandRecord;
  /** the `requesting` entry (undefined when an idempotent replay returned an existing command) */
  readonly history?: HistoryEntry;
  readonly created: boolean;
}

export interface CommandQuery {
  readonly limit: number;
  readonly status?: Status;
  readonly beforeId?: string;
}

export interface StatusChange {
  readonly commandId: string;
  readonly from: Status;
  readonly to: Status;
  readonly at: number;
  /** why, for the history entry (e.g. "receipt timeout", "device removed") */
  readonly detail?: string | null;
  // Fields that change with the status; undefined leaves a field as it is.
  readonly error?: string | null;
  readonly responsePayloadJson?: string | null;
  readonly customStatus?: string | null;
  readonly attempts?: number;
  readonly dueAt?: number | null;
}

export interface TransitionResult {
  readonly command: CommandRecord;
  readonly history: HistoryEntry;
}
