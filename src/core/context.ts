import type { Bus } from '../bus/bus.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import type { Timings } from '../domain/policy.js';
import type { Store } from '../store/store.js';
import type { IdSource } from './ids.js';

/** The settings the core runs on (DESIGN 8); 0 turns a limit off. */
export interface CoreTimings extends Timings {
  readonly maxAttempts: number;
  readonly defaultTtlMs: number;
  readonly maxOpenCommands: number;
  /** DESIGN 10: how long a pairing code can be approved, and an approved device has to collect its token */
  readonly pairingTtlMs?: number;
  /** DESIGN 10: the wait between polls a pairing device is told (whole seconds, at least 1) */
  readonly pairingIntervalMs?: number;
  /** registered devices per user (DESIGN 8); absent or 0 = no limit */
  readonly maxDevicesPerUser?: number;
  /** devices in one command batch (DESIGN 9); absent or 0 = no limit */
  readonly maxBatchDevices?: number;
}

/** Where the core says what it refused or could not do (a pino logger fits). */
export interface CoreLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

/**
 * Told of every status change the core stores, its creations included
 * (metrics: DESIGN 7). Called after the change is durable, on the node that
 * wrote it; it must not throw or block.
 */
export interface CoreObserver {
  /** a command was stored as new (not an idempotent replay) */
  created(command: CommandRecord): void;
  /** a stored change (a creation's first entry included): `history` is its entry, `command` the record it left */
  changed(command: CommandRecord, history: HistoryEntry): void;
}

/** What the core's operations share. Only the core holds the store and the bus. */
export interface CoreContext {
  readonly log: CoreLog;
  readonly store: Store;
  readonly bus: Bus;
  readonly timings: CoreTimings;
  readonly now: () => number;
  /** [0, 1): the jitter seam */
  readonly random: () => number;
  readonly ids: IdSource;
  readonly observer?: CoreObserver;
  /** a change of a command with postBackUri was stored, so its postback is queued: wakes this node's dispatcher (DESIGN 6) */
  readonly postbackQueued: () => void;
}

export const MAX_TTL_MS = 30 * 24 * 3600 * 1000;
/** how long an idempotency key is kept (DESIGN 2: at least 24 h) */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
