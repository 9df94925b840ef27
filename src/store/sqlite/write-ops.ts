import { PAIRING_WRITE_OPS } from './pairing-ops.js';
import { PRESENCE_WRITE_OPS } from './presence-ops.js';
import type { DeviceStatus } from '../../domain/device.js';
import type { Status } from '../../domain/status.js';
import type { CreateDeviceOptions, CreateOptions, NewCommand, NewDevice, PostbackOutcome, StatusChange } from '../store.js';
import type { NewBatch } from '../store.js';
import { createBatch } from './batches.js';
import type { SqliteWrites } from './writes.js';

/**
 * One write operation of the SQLite store: what it runs inside a GroupCommit
 * batch, and whether it changes rows with more than one statement (then a
 * failure halfway is undone with a savepoint: see GroupCommit).
 */
export interface WriteOp<A extends unknown[], R> {
  readonly multiStatement: boolean;
  readonly run: (w: SqliteWrites, ...args: A) => R;
}

function op<A extends unknown[], R>(multiStatement: boolean, run: (w: SqliteWrites, ...args: A) => R): WriteOp<A, R> {
  return { multiStatement, run };
}

/** A write by name, as SqliteStore submits it (to its writer thread, or inline). */
export type SubmitWrite = <K extends WriteName>(name: K, ...args: WriteArgs<K>) => Promise<WriteResult<K>>;

/**
 * Every write of the SQLite store, by name. A write travels as its name and
 * its arguments (plain data, structured-cloned), so the same table runs it on
 * the thread that owns the writing connection (writer-thread.ts) or inline
 * (':memory:'). Adding a write operation = adding one entry here (or a table
 * of its own file, spread in below) and one Store method that submits it.
 */
export const WRITE_OPS = {
  ...PAIRING_WRITE_OPS,
  ...PRESENCE_WRITE_OPS,
  insertDevice: op(true, (w, device: NewDevice, options: CreateDeviceOptions | undefined) => w.insertDevice(device, options)),
  connectDevice: op(false, (w, deviceId: string, connectionId: string, at: number) => w.s.connectDevice.run(at, connectionId, deviceId).changes > 0),
  setDevicePresence: op(
    false,
    (w, deviceId: string, connectionId: string, status: DeviceStatus, at: number) => w.s.setDevicePresence.run(status, at, deviceId, connectionId).changes > 0,
  ),
  removeDevice: op(false, (w, userId: string, deviceId: string, at: number) => w.s.removeDevice.run(at, deviceId, userId).changes > 0),
  insertCommand: op(true, (w, command: NewCommand, options: CreateOptions | undefined, now: number) => w.insertCommand(command, options, now)),
  transitionChain: op(true, (w, changes: readonly StatusChange[]) => w.transitionChain(changes)),
  claimTimer: op(
    false,
    (w, commandId: string, status: Status, dueAt: number, nextDueAt: number | null) => w.s.claimTimer.run(nextDueAt, commandId, status, dueAt).changes > 0,
  ),
  claimPostbacks: op(true, (w, now: number, limit: number, leaseMs: number) => w.claimPostbacks(now, limit, leaseMs)),
  recordPostbackAttempt: op(true, (w, id: number, claimToken: string, outcome: PostbackOutcome) => w.recordPostbackAttempt(id, claimToken, outcome)),
  ensurePostbackSecrets: op(false, (w, userId: string, candidate: string) => w.s.ensurePostbackSecrets.get(userId, candidate)!),
  rotatePostbackSecret: op(false, (w, userId: string, next: string, previousUntil: number) => w.s.rotatePostbackSecret.get(userId, next, previousUntil)!),
  // DESIGN 9: a batch and all its commands in one transaction
  createBatch: op(true, (w, batch: NewBatch, options: CreateOptions | undefined, now: number) => createBatch(w, batch, options, now)),
} as const;

export type WriteOps = typeof WRITE_OPS;
export type WriteName = keyof WriteOps;
export type WriteArgs<K extends WriteName> = WriteOps[K] extends WriteOp<infer A, unknown> ? A : never;
export type WriteResult<K extends WriteName> = ReturnType<WriteOps[K]['run']>;

/** A write as it is queued and sent: its name and its arguments. */
export type WriteRequest = readonly [name: WriteName, args: readonly unknown[]];

/** Runs a named write with its arguments (inside a batch). */
export function runWrite(w: SqliteWrites, request: WriteRequest): unknown {
  const [name, args] = request;
  const write = WRITE_OPS[name] as WriteOp<unknown[], unknown> | undefined;
  if (write === undefined) throw new Error(`no SQLite write operation named ${String(name)}`);
  return write.run(w, ...(args as unknown[]));
}

export function isMultiStatement(name: WriteName): boolean {
  return WRITE_OPS[name].multiStatement;
}
