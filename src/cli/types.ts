/** A command as the API returns it (the fields the CLI shows). */
export interface CommandJson {
  readonly id: string;
  readonly status: string;
  readonly type: string;
  readonly customStatus?: string | null;
  readonly error?: string | null;
  readonly responsePayload?: unknown;
  readonly [key: string]: unknown;
}
