/** The shapes of the API's answers, as far as the CLI reads them (DESIGN 2). */

/** A command as the API returns it (the fields the CLI shows). */
export interface CommandJson {
  readonly id: string;
  readonly status: string;
  readonly type: string;
  readonly customStatus?: string | null;
  readonly error?: string | null;
  readonly responsePayload?: unknown;
  readonly createdDateTime?: string;
  readonly lastModifiedDateTime?: string;
  readonly [key: string]: unknown;
}

/** One entry of `.../history`. */
export interface HistoryJson {
  readonly status: string;
  readonly dateTime: string;
  readonly detail?: string;
}

/** One status change, as the server's event stream says it (DESIGN 2, live status). */
export interface StatusEvent {
  /** the event id: where a reconnect resumes */
  readonly id: string;
  readonly commandId: string;
  readonly status: string;
  readonly dateTime: string;
  readonly detail?: string;
}

/** A device as the API returns it. */
export interface DeviceJson {
  readonly id: string;
  readonly name: string;
  readonly kind?: string | null;
  readonly platform?: string | null;
  readonly status?: string | null;
  readonly lastSeenDateTime?: string | null;
  readonly [key: string]: unknown;
}

/** A device as a command names it: its id, and its name when the caller gave one. */
export interface DeviceRef {
  readonly id: string;
  readonly name: string | null;
}
