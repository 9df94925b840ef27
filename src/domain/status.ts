/** The 14 command statuses of the seed's actionStatus list, in the seed's order. */
export const STATUSES = [
  'requesting',
  'sentToTarget',
  'executing',
  'completed',
  'failedToSend',
  'executionFailed',
  'commandDropped',
  'cancel',
  'cancelling',
  'canceled',
  'retry',
  'expired',
  'error',
  'custom',
] as const;

export type Status = (typeof STATUSES)[number];

/** DESIGN 3: a final status never changes. */
export const FINAL_STATUSES = [
  'completed',
  'failedToSend',
  'executionFailed',
  'commandDropped',
  'canceled',
  'expired',
  'error',
] as const satisfies readonly Status[];

export type FinalStatus = (typeof FINAL_STATUSES)[number];

const finalSet: ReadonlySet<Status> = new Set(FINAL_STATUSES);

export function isFinal(status: Status): boolean {
  return finalSet.has(status);
}

const byLowerCase = new Map(STATUSES.map((s) => [s.toLowerCase(), s] as const));

/** Parses a status name case-insensitively (OData filters are written by hand). */
export function parseStatus(text: string): Status | undefined {
  return byLowerCase.get(text.toLowerCase());
}
