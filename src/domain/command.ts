import type { Status } from './status.js';

export const COMMAND_TYPES = ['LaunchUri', 'AppService'] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

const typeByLowerCase = new Map(COMMAND_TYPES.map((t) => [t.toLowerCase(), t] as const));

/** DESIGN 2: `type` accepts any casing (`LaunchURI`, `launchUri`, `appService`). */
export function parseCommandType(text: string): CommandType | undefined {
  return typeByLowerCase.get(text.toLowerCase());
}

/**
 * A command as stored. Times are epoch milliseconds; JSON-valued fields are
 * kept as the JSON text they arrived as, so the hot path never re-serialises.
 */
export interface CommandRecord {
  readonly id: string;
  readonly userId: string;
  readonly deviceId: string;
  readonly type: CommandType;
  /** JSON text of the payload object (null when none) */
  readonly payloadJson: string | null;
  readonly appServiceName: string | null;
  readonly packageFamilyName: string | null;
  readonly permissionTicket: string | null;
  readonly postBackUri: string | null;
  readonly status: Status;
  readonly error: string | null;
  /** JSON text of the device's answer (null until it answers) */
  readonly responsePayloadJson: string | null;
  readonly customStatus: string | null;
  readonly createdAt: number;
  readonly lastModifiedAt: number;
  readonly expiresAt: number;
  /** delivery attempts made so far */
  readonly attempts: number;
  /** when the timer of the current status fires (receipt, retry backoff, cancel timeout); null when none */
  readonly dueAt: number | null;
  /** the command batch it was made by (DESIGN 9); null for a single create */
  readonly batchId: string | null;
}

/** One entry of a command's status history (DESIGN 2, `.../history`). */
export interface HistoryEntry {
  /** global, increasing id: the SSE event id */
  readonly id: number;
  readonly commandId: string;
  /** 1, 2, 3, ... per command: the postback `sequence` */
  readonly sequence: number;
  readonly status: Status;
  readonly at: number;
  readonly detail: string | null;
}
