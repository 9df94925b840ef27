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

const byLowerCase = new Map(STATUSES.map((s) => [s.toLowerCase(), s] as const));

/** Parses a status name case-insensitively (OData filters are written by hand). */
export function parseStatus(text: string): Status | undefined {
  return byLowerCase.get(text.toLowerCase());
}
