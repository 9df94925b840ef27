import { isFinal } from './policy.js';
import type { Status } from './status.js';

/**
 * A command batch (DESIGN 9): one command made for many devices at once.
 * The batch itself holds no status: its commands each live their own
 * lifecycle, and `counts` is read from them whenever the batch is read.
 */
export interface BatchRecord {
  readonly id: string;
  readonly userId: string;
  /** commands the batch made (one per device) */
  readonly total: number;
  readonly createdAt: number;
  /** how many of its commands are in each status now (statuses with none are absent) */
  readonly counts: Readonly<Partial<Record<Status, number>>>;
}

/** every command of the batch is final */
export function isBatchDone(batch: Pick<BatchRecord, 'total' | 'counts'>): boolean {
  return finalCount(batch.counts) >= batch.total;
}

/** how many of the counted commands are final */
export function finalCount(counts: BatchRecord['counts']): number {
  let n = 0;
  for (const [status, count] of Object.entries(counts) as [Status, number][]) if (isFinal(status)) n += count;
  return n;
}

/** counts from rows of (status, n) */
export function countsFromRows(rows: readonly { readonly status: Status; readonly n: number }[]): Partial<Record<Status, number>> {
  const counts: Partial<Record<Status, number>> = {};
  for (const row of rows) counts[row.status] = row.n;
  return counts;
}
