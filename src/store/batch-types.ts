import type { Status } from '../domain/status.js';
import type { BatchRecord } from '../domain/batch.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';

/**
 * The command batches part of the Store (DESIGN 9), which every adapter
 * implements beside the rest (store.ts); the contract's batch stories run
 * against each.
 */
export interface BatchStore {
  /**
   * Stores a batch and one command per target (as createCommand stores one,
   * carrying the batch id) in one transaction. `requireAll`: a target device
   * that is not the user's throws `notFound` and nothing is stored; else such
   * targets are left out. `tooManyOpen` and idempotency keys as createCommand
   * (one namespace of keys per user for batches and single creates).
   */
  createBatch(batch: NewBatch, options?: CreateBatchOptions): Promise<CreateBatchResult>;
  /** the user's batch with its live counts */
  getBatch(userId: string, batchId: string): Promise<BatchRecord | undefined>;
  /** the user's batches, newest first; `beforeId` continues a page */
  listBatches(userId: string, query: BatchQuery): Promise<BatchRecord[]>;
  /** the batch's commands in the order they were made; `afterId` continues a page, `open` keeps the non-final ones */
  listBatchCommands(userId: string, batchId: string, query: BatchCommandQuery): Promise<CommandRecord[]>;
}

/** as createCommand's options (store.ts CreateOptions) */
export interface CreateBatchOptions {
  readonly idempotencyKey?: string;
  readonly idempotencyFingerprint?: string;
  readonly idempotencyExpiresAt?: number;
  /** non-final commands allowed per device; 0 = no limit */
  readonly maxOpen?: number;
}

/** what every command of a batch is made with (a create's fields) */
type BatchCommand = Pick<CommandRecord, 'type' | 'payloadJson' | 'appServiceName' | 'packageFamilyName' | 'permissionTicket' | 'postBackUri' | 'expiresAt'>;

/** A batch as it is first stored (DESIGN 9): the command every target gets, and the targets. */
export interface NewBatch {
  readonly id: string;
  readonly userId: string;
  readonly createdAt: number;
  readonly command: BatchCommand;
  /** one command per device, with the id it is made with */
  readonly targets: readonly { readonly commandId: string; readonly deviceId: string }[];
  /** every target must be the user's device (listed ids); false for `all`, which leaves out devices removed meanwhile */
  readonly requireAll: boolean;
}

export interface CreateBatchResult {
  readonly batch: BatchRecord;
  /** the commands made, in the targets' order, with their `requesting` entries (empty for a replay) */
  readonly commands: readonly { readonly command: CommandRecord; readonly history: HistoryEntry }[];
  readonly created: boolean;
}

export interface BatchQuery {
  readonly limit: number;
  readonly beforeId?: string;
}

export interface BatchCommandQuery {
  readonly limit: number;
  readonly status?: Status;
  /** only the commands that are not final */
  readonly open?: boolean;
  readonly afterId?: string;
}

