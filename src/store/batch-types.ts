import type { Status } from '../domain/status.js';
import type { BatchRecord } from '../domain/batch.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';

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

