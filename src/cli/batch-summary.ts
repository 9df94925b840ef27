import { isFinal } from '../domain/policy.js';
import { parseStatus } from '../domain/status.js';
import { CANCELED, SUCCEEDED } from './outcomes.js';

/** A command batch as the API returns it (DESIGN 9). */
export interface BatchJson {
  readonly id: string;
  readonly createdDateTime: string;
  readonly total: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly done: boolean;
}

/**
 * How the CLI sums up a batch: its commands grouped the way an operator
 * reads a rollout (read from the domain's policy, not a list of names):
 * completed, failed (any other final status but a cancel), canceled, and
 * waiting (not final yet).
 */
export function batchGroups(batch: Pick<BatchJson, 'counts'>): { completed: number; failed: number; canceled: number; waiting: number } {
  const groups = { completed: 0, failed: 0, canceled: 0, waiting: 0 };
  for (const [name, n] of Object.entries(batch.counts)) {
    const status = parseStatus(name);
    if (name === SUCCEEDED) groups.completed += n;
    else if (name === CANCELED) groups.canceled += n;
    else if (status !== undefined && isFinal(status)) groups.failed += n;
    else groups.waiting += n;
  }
  return groups;
}

/** `120 devices: 97 completed, 3 failed, 20 waiting` (completed always; the other groups when not empty) */
export function summaryLine(batch: Pick<BatchJson, 'counts' | 'total'>): string {
  const groups = batchGroups(batch);
  const parts = [`${groups.completed} completed`];
  for (const name of ['failed', 'canceled', 'waiting'] as const) if (groups[name] > 0) parts.push(`${groups[name]} ${name}`);
  return `${batch.total} ${batch.total === 1 ? 'device' : 'devices'}: ${parts.join(', ')}`;
}

/** A bar of `width` cells: finished commands filled (`#`), the rest open (`.`). */
export function progressBar(batch: Pick<BatchJson, 'counts' | 'total'>, width = 30): string {
  const { waiting } = batchGroups(batch);
  const finished = batch.total === 0 ? 1 : (batch.total - waiting) / batch.total;
  const filled = Math.round(finished * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(finished * 100)).padStart(3)}%`;
}
