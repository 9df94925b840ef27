import type { CommandRecord } from './command.js';
import type { Status } from './status.js';

/**
 * One status change as it is stored: a compare-and-set from `from` to `to`
 * (DESIGN 3), with the fields that change with it. Decided by the command
 * core with the lifecycle's transition function; applied by the store.
 */
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

/** The record a change leaves behind (as the store writes it): undefined fields keep their value. Pure. */
export function applyChange(record: CommandRecord, change: StatusChange): CommandRecord {
  return {
    id: record.id,
    userId: record.userId,
    deviceId: record.deviceId,
    type: record.type,
    payloadJson: record.payloadJson,
    appServiceName: record.appServiceName,
    packageFamilyName: record.packageFamilyName,
    permissionTicket: record.permissionTicket,
    postBackUri: record.postBackUri,
    status: change.to,
    error: change.error === undefined ? record.error : change.error,
    responsePayloadJson: change.responsePayloadJson === undefined ? record.responsePayloadJson : change.responsePayloadJson,
    customStatus: change.customStatus === undefined ? record.customStatus : change.customStatus,
    createdAt: record.createdAt,
    lastModifiedAt: change.at,
    expiresAt: record.expiresAt,
    attempts: change.attempts === undefined ? record.attempts : change.attempts,
    dueAt: change.dueAt === undefined ? record.dueAt : change.dueAt,
    batchId: record.batchId,
  };
}
